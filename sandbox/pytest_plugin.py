"""pytest plugin: the sandbox inside an integrator's test suite, offline (`docs/pytest.md`).

Fixtures (all session-scoped: one snapshot and one server per configuration, shared by
every test that asks for them):

* `sandbox_server`: a real HTTP server (uvicorn, free loopback port, rate limits off);
  an object with `.base_url`, `.token`, `.client()` (an `httpx.Client` that sends the
  token the way each API expects it), `.snapshot` and `.cases(operation_id)`.
* `sandbox_app`: the ASGI application itself, for in-process tests through
  `httpx.ASGITransport` (no socket, no thread).
* `sandbox_token`: the token both of them accept.
* `sandbox_prefer`: builds the `Prefer` header that asks for a case, a status, a delay or a
  fault: `headers=sandbox_prefer(code=502)`, `sandbox_prefer(case="404.yaml", delay=2000)`,
  `sandbox_prefer(fault="timeout")` (docs/scenarios.md).

Configuration, in `pytest.ini` / `pyproject.toml` (`[tool.pytest.ini_options]`):

* `sandbox_fixtures`: the fixture repository (a path relative to the ini file);
  default: the repository embedded in the `sandbox` package;
* `sandbox_match`: `documented` (default) or `staging`;
* `sandbox_today`: `YYYY-MM-DD`, the date validation rules count from (default: today);
* `sandbox_profile`: `staging` (default, payloads whole) or `production` (a 200 answer keeps only
  what the token's scopes allow; `sandbox_server.token_with(...)` mints a token of some scopes).

A test, class or module marked `@pytest.mark.sandbox(fixtures=..., match=..., today=..., profile=...)`
gets a sandbox with those settings instead (relative paths are relative to the rootdir).

The plugin is registered by the package's `pytest11` entry point, so every pytest run of an
environment where the sandbox is installed imports this module: it imports nothing at all (not
even `typing`). The fixtures live in `sandbox.pytest_fixtures`, registered in `pytest_configure`
(pytest is loaded by then), and they import the sandbox itself only when a test asks for one.
From a source checkout without the entry point, call `ensure_registered(config)` from a
conftest's `pytest_configure`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` is not imported: this module is imported by every pytest run
if TYPE_CHECKING:
    import pytest

    from sandbox.pytest_fixtures import MARKER as MARKER
    from sandbox.pytest_fixtures import SandboxAuth as SandboxAuth
    from sandbox.pytest_fixtures import SandboxServer as SandboxServer
    from sandbox.pytest_fixtures import SandboxSettings as SandboxSettings
    from sandbox.pytest_fixtures import default_settings as default_settings
    from sandbox.pytest_fixtures import marker_settings as marker_settings
    from sandbox.pytest_fixtures import token_for as token_for

FIXTURES_MODULE = "sandbox.pytest_fixtures"
# Names that used to be defined here, still importable from here (`from sandbox.pytest_plugin import SandboxServer`).
_FROM_FIXTURES = frozenset(
    {"MARKER", "SandboxServer", "SandboxSettings", "SandboxAuth", "default_settings", "marker_settings", "token_for"}
)


def __getattr__(name: str) -> object:
    if name in _FROM_FIXTURES:
        import importlib

        return getattr(importlib.import_module(FIXTURES_MODULE), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def ensure_registered(config: pytest.Config) -> None:
    """Register this plugin on `config` unless it already is (entry point, `-p`); for conftests
    of source checkouts where the package's entry point is not installed."""
    import sys

    module = sys.modules[__name__]
    if not config.pluginmanager.is_registered(module):
        config.pluginmanager.register(module, __name__)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "sandbox_fixtures",
        "sandbox: fixture repository served by sandbox_server and sandbox_app, relative to the ini file "
        "(default: the repository embedded in the sandbox package)",
        default="",
    )
    parser.addini("sandbox_match", "sandbox: match mode, documented (default) or staging", default="documented")
    parser.addini("sandbox_today", "sandbox: date validation rules count from, YYYY-MM-DD (default: today)", default="")
    parser.addini("sandbox_profile", "sandbox: profile, staging (default) or production", default="staging")


def pytest_configure(config: pytest.Config) -> None:
    """The marker, and the fixtures' module (imported now: pytest, dataclasses and pathlib are loaded)."""
    import importlib

    fixtures = importlib.import_module(FIXTURES_MODULE)
    config.addinivalue_line(
        "markers",
        f"{fixtures.MARKER}(fixtures=None, match=None, today=None, profile=None): serve this test's sandbox_server, "
        "sandbox_app and sandbox_token from another fixture repository, match mode, date or profile (default: "
        "the sandbox_* ini options)",
    )
    if not config.pluginmanager.is_registered(fixtures):
        config.pluginmanager.register(fixtures, FIXTURES_MODULE)
