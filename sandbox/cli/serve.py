"""Assembling a sandbox process: sources, sync, services, the app; and running it with uvicorn.

`ServeConfig` is everything `sandbox serve` was told. With `--workers N` each worker
process assembles its own app from the same configuration (passed in the environment);
the workers share the cache folder, where one of them (the leader) fetches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import logging
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from sandbox.load.repository import ParseCache
from sandbox.load.repository_files import (
    DEFAULT_MAX_ALIAS_NODES,
    DEFAULT_MAX_CASE_BYTES,
    DEFAULT_MAX_DOCUMENT_BYTES,
    DEFAULT_MAX_NESTING,
    FileLimits,
)
from sandbox.load.snapshot import Snapshot, build_snapshot
from sandbox.load.sources import LeaderLock, default_cache_dir, make_source
from sandbox.load.sync import Syncer
from sandbox.rules.matching import MatchMode
from sandbox.rules.tokens import configured_secrets
from sandbox.serve.access import ADMIN_TOKEN_ENVIRONMENT, AdminPolicy, token_problem
from sandbox.serve.app import SandboxApp
from sandbox.serve.journal import redact_text
from sandbox.serve.pipeline import Services
from sandbox.serve.ratelimit import RateLimiter
from sandbox.serve.request_limits import (
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_TOTAL_HEADER_BYTES,
    DEFAULT_MAX_URL_BYTES,
    DEFAULT_MAX_WEBHOOK_BYTES,
    RequestLimits,
)
from sandbox.web import create_app

CONFIG_ENVIRONMENT = "SANDBOX_SERVE_CONFIG"
WEBHOOK_SECRET_ENVIRONMENT = "SANDBOX_WEBHOOK_SECRET"


@dataclass
class ServeConfig:
    fixtures: list[str]
    ref: str | None = None
    cache_dir: str = field(default_factory=lambda: str(default_cache_dir()))
    poll_s: float = 60.0
    match: str = MatchMode.DOCUMENTED.value
    jwt_secrets: list[str] = field(default_factory=list)
    webhook_secret: str | None = None
    rate_limit: bool = True
    rate_limit_key: str = "jti"
    maintenance: bool = False
    france_connect_expiry: bool = False
    check_scopes: bool = True
    today: str | None = None  # YYYY-MM-DD
    watch: bool = True
    validate_responses: bool = False
    journal_size: int = 1000
    max_case_bytes: int = DEFAULT_MAX_CASE_BYTES
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    max_alias_nodes: int = DEFAULT_MAX_ALIAS_NODES
    max_nesting: int = DEFAULT_MAX_NESTING
    host: str = "127.0.0.1"  # the bind address: the admin routes are open on loopback only
    admin_token: str | None = None  # else SANDBOX_ADMIN_TOKEN
    admin_policy: str = "auto"  # auto | open | closed (sandbox.admin.PolicyMode)
    max_url_bytes: int = DEFAULT_MAX_URL_BYTES
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_total_header_bytes: int = DEFAULT_MAX_TOTAL_HEADER_BYTES
    max_webhook_bytes: int = DEFAULT_MAX_WEBHOOK_BYTES

    @property
    def limits(self) -> FileLimits:
        return FileLimits(self.max_case_bytes, self.max_document_bytes, self.max_alias_nodes, self.max_nesting)

    def to_environment(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_environment(cls) -> ServeConfig:
        return cls(**json.loads(os.environ[CONFIG_ENVIRONMENT]))


def make_syncer(config: ServeConfig) -> Syncer:
    cache_dir = Path(config.cache_dir)
    largest = max(config.max_case_bytes, config.max_document_bytes)
    sources = [make_source(location, config.ref, cache_dir, largest) for location in config.fixtures]
    cache = ParseCache(cache_dir)
    mode = MatchMode(config.match)
    secrets = configured_secrets(config.jwt_secrets)

    def build(trees: Sequence[Path], revisions: Sequence[str | None]) -> Snapshot:
        snapshot = build_snapshot(
            list(trees), mode, secrets=secrets, cache=cache, revisions=revisions, limits=config.limits
        )
        cache.keep_only(snapshot.content.digests)
        return snapshot

    leader = LeaderLock(cache_dir) if any(s.kind == "git" for s in sources) else None
    return Syncer(sources, build, poll_s=config.poll_s, leader=leader)


def admin_policy(config: ServeConfig) -> AdminPolicy:
    """Decided once: open on a loopback bind (or `--admin-policy open`), else the admin token is needed.
    Raises ValueError for an unusable token."""
    token = config.admin_token or os.environ.get(ADMIN_TOKEN_ENVIRONMENT) or None
    problem = token_problem(token)
    if problem is not None:
        raise ValueError(problem)
    return AdminPolicy.decide(config.host, token, config.admin_policy)


def assemble(config: ServeConfig, syncer: Syncer | None = None) -> SandboxApp:
    """A ready app: first snapshot built, background sync running."""
    admin = admin_policy(config)
    syncer = syncer or make_syncer(config)
    holder = syncer.holder or syncer.start()
    snapshot = holder.current
    services = Services(
        limiter=RateLimiter() if config.rate_limit else None,  # it counts; each snapshot gives the limits
        rate_limit_key=config.rate_limit_key,
        maintenance=config.maintenance,
        france_connect_expiry=config.france_connect_expiry,
        check_scopes=config.check_scopes,
        fixed_today=datetime.date.fromisoformat(config.today) if config.today else None,
        validate_responses=config.validate_responses,
        journal_size=config.journal_size,
        limits=RequestLimits(
            max_url_bytes=config.max_url_bytes,
            max_header_bytes=config.max_header_bytes,
            max_total_header_bytes=config.max_total_header_bytes,
            max_webhook_bytes=config.max_webhook_bytes,
        ),
    )
    if config.watch:
        syncer.run_in_background()
    secret = config.webhook_secret or os.environ.get(WEBHOOK_SECRET_ENVIRONMENT)
    return create_app(snapshot, services, syncer, secret, admin)


class TokenRedaction(logging.Filter):
    """Keeps token values out of the logs (uvicorn's access log prints query strings)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_text(a) if isinstance(a, str) else a for a in record.args)
        record.msg = redact_text(str(record.msg))
        return True


def redact_logs() -> None:
    for name in ("uvicorn.access", "uvicorn.error", "sandbox", "sandbox.sync"):
        logging.getLogger(name).addFilter(TokenRedaction())


def create_app_from_environment() -> SandboxApp:
    """uvicorn factory for `--workers N`: each worker assembles its own app."""
    logging.basicConfig(level=logging.INFO)
    redact_logs()
    app = assemble(ServeConfig.from_environment())
    if app.syncer is not None:
        stop_sync_on_shutdown(app, app.syncer)
    return app


def stop_sync_on_shutdown(app: SandboxApp, syncer: Syncer) -> None:
    """A worker's poll and watch threads end with its server (ASGI lifespan shutdown), not mid-fetch."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: object) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(syncer.stop)

    own = app.own  # the Starlette app of the own routes receives the lifespan events
    assert isinstance(own, Starlette)
    own.router.lifespan_context = lifespan
