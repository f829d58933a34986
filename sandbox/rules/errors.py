"""Error bodies in each API's own format (spec §2.5, §3.6), and the named errors of the gates.

* json_api (Entreprise and Particulier v3+): `{"errors":[{code,title,detail,source?,meta}]}`
* Particulier v2 organizer errors: `{"error":kind,"reason":detail,"message":detail}`
* flat: `{"errors":["detail", …]}`

Every text comes from the error catalogue (`error_catalogue.yaml`); the functions below
only say which entry each refusal is and fill its arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sandbox.rules.error_texts import ApiError as ApiError  # re-exported: the value these bodies render
from sandbox.rules.error_texts import load_catalogue
from sandbox.rules.rendering import encode_json


def json_api_body(errors: Sequence[ApiError]) -> bytes:
    return encode_json({"errors": [e.as_json_api() for e in errors]})


def v2_body(kind: str, detail: str) -> bytes:
    return encode_json({"error": kind, "reason": detail, "message": detail})


def flat_body(details: Sequence[str]) -> bytes:
    return encode_json({"errors": list(details)})


# The `error` of a Particulier v2 organizer error, by status (spec §3.6); 409 and 429 are flat.
V2_KIND_BY_STATUS = {
    400: "bad_request",
    401: "access_denied",
    403: "access_denied",
    404: "not_found",
    502: "data_provider_error",
    503: "data_provider_error",
    504: "gateway_timeout",
}
V2_FLAT_STATUSES = frozenset({409, 429})


def v2_from_json_api(status: int, document: object) -> object:
    """A json_api error document (`{"errors": [{…, "detail"}]}`) in the v2 format of its status.

    The v2 OpenAPI documents give json_api examples for some errors, which v2 never sends:
    the first error's detail becomes `reason` and `message` (flat errors keep every detail).
    Anything else is returned as it is.
    """
    if status < 400 or not isinstance(document, dict) or not isinstance(document.get("errors"), list):
        return document
    details = [str(e.get("detail") or e.get("title") or "") for e in document["errors"] if isinstance(e, dict)]
    if not details or len(details) != len(document["errors"]):
        return document
    if status in V2_FLAT_STATUSES:
        return {"errors": details}
    kind = V2_KIND_BY_STATUS.get(status, "error")
    return {"error": kind, "reason": details[0], "message": details[0]}


def unknown_path_text(api: str) -> bytes:
    """Rails' `errors#not_found`: `api_kind.humanize` with the `API` acronym inflection (§11.1)."""
    name = "API particulier" if api == "particulier" else "API entreprise"
    return f"Cette URL n'existe pas sur {name}, veuillez vérifier votre URL.".encode()


def no_case_error(operation_id: str) -> ApiError:
    """Particulier miss in a folder without `404.yaml` (real staging answers a bare 500)."""
    return load_catalogue().error("00104", operation_id=operation_id)


# ---------------------------------------------------------------------------
# Authentication, FranceConnect, version (texts of spec §1.4, §2.5, §5.2)
# ---------------------------------------------------------------------------


def invalid_token() -> ApiError:
    return load_catalogue().error("00101")


def _api(api: str) -> str:
    """The texts of 00100 and 00103 name API Particulier or, for any other API, API Entreprise."""
    return "particulier" if api == "particulier" else "entreprise"


def insufficient_scopes(api: str) -> ApiError:
    return load_catalogue().error("00100", api=_api(api))


def expired_token(api: str) -> ApiError:
    return load_catalogue().error("00103", api=_api(api))


def unsupported_version(version: str) -> ApiError:
    return load_catalogue().error("00402", version=version)


def france_connect_malformed_token() -> ApiError:
    """An unknown FranceConnect token (real FranceConnect: `invalid_request`, §11.7), or none at all."""
    return load_catalogue().error("50001")


def france_connect_revoked_token() -> ApiError:
    """An introspection with `active: false`, or expired where expiry is simulated (§5.2, §11.7)."""
    return load_catalogue().error("50002")


def maintenance(provider_code: str, provider: str, start: str, end: str, retry_in: int) -> ApiError:
    """`<provider code>020`: the catalogue's `00020` with the provider's two digits (spec §3.8)."""
    error = load_catalogue().error("00020", start=start, end=end)
    return replace(error, code=f"{provider_code}{error.code[2:]}", meta={"provider": provider, "retry_in": retry_in})


def bad_request(message: str | None = None) -> ApiError:
    """`BadRequestError` (§3.6): "Votre requête est invalide", with Rails' message when there is one."""
    if message is None:
        return load_catalogue().error("00401:bad_request")
    return load_catalogue().error("00401:bad_request_message", message=message)
