"""Answers that are not cases: the gates' refusals, in each API's own format and content type.

Which format a refusal takes follows the real staging (spec §2.5, §3.1, §3.6): json_api on
v3+, the v2 organizer format or the flat format on Particulier v2, and a content type that
depends on whether the controller had set the v3 one yet. A token refusal also says why, in
`X-Sandbox-Auth: <reason>; <hint>` (the sandbox's own header: the body stays the staging's).
"""

from __future__ import annotations

from collections.abc import Sequence

from sandbox.load.snapshot import Prepared
from sandbox.rules import errors, rendering
from sandbox.rules.errors import ApiError
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
    *,
    v3_content_type: bool,
    extra: Sequence[tuple[str, str]] = (),
) -> Prepared:
    content_type = rendering.JSON_API if v3_content_type else rendering.JSON
    return reply(status, errors.json_api_body(problems), content_type, outcome, extra)


def _why(refusal: Refusal | None) -> tuple[tuple[str, str], ...]:
    return (("X-Sandbox-Auth", refusal.header),) if refusal is not None else ()


def invalid_token(api: Api, v2: bool, refusal: Refusal | None = None) -> Prepared:
    error = errors.invalid_token()
    if v2:
        body = errors.v2_body("access_denied", error.detail)
        return reply(401, body, rendering.JSON, "auth-error", _why(refusal))
    return json_api(401, [error], "auth-error", v3_content_type=False, extra=_why(refusal))


def expired_token(api: Api, v2: bool, refusal: Refusal | None = None) -> Prepared:
    if v2:
        body = errors.flat_body([errors.expired_token("particulier").detail])
        return reply(401, body, rendering.JSON, "auth-error", _why(refusal))
    return json_api(401, [errors.expired_token(api)], "auth-error", v3_content_type=False, extra=_why(refusal))


def insufficient_scopes(api: Api, v2: bool, refusal: Refusal | None = None) -> Prepared:
    if v2:
        detail = errors.insufficient_scopes("particulier").detail
        return reply(401, errors.v2_body("access_denied", detail), rendering.JSON, "auth-error", _why(refusal))
    return json_api(403, [errors.insufficient_scopes(api)], "auth-error", v3_content_type=False, extra=_why(refusal))


def france_connect_refused(operation: Operation, error: ApiError, refusal: Refusal | None = None) -> Prepared:
    if operation.is_v2:
        body = errors.v2_body("access_denied", error.detail)
        return reply(401, body, rendering.JSON, "auth-error", _why(refusal))
    return json_api(401, [error], "auth-error", v3_content_type=False, extra=_why(refusal))


def unsupported_version(version: str) -> Prepared:
    return json_api(404, [errors.unsupported_version(version)], "unsupported-version", v3_content_type=True)


def tracking_missing(problems: Sequence[ApiError]) -> Prepared:
    return json_api(422, problems, "validation-error", v3_content_type=False)


def bad_recipient(operation: Operation, error: ApiError) -> Prepared:
    if operation.is_v2:
        return reply(400, errors.v2_body("bad_request", error.detail), rendering.JSON, "validation-error")
    return json_api(422, [error], "validation-error", v3_content_type=False)


def invalid_parameters(operation: Operation, problems: Sequence[ApiError]) -> Prepared:
    """v3+ lists every error of the validator group; v2 answers the first one only, as 400."""
    if operation.is_v2:
        return reply(400, errors.v2_body("bad_request", problems[0].detail), rendering.JSON, "validation-error")
    return json_api(422, problems, "validation-error", v3_content_type=True)


def in_maintenance(operation: Operation, error: ApiError) -> Prepared:
    if operation.is_v2:
        return reply(503, errors.v2_body("maintenance", error.detail), rendering.JSON, "maintenance")
    return json_api(503, [error], "maintenance", v3_content_type=True)


def too_many_requests(path: str) -> Prepared:
    return reply(429, too_many_requests_body("/api/v2/" in path), rendering.JSON, "rate-limited")


def unknown_path(api: Api) -> Prepared:
    return reply(404, errors.unknown_path_text(api), rendering.TEXT, "unknown-path")


def gone(text: str) -> Prepared:
    return reply(410, text.encode(), rendering.TEXT, "gone")
