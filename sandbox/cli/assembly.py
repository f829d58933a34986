"""Assembling a sandbox process: sources, sync, services, the app.

Each process (with `--workers N`, each worker) assembles its own app from a `ServeConfig`;
the workers share the cache folder, where one of them (the leader) fetches. The request
path's settings (`Services`, `RequestLimits`) take the fields they share with `ServeConfig`
by name, so that a new option reaches them without being written out again here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from sandbox.cli.logs import TokenRedaction
from sandbox.cli.serve_config import WEBHOOK_SECRET_ENVIRONMENT, ServeConfig
from sandbox.load.parse_cache import ParseCache
from sandbox.load.snapshot import Snapshot, build_snapshot
from sandbox.load.sources import LeaderLock, make_source
from sandbox.load.sync import Syncer
from sandbox.rules.matching import MatchMode
from sandbox.rules.tokens import configured_secrets
from sandbox.serve.access import ADMIN_TOKEN_ENVIRONMENT, AdminPolicy, token_problem
from sandbox.serve.app import SandboxApp
from sandbox.serve.pipeline import Services
from sandbox.serve.ratelimit import RateLimiter
from sandbox.serve.request_limits import RequestLimits
from sandbox.serve.scenarios import Scenarios, parse_latency
from sandbox.web import OwnRoutesApp, create_app

_CONFIG_FIELDS = frozenset(setting.name for setting in dataclasses.fields(ServeConfig))
# The Services fields a ServeConfig field of the same name sets (rate_limit_key, maintenance, ...).
SHARED_WITH_SERVICES = tuple(
    setting.name for setting in dataclasses.fields(Services) if setting.init and setting.name in _CONFIG_FIELDS
)


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
        cache.save()  # the next start reads the parsed cases instead of parsing them
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
    return AdminPolicy.decide(config.host, token, config.admin_policy, metrics_public=config.metrics_public)


def request_limits(config: ServeConfig) -> RequestLimits:
    """Every RequestLimits field is the ServeConfig field of the same name."""
    return RequestLimits(**{limit.name: getattr(config, limit.name) for limit in dataclasses.fields(RequestLimits)})


def scenarios(config: ServeConfig) -> Scenarios:
    """`Prefer`, latency and profile: the options of the "beyond the staging" group."""
    return Scenarios(
        prefer=config.prefer,
        max_delay_s=config.max_delay,
        latency_ms=parse_latency(config.latency) if config.latency else None,
        seed=config.seed,
        profile=config.profile,
    )


def services(config: ServeConfig, snapshot: Snapshot) -> Services:
    """The request path's settings: the fields shared by name, and the four built from other fields."""
    return Services(
        **{name: getattr(config, name) for name in SHARED_WITH_SERVICES},
        limiter=RateLimiter() if config.rate_limit else None,  # it counts; each snapshot gives the limits
        fixed_today=datetime.date.fromisoformat(config.today) if config.today else None,
        limits=request_limits(config),
        scenarios=scenarios(config),
    )


def assemble(config: ServeConfig, syncer: Syncer | None = None) -> SandboxApp:
    """A ready app: first snapshot built, background sync running."""
    admin = admin_policy(config)
    syncer = syncer or make_syncer(config)
    holder = syncer.holder or syncer.start()
    snapshot = holder.current
    settings = services(config, snapshot)
    if config.watch:
        syncer.run_in_background()
    secret = config.webhook_secret or os.environ.get(WEBHOOK_SECRET_ENVIRONMENT)
    return create_app(snapshot, settings, syncer, secret, admin, metrics=config.metrics, access_log=config.access_log)


def redact_logs() -> None:
    """Token values kept out of records logged on these loggers, whatever handler writes them (ours
    redact every line too: `sandbox.cli.logs`)."""
    for name in ("uvicorn.access", "uvicorn.error", "sandbox", "sandbox.sync", "sandbox.access"):
        logging.getLogger(name).addFilter(TokenRedaction())


def stop_sync_on_shutdown(app: SandboxApp, syncer: Syncer) -> None:
    """A worker's poll and watch threads end with its server (ASGI lifespan shutdown), not mid-fetch;
    its last counts are written for the other workers' scrapes."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: object) -> AsyncIterator[None]:
        yield
        if app.metrics is not None:
            app.metrics.flush()  # the last second's counts, before the worker ends
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(syncer.stop)

    from starlette.applications import Starlette

    assert isinstance(app.own, OwnRoutesApp)
    own = app.own.made()  # the Starlette app of the own routes receives the lifespan events
    assert isinstance(own, Starlette)
    own.router.lifespan_context = lifespan
