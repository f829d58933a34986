"""Answers that are not cases: the gates' refusals, in each API's own format and content type.

Which format a refusal takes follows the real staging (spec §2.5, §3.1, §3.6): json_api on
v3+, the v2 organizer format or the flat format on Particulier v2. Its content type and
cache headers follow where the refusal comes in the controller (§11.5, §11.6):

* before `Cacheable` (token, scope, tracking, FranceConnect, v2 recipient): no
  `X-Response-Cached`; after it (version, v3 recipient, validation, maintenance): the same
  `X-Response-Cached: false` and empty `X-Cache-Expires-in` as a served case;
* `render json:` gives `application/json; charset=utf-8`, `render content_type:` on a
  response without one adds the charset too, and a v3 controller that already wrote
  `application/vnd.api+json` (validation, maintenance) keeps it bare.

A token refusal also says why, in `X-Sandbox-Auth: <reason>; <hint>` (the sandbox's own
header: the body stays the staging's).
"""

from __future__ import annotations

from collections.abc import Sequence

from sandbox.load.snapshot import Prepared
from sandbox.rules import errors, rendering
from sandbox.rules.errors import ApiError
from sandbox.rules.gone import GoneRoute
from sandbox.rules.operations import Api, Operation
from sandbox.rules.tokens import Refusal
from sandbox.serve.ratelimit import too_many_requests_body


def reply(
    status: int, body: bytes, content_type: str | None, outcome: str, extra: Sequence[tuple[str, str]] = ()
) -> Prepared:
    pairs = [("Content-Type", content_type)] if content_type else []
    pairs += [*extra, ("X-Sandbox-Case", "none"), ("X-Sandbox-Outcome", outcome)]
    return Prepared(status, rendering.headers(*pairs), body, None, outcome)


def json_api(
    status: int,
    problems: Sequence[ApiError],
    outcome: str,
    content_type: str,
    *,
    cached: bool = False,
    extra: Sequence[tuple[str, str]] = (),
) -> Prepared:
    if cached:
        extra = (*rendering.CACHE_HEADERS, *extra)
    return reply(status, errors.json_api_body(problems), content_type, outcome, extra)


def _why(refusal: Refusal | None) -> tuple[tuple[str, str], ...]:
    return (("X-Sandbox-Auth", refusal.header),) if refusal is not None else ()


def invalid_token(api: Api, v2: bool, refusal: Refusal | None = None) -> Prepared:
    error = errors.invalid_token()
    if v2:
        body = errors.v2_body("access_denied", error.detail)
        return reply(401, body, rendering.JSON, "auth-error", _why(refusal))
    return json_api(401, [error], "auth-error", rendering.JSON, extra=_why(refusal))


def expired_token(api: Api, v2: bool, refusal: Refusal | None = None) -> Prepared:
    if v2:
        body = errors.flat_body([errors.expired_token("particulier").detail])
        return reply(401, body, rendering.JSON, "auth-error", _why(refusal))
    return json_api(401, [errors.expired_token(api)], "auth-error", rendering.JSON, extra=_why(refusal))


def insufficient_scopes(api: Api, v2: bool, refusal: Refusal | None = None) -> Prepared:
    if v2:
        detail = errors.insufficient_scopes("particulier").detail
        return reply(401, errors.v2_body("access_denied", detail), rendering.JSON, "auth-error", _why(refusal))
    return json_api(403, [errors.insufficient_scopes(api)], "auth-error", rendering.JSON, extra=_why(refusal))


def france_connect_refused(operation: Operation, error: ApiError, refusal: Refusal | None = None) -> Prepared:
    """The FranceConnect flow runs in place of authentication: `render content_type:`, charset added."""
    if operation.is_v2:
        body = errors.v2_body("access_denied", error.detail)
        return reply(401, body, rendering.JSON, "auth-error", _why(refusal))
    return json_api(401, [error], "auth-error", rendering.JSON_API, extra=_why(refusal))


def bad_request(v2: bool, message: str) -> Prepared:
    """Rails cannot read the request (§3.6): 400 `00401`, json_api, flat on Particulier v2."""
    error = errors.bad_request(message)
    body = errors.flat_body([error.detail]) if v2 else errors.json_api_body([error])
    return reply(400, body, rendering.JSON, "bad-request")


def unsupported_version(version: str) -> Prepared:
    error = errors.unsupported_version(version)
    return json_api(404, [error], "unsupported-version", rendering.JSON_API, cached=True)


def tracking_missing(problems: Sequence[ApiError]) -> Prepared:
    return json_api(422, problems, "validation-error", rendering.JSON)


def bad_recipient(operation: Operation, error: ApiError, *, after_cacheable: bool = False) -> Prepared:
    """v2 checks a sent recipient before `Cacheable` runs; the FranceConnect flow's missing one is
    refused after it (`after_cacheable`)."""
    if operation.is_v2:
        extra = rendering.CACHE_HEADERS if after_cacheable else ()
        return reply(400, errors.v2_body("bad_request", error.detail), rendering.JSON, "validation-error", extra)
    return json_api(422, [error], "validation-error", rendering.JSON, cached=True)


def invalid_parameters(operation: Operation, problems: Sequence[ApiError]) -> Prepared:
    """v3+ lists every error of the validator group; v2 answers the first one only, as 400."""
    if operation.is_v2:
        body = errors.v2_body("bad_request", problems[0].detail)
        return reply(400, body, rendering.JSON, "validation-error", rendering.CACHE_HEADERS)
    return json_api(422, problems, "validation-error", rendering.JSON_API_BARE, cached=True)


def in_maintenance(operation: Operation, error: ApiError) -> Prepared:
    if operation.is_v2:
        body = errors.v2_body("maintenance", error.detail)
        return reply(503, body, rendering.JSON, "maintenance", rendering.CACHE_HEADERS)
    return json_api(503, [error], "maintenance", rendering.JSON_API_BARE, cached=True)


def too_many_requests(path: str) -> Prepared:
    return reply(429, too_many_requests_body("/api/v2/" in path), rendering.JSON_BARE, "rate-limited")


def unknown_path(api: Api) -> Prepared:
    return reply(404, errors.unknown_path_text(api), rendering.TEXT, "unknown-path")


def gone(route: GoneRoute) -> Prepared:
    return reply(410, route.text.encode(), route.content_type, "gone")
