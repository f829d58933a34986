"""docs/fidelity.md rows about reading a fixture repository (see `test_fidelity_table.py`).

Each test writes a real repository in a temp dir, builds the snapshot, and asks a real uvicorn
on loopback what it serves, in both match modes where the row is about answers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from sandbox.load.repository_files import FileLimits
from sandbox.load.snapshot import build_snapshot
from sandbox.rules.matching import MatchMode
from sandbox.tools.lint import lint_repository
from tests import tiny_repository
from tests.fidelity_support import MODES, SECRET, bearer, served

FOLDER = "api_entreprise_v3_demo_unites_legales"
TRACKING = "recipient=13002526500013&context=test&object=test"


def _problems(root: Path, mode: MatchMode = MatchMode.DOCUMENTED, limits: FileLimits | None = None) -> list[str]:
    return [str(problem) for problem in build_snapshot(root, mode, secrets=[SECRET], limits=limits).report.problems]


def _case_text(siren: str, payload: str = '{"data": {"ok": true}}') -> str:
    return yaml.safe_dump({"description": "cas", "params": {"siren": siren}, "status": 200, "payload": payload})


@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
def test_load_errors_reject_the_file_not_the_operation(mode: MatchMode, tmp_path: Path) -> None:
    """Fidelity row: Load errors."""
    root = tiny_repository.build(tmp_path)
    folder = root / "payloads" / FOLDER
    (folder / "sans-params.yaml").write_text(yaml.safe_dump({"description": "x", "status": 200, "payload": "{}"}))
    (folder / "pas-json.yaml").write_text(_case_text("552049447", payload="{pas du json"))
    problems = _problems(root, mode)
    assert any("sans-params.yaml" in p for p in problems) and any("pas-json.yaml" in p for p in problems)
    with served(mode, root) as http:
        response = http.get(f"/v3/demo/unites_legales/130025265?{TRACKING}", headers=bearer())
    assert response.status_code == 200 and response.headers["x-sandbox-case"] == f"{FOLDER}/200.yaml"


@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
def test_duplicate_keys_in_a_folder(mode: MatchMode, tmp_path: Path) -> None:
    """Fidelity row: Duplicate keys in a folder."""
    root = tiny_repository.build(tmp_path)
    (root / "payloads" / FOLDER / "zz-meme-siren.yaml").write_text(_case_text("130025265", '{"data": "later"}'))
    problems = _problems(root, mode)
    assert any("zz-meme-siren.yaml" in p and "same lookup key as 200.yaml" in p for p in problems), problems
    with served(mode, root) as http:
        response = http.get(f"/v3/demo/unites_legales/130025265?{TRACKING}", headers=bearer())
    assert response.json() == {"data": "later"}


def test_unreachable_case_files_are_named_by_the_lint(tmp_path: Path) -> None:
    """Fidelity row: Unreachable case files in the public corpora. A case documenting a parameter the
    operation does not read is unreachable on the real staging: the staging mode does not serve it
    either, the lint names it."""
    root = tiny_repository.build(tmp_path)
    case = {"description": "x", "params": {"siren": "552049447", "inconnu": "1"}, "status": 200, "payload": "{}"}
    (root / "payloads" / FOLDER / "inatteignable.yaml").write_text(yaml.safe_dump(case))
    report = lint_repository(root, mode=MatchMode.STAGING)
    assert any(f.rule == "unreachable" and f.file.endswith("inatteignable.yaml") for f in report.findings)
    with served(MatchMode.STAGING, root) as http:
        response = http.get(f"/v3/demo/unites_legales/552049447?{TRACKING}&inconnu=1", headers=bearer())
    assert response.headers["x-sandbox-case"] == "default"


@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
def test_symbolic_links_leading_outside_are_refused(mode: MatchMode, tmp_path: Path) -> None:
    """Fidelity row: Symbolic links in the fixture repository."""
    root = tiny_repository.build(tmp_path / "fixtures")
    outside = tmp_path / "outside.yaml"
    outside.write_text(_case_text("552049447", '{"secret": "of the host"}'))
    os.symlink(outside, root / "payloads" / FOLDER / "lien.yaml")
    os.symlink(root / "payloads" / FOLDER / "200.yaml", root / "payloads" / FOLDER / "lien-interne.yaml")
    problems = _problems(root, mode)
    assert any("lien.yaml" in p for p in problems)
    assert not any("lien-interne.yaml" in p and "outside" in p for p in problems)
    with served(mode, root) as http:
        response = http.get(f"/v3/demo/unites_legales/552049447?{TRACKING}", headers=bearer())
    assert b"of the host" not in response.content


def test_file_sizes_aliases_and_nesting_are_bounded(tmp_path: Path) -> None:
    """Fidelity row: File sizes, YAML aliases, nesting."""
    root = tiny_repository.build(tmp_path)
    folder = root / "payloads" / FOLDER
    (folder / "gros.yaml").write_text(_case_text("552049447", '{"data": "' + "x" * 4000 + '"}'))
    (folder / "alias.yaml").write_text(
        "a: &a [1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b]\n"
        "params: {siren: '356000000'}\nstatus: 200\npayload: '{}'\n"
    )
    (folder / "profond.yaml").write_text(_case_text("732829320", "[" * 30 + "]" * 30))
    problems = _problems(root, limits=FileLimits(case_bytes=2000, alias_nodes=50, nesting=20))
    for name in ("gros.yaml", "alias.yaml", "profond.yaml"):
        assert any(name in p for p in problems), (name, problems)
    assert _problems(root) == []  # the default limits take all three


def test_a_key_written_twice_is_named(tmp_path: Path) -> None:
    """Fidelity row: A key written twice in one YAML mapping."""
    root = tiny_repository.build(tmp_path)
    (root / "payloads" / FOLDER / "double.yaml").write_text(
        "params: {siren: '552049447'}\nstatus: 404\nstatus: 200\npayload: '{\"data\": \"second\"}'\n"
    )
    problems = _problems(root)
    assert any("double.yaml" in p and "status" in p for p in problems), problems
    snapshot = build_snapshot(root, secrets=[SECRET])
    case = next(c for c in snapshot.tables[FOLDER].cases if c.file == "double.yaml")
    assert case.status == 200


def test_a_case_file_name_with_a_control_character_is_refused(tmp_path: Path) -> None:
    """Fidelity row: A case file name with a control character (newline…)."""
    root = tiny_repository.build(tmp_path)
    (root / "payloads" / FOLDER / "ligne\nsuivante.yaml").write_text(_case_text("552049447"))
    problems = _problems(root)
    assert any("control character" in p or "%0A" in p or "\\n" in p for p in problems), problems
    snapshot = build_snapshot(root, secrets=[SECRET])
    assert all("\n" not in case.file for case in snapshot.tables[FOLDER].cases)
