"""The pytest plugin's fixtures, settings and marker handling (`sandbox.pytest_plugin` registers this
module in `pytest_configure`, when pytest is already imported: the plugin module itself stays free).

See `sandbox.pytest_plugin` and `docs/pytest.md` for what the fixtures give and how to configure them.
Everything heavy (the snapshot, the app, uvicorn, httpx) is imported inside the fixtures, on first use.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sandbox.rules.profiles import PROFILES

if TYPE_CHECKING:
    import httpx

    from sandbox import Case, SandboxApp, Snapshot

MARKER = "sandbox"
FIXTURE_NAMES = ("sandbox_server", "sandbox_app", "sandbox_token")
_MARKER_KEYWORDS = frozenset({"fixtures", "match", "today", "profile"})
_CLIENT_TIMEOUT_S = 10.0


# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    """What one sandbox serves: hashable, so that each distinct one is built once per session."""

    fixtures: Path
    match: str = "documented"  # a `sandbox.matching.MatchMode` value
    today: datetime.date | None = None
    profile: str = "staging"  # staging | production

    @property
    def id(self) -> str:
        """`sandbox:<repository folder, or embedded>:<match>[:<today>]`, the test id suffix of marked tests."""
        from sandbox import default_fixtures

        embedded = self.fixtures.resolve() == default_fixtures().resolve()
        parts = ["embedded" if embedded else self.fixtures.name or str(self.fixtures), self.match]
        if self.today is not None:
            parts.append(self.today.isoformat())
        if self.profile != "staging":
            parts.append(self.profile)
        return "sandbox:" + ":".join(parts)


MATCH_MODES = ("documented", "staging")


def _profile(value: Any, where: str) -> str:
    text = str(value)
    if text not in PROFILES:
        raise pytest.UsageError(f"{where}: profile must be one of {', '.join(PROFILES)}, not {value!r}")
    return text


def _match(value: Any, where: str) -> str:
    text = str(getattr(value, "value", value))
    if text not in MATCH_MODES:
        raise pytest.UsageError(f"{where}: match must be one of {', '.join(MATCH_MODES)}, not {value!r}")
    return text


def _today(value: Any, where: str) -> datetime.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise pytest.UsageError(f"{where}: today must be a date (YYYY-MM-DD), not {value!r}") from None


def default_settings(config: pytest.Config) -> SandboxSettings:
    """The settings of the ini options (`sandbox_fixtures`, `sandbox_match`, `sandbox_today`)."""
    from sandbox import default_fixtures

    raw = str(config.getini("sandbox_fixtures") or "").strip()
    if raw:
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        fixtures = (base / raw).resolve()
    else:
        fixtures = default_fixtures()
    return SandboxSettings(
        fixtures=fixtures,
        match=_match(config.getini("sandbox_match") or "documented", "sandbox_match"),
        today=_today(config.getini("sandbox_today"), "sandbox_today"),
        profile=_profile(config.getini("sandbox_profile") or "staging", "sandbox_profile"),
    )


def marker_settings(config: pytest.Config, marker: pytest.Mark | None) -> SandboxSettings:
    """The ini settings, overridden by a `@pytest.mark.sandbox(...)` marker's keywords."""
    settings = default_settings(config)
    if marker is None:
        return settings
    where = f"@pytest.mark.{MARKER}"
    unknown = sorted(set(marker.kwargs) - _MARKER_KEYWORDS)
    if marker.args or unknown:
        raise pytest.UsageError(
            f"{where}: takes only the keywords {sorted(_MARKER_KEYWORDS)}, got {unknown or marker.args}"
        )
    fixtures = settings.fixtures
    if marker.kwargs.get("fixtures") is not None:
        fixtures = (config.rootpath / Path(marker.kwargs["fixtures"])).resolve()
    match = _match(marker.kwargs["match"], where) if marker.kwargs.get("match") is not None else settings.match
    today = _today(marker.kwargs["today"], where) if "today" in marker.kwargs else settings.today
    profile = _profile(marker.kwargs["profile"], where) if "profile" in marker.kwargs else settings.profile
    return SandboxSettings(fixtures, match, today, profile)


# ---------------------------------------------------------------------------
# What the fixtures give
# ---------------------------------------------------------------------------


class SandboxAuth:
    """httpx `auth=`: sends the token as each API expects it, `X-Api-Key` on `/api/…` (Particulier v2)
    and `Authorization: Bearer` elsewhere. A request that already carries either header is left alone."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: httpx.Request) -> httpx.Request:
        if "authorization" not in request.headers and "x-api-key" not in request.headers:
            if request.url.path.startswith("/api/"):
                request.headers["X-Api-Key"] = self.token
            else:
                request.headers["Authorization"] = f"Bearer {self.token}"
        return request


@dataclass(slots=True)
class SandboxServer:
    """A sandbox served over HTTP on a free loopback port for the whole session."""

    settings: SandboxSettings
    snapshot: Snapshot
    base_url: str
    token: str

    def client(self, **kwargs: Any) -> httpx.Client:
        """An `httpx.Client` on `base_url` that sends `token` (close it, or use it in a `with`)."""
        import httpx

        kwargs.setdefault("timeout", _CLIENT_TIMEOUT_S)
        kwargs.setdefault("auth", SandboxAuth(self.token))
        return httpx.Client(base_url=self.base_url, **kwargs)

    def async_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """The same as an `httpx.AsyncClient` (`async with sandbox_server.async_client() as client:`)."""
        import httpx

        kwargs.setdefault("timeout", _CLIENT_TIMEOUT_S)
        kwargs.setdefault("auth", SandboxAuth(self.token))
        return httpx.AsyncClient(base_url=self.base_url, **kwargs)

    def token_with(self, *scopes: str) -> str:
        """A token holding only these scopes (a habilitation), signed with the configured secret: with the
        production profile, the answers keep only what they allow."""
        from sandbox import configured_secrets, mint

        return mint(configured_secrets()[0], scopes)

    def cases(self, operation_id: str, status: int | None = None) -> list[Case]:
        """The documented cases of an operation (optionally of one status): pick one instead of
        hard-coding identifiers."""
        table = self.snapshot.tables.get(operation_id)
        if table is None:
            raise KeyError(f"no operation {operation_id} in {self.snapshot.root}")
        return [case for case in table.cases if status is None or case.status == status]


@dataclass(slots=True)
class _Pool:
    """Snapshots and servers of one test session, by settings; everything stops at its end."""

    snapshots: dict[SandboxSettings, Snapshot] = field(default_factory=dict)
    servers: dict[SandboxSettings, SandboxServer] = field(default_factory=dict)
    apps: dict[SandboxSettings, SandboxApp] = field(default_factory=dict)
    # one token per settings for the session: a minted one carries the second it was made (`iat`)
    tokens: dict[SandboxSettings, str] = field(default_factory=dict)
    exits: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def snapshot(self, settings: SandboxSettings) -> Snapshot:
        if settings not in self.snapshots:
            self.snapshots[settings] = _build(settings)
        return self.snapshots[settings]

    def app(self, settings: SandboxSettings) -> SandboxApp:
        if settings not in self.apps:
            from sandbox import Scenarios, Services, create_app

            # rate limits off (limiter=None): a test suite must never meet a 429 it did not ask for
            services = Services(limiter=None, fixed_today=settings.today, scenarios=Scenarios(profile=settings.profile))
            self.apps[settings] = create_app(self.snapshot(settings), services)
        return self.apps[settings]

    def server(self, settings: SandboxSettings) -> SandboxServer:
        if settings not in self.servers:
            from sandbox import serve_in_thread

            base_url = self.exits.enter_context(serve_in_thread(self.app(settings)))
            self.servers[settings] = SandboxServer(settings, self.snapshot(settings), base_url, self.token(settings))
        return self.servers[settings]

    def token(self, settings: SandboxSettings) -> str:
        if settings not in self.tokens:
            self.tokens[settings] = token_for(self.snapshot(settings))
        return self.tokens[settings]


def _build(settings: SandboxSettings) -> Snapshot:
    from sandbox import MatchMode, build_snapshot, configured_secrets

    if not (settings.fixtures / "payloads").is_dir():
        pytest.fail(f"sandbox: {settings.fixtures} is not a fixture repository (no payloads/ folder)", pytrace=False)
    from sandbox.load.parse_cache import ParseCache
    from sandbox.load.sources import default_cache_dir

    # the OpenAPI documents and the cases parsed once, on disk, as `sandbox serve` keeps them: a session starts
    # without parsing them
    cache = ParseCache(default_cache_dir())
    snapshot = build_snapshot(settings.fixtures, MatchMode(settings.match), secrets=configured_secrets(), cache=cache)
    cache.save()
    if not snapshot.operations:
        pytest.fail(
            f"sandbox: no operation in {settings.fixtures} (no OpenAPI document with x-operationId)", pytrace=False
        )
    return snapshot


def token_for(snapshot: Snapshot) -> str:
    """The token the sandbox hands out: the repository's `tokens/default`, or a token signed with the
    configured secret that holds every scope of the repository's authorisations file."""
    from sandbox.load.handed_token import handed_token

    return handed_token(snapshot).value


# ---------------------------------------------------------------------------
# Hooks
# ---------------------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A marked test gets its own (session-wide) sandbox: the fixtures are parametrized with its settings."""
    used = [name for name in FIXTURE_NAMES if name in metafunc.fixturenames]
    marker = metafunc.definition.get_closest_marker(MARKER)
    if not used or marker is None:
        return
    settings = marker_settings(metafunc.config, marker)
    metafunc.parametrize(used, [tuple(settings for _ in used)], indirect=True, scope="session", ids=[settings.id])


def _settings(request: pytest.FixtureRequest) -> SandboxSettings:
    param = getattr(request, "param", None)
    return param if isinstance(param, SandboxSettings) else default_settings(request.config)


@pytest.fixture(scope="session")
def _sandbox_pool() -> Iterator[_Pool]:
    pool = _Pool()
    with pool.exits:
        yield pool


@pytest.fixture(scope="session")
def sandbox_server(request: pytest.FixtureRequest, _sandbox_pool: _Pool) -> SandboxServer:
    """The sandbox over HTTP: `.base_url`, `.token`, `.client()`, `.snapshot`, `.cases(operation_id)`."""
    return _sandbox_pool.server(_settings(request))


@pytest.fixture(scope="session")
def sandbox_app(request: pytest.FixtureRequest, _sandbox_pool: _Pool) -> SandboxApp:
    """The sandbox's ASGI application, for `httpx.ASGITransport(app=sandbox_app)`."""
    return _sandbox_pool.app(_settings(request))


@pytest.fixture(scope="session")
def sandbox_prefer() -> Callable[..., dict[str, str]]:
    """`sandbox_prefer(case=..., code=..., delay=..., fault=...)`: the `Prefer` header asking for them."""
    from sandbox import prefer_header

    return prefer_header


@pytest.fixture(scope="session")
def sandbox_token(request: pytest.FixtureRequest, _sandbox_pool: _Pool) -> str:
    """The token `sandbox_server` and `sandbox_app` accept (tokens/default, or minted with every scope)."""
    return _sandbox_pool.token(_settings(request))
