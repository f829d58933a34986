"""Staging sandbox for API Particulier and API Entreprise, served from a fixture repository.

The public Python API: what the examples, the scripts and the pytest plugin use. Every
other module is internal and may move. Names are imported on first use (PEP 562), so
`import sandbox` (and the pytest plugin that pytest loads in every run) stays cheap.

    from sandbox import build_snapshot, create_app, serve_in_thread
    snapshot = build_snapshot("path/to/siade_staging_data")
    with serve_in_thread(create_app(snapshot)) as base_url:
        ...
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not `from typing import …`: the pytest plugin imports this package in every pytest run

__version__ = "0.1.0"

# public name → the module that defines it
_EXPORTS = {
    "MatchMode": "sandbox.rules.matching",
    "mint": "sandbox.rules.tokens",
    "configured_secrets": "sandbox.rules.tokens",
    "Case": "sandbox.load.repository",
    "Snapshot": "sandbox.load.snapshot",
    "build_snapshot": "sandbox.load.snapshot",
    "default_fixtures": "sandbox.load.embedded",
    "SandboxApp": "sandbox.serve.app",
    "Services": "sandbox.serve.pipeline",
    "Scenarios": "sandbox.serve.scenarios",
    "prefer_header": "sandbox.serve.prefer_header",
    "ResponseValidators": "sandbox.serve.response_validation",
    "serve_in_thread": "sandbox.serve.local_server",
    "case_request": "sandbox.tools.reaching",
    "lint_repository": "sandbox.tools.lint",
    "run_contract": "sandbox.tools.contract",
    "create_app": "sandbox.web",
    "ServeConfig": "sandbox.cli.serve_config",
    "make_syncer": "sandbox.cli.assembly",
}

__all__ = [
    "Case",
    "MatchMode",
    "ResponseValidators",
    "SandboxApp",
    "Scenarios",
    "ServeConfig",
    "Services",
    "Snapshot",
    "__version__",
    "build_snapshot",
    "case_request",
    "configured_secrets",
    "create_app",
    "default_fixtures",
    "lint_repository",
    "make_syncer",
    "mint",
    "prefer_header",
    "run_contract",
    "serve_in_thread",
]

if TYPE_CHECKING:
    from typing import Any

    from sandbox.cli.assembly import make_syncer
    from sandbox.cli.serve_config import ServeConfig
    from sandbox.load.embedded import default_fixtures
    from sandbox.load.repository import Case
    from sandbox.load.snapshot import Snapshot, build_snapshot
    from sandbox.rules.matching import MatchMode
    from sandbox.rules.tokens import configured_secrets, mint
    from sandbox.serve.app import SandboxApp
    from sandbox.serve.local_server import serve_in_thread
    from sandbox.serve.pipeline import Services
    from sandbox.serve.prefer_header import prefer_header
    from sandbox.serve.response_validation import ResponseValidators
    from sandbox.serve.scenarios import Scenarios
    from sandbox.tools.contract import run_contract
    from sandbox.tools.lint import lint_repository
    from sandbox.tools.reaching import case_request
    from sandbox.web import create_app


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
