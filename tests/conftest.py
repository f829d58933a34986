from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"
CORPORA = ("siade_staging_data", "apistration_mocks")


def corpus_path(name: str) -> Path:
    path = SHARED_FIXTURES / name
    if not (path / "payloads").is_dir():
        pytest.skip(f"real fixture corpus not available at {path} (it lives in ../shared/fixtures beside the clone)")
    return path


@pytest.fixture(params=CORPORA)
def corpus(request: pytest.FixtureRequest) -> Path:
    return corpus_path(request.param)


@pytest.fixture
def embedded() -> Path:
    return ROOT
