"""Hostile HTTP requests for fuzzing, and a raw socket client that sends them byte for byte.

Shared by `tests/test_fuzz.py` (hypothesis hands it a seeded `random.Random`) and
`scripts/fuzz.py` (a fixed seed, tens of thousands of requests). The requests mix what
the snapshot serves (paths, parameter names, case values, valid tokens) with what no
client should send: over-long numbers and URLs, broken percent-encodings, invalid
UTF-8, JWT-like runs, odd methods and Host headers, non-ASCII signatures.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import random
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from sandbox.load.snapshot import Snapshot
from sandbox.rules.coercion import to_s
from sandbox.tools.reaching import case_request

# Mostly GET; then every method the HTTP parser knows of, and two it refuses (400 from uvicorn).
METHODS = ("GET",) * 12 + (
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "OPTIONS",
    "PATCH",
    "TRACE",
    "PROPFIND",
    "PURGE",
    "FOO",
    "get",
)
FIXED_PATHS = (
    "/",
    "/ui",
    "/ui/",
    "/ui/operations",
    "/ui/journal",
    "/ui/static/catalogue.css",
    "/__sandbox/status",
    "/__sandbox/requests",
    "/__sandbox/explain",
    "/__sandbox/webhook",
    "/api/reload-mocks",
    "/api/ping",
    "/api/pings",
    "/api/introspect",
    "/api/france_connect_jwks",
    "/api/open-api.yml",
    "/api/open-api-v3.yml",
    "/open-api.yml",
    "/v3/openapi-entreprise.yaml",
    "/v3/ping",
    "/v9/ping",
    "/ping/insee/sirene",
    "/pings",
    "/privileges",
    "/v2/privileges",
    "/favicon.ico",
    "/nothing",
)
ODD_VALUES = (
    "",
    "0",
    "-1",
    "+7",
    "08",
    " 12",
    "1_000",
    "1e9",
    "NaN",
    "null",
    "true",
    "2020-02-30",
    "1582-10-10",
    "0000-00-00",
    "%",
    "%zz",
    "%ff%fe",
    "%c3%28",
    "%00",
    "%0d%0a",
    "é",
    "\u202eabc",
    "💥",
    "[]",
    "a[b]=c",
    "token=",
    "Bearer ",
    "<script>",
    "'\"",
)
HOSTS = (
    "127.0.0.1",
    "entreprise.api.gouv.fr",
    "staging.particulier.api.gouv.fr",
    "",
    "[::1]:80",
    "host:99999",
    "x y",
    "a" * 300,
    "entreprise.api.particulier.api",
)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """What the served snapshot knows: paths, parameter names, values that hit cases, valid tokens."""

    paths: tuple[str, ...]
    parameter_names: tuple[str, ...]
    values: tuple[str, ...]
    operation_ids: tuple[str, ...]
    tokens: tuple[str, ...]
    webhook_secret: str | None
    # the README request of each case: (target, header that carries the token); the first token is valid
    case_requests: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot, tokens: Sequence[str], webhook_secret: str | None) -> Vocabulary:
        names: set[str] = set()
        values: set[str] = set()
        for table in snapshot.tables.values():
            names.update(p.key for p in table.operation.lookup_parameters())
            for case in table.cases[:20]:
                for name, value in case.params.items():
                    names.add(str(name))
                    for item in value if isinstance(value, list) else [value]:
                        text = to_s(item)
                        if len(text) <= 64:
                            values.add(text)
        case_requests = tuple(
            (request.target, request.headers[0][0])
            for table in snapshot.tables.values()
            for case in table.cases
            if (request := case_request(table.operation, case, "")).headers
        )
        return cls(
            case_requests=case_requests,
            paths=tuple(sorted(op.path for op in snapshot.operations.values())),
            parameter_names=tuple(sorted(names | {"recipient", "context", "object", "token", "limit", "outcome"})),
            values=tuple(sorted(values)),
            operation_ids=tuple(sorted(snapshot.operations)),
            tokens=tuple(tokens),
            webhook_secret=webhook_secret,
        )


@dataclass(frozen=True, slots=True)
class HostileRequest:
    method: bytes
    target: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    def wire(self) -> bytes:
        lines = [self.method + b" " + self.target + b" HTTP/1.1"]
        lines += [name + b": " + value for name, value in self.headers]
        if self.body:
            lines.append(b"Content-Length: %d" % len(self.body))
        lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body

    def describe(self) -> str:
        return f"{self.method[:20]!r} {self.target[:200]!r} headers={[h[0] for h in self.headers]}"


def _value(rng: random.Random, vocabulary: Vocabulary) -> str:
    kind = rng.randrange(10)
    if kind < 4 and vocabulary.values:
        value = rng.choice(vocabulary.values)
        return value.swapcase() if rng.random() < 0.2 else value
    if kind < 6:
        return rng.choice(ODD_VALUES)
    if kind == 6:
        return "9" * rng.choice((19, 20, 21, 25, 400, 4301))
    if kind == 7:
        repeated = rng.choice(("eyJ", "eyJa.", "a", "-", "token=", "eyJhbGciOiJIUzI1NiJ9."))
        return repeated * rng.randrange(1, rng.choice((30, 300, 2000)))
    if kind == 8:
        return "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(1, 12)))
    return str(rng.randrange(-(10**12), 10**12))


def _encode(text: str, rng: random.Random) -> str:
    """Percent-encoded; sometimes with `%`, `&`, `=` and `+` left raw (broken escapes reach the server)."""
    return quote(text, safe="[]") if rng.random() < 0.85 else quote(text, safe="[]%&=+")


def _path(rng: random.Random, vocabulary: Vocabulary) -> str:
    kind = rng.randrange(10)
    if kind < 5 and vocabulary.paths:
        path = rng.choice(vocabulary.paths)
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            path = path[:start] + _encode(_value(rng, vocabulary), rng) + path[end + 1 :]
        if rng.random() < 0.1:
            path = path.replace("/v3/", "/v" + rng.choice(("0", "9", "99999999999999999999999", "x")) + "/", 1)
        return path
    if kind < 7:
        return rng.choice(FIXED_PATHS)
    if kind == 7 and vocabulary.paths:
        target = rng.choice(vocabulary.paths).replace("{", "").replace("}", "")
        return "/__sandbox/explain" + target
    if kind == 8 and vocabulary.operation_ids:
        return "/ui/operations/" + _encode(rng.choice((*vocabulary.operation_ids, _value(rng, vocabulary))), rng)
    return "/" + "/".join(_encode(_value(rng, vocabulary), rng) for _ in range(rng.randrange(1, 5)))


def _query(rng: random.Random, vocabulary: Vocabulary) -> str:
    pairs = []
    for _ in range(rng.randrange(0, 9)):
        name = rng.choice(vocabulary.parameter_names) if rng.random() < 0.85 else _value(rng, vocabulary)
        if rng.random() < 0.15:
            name += "[]"
        pairs.append(_encode(name, rng) + "=" + _encode(_value(rng, vocabulary), rng))
    if rng.random() < 0.05:
        pairs.append("&" * rng.randrange(1, 50))
    return "&".join(pairs)


def _headers(rng: random.Random, vocabulary: Vocabulary, path: str, body: bytes) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    if rng.random() < 0.9:
        headers.append((b"Host", rng.choice(HOSTS).encode("utf-8")))
    token = rng.choice(vocabulary.tokens) if vocabulary.tokens and rng.random() < 0.6 else _value(rng, vocabulary)
    auth = rng.randrange(6)
    if auth in (0, 1):
        headers.append((b"Authorization", b"Bearer " + token.encode("utf-8")))
    elif auth == 2:
        headers.append((b"X-Api-Key", token.encode("utf-8")))
    elif auth == 3:
        headers.append((b"Authorization", rng.choice((b"Bearer", b"Bearer  x", b"bearer x", b"Bearer \xe9\xff"))))
    if rng.random() < 0.2:
        headers.append((b"X-Request-Id", _value(rng, vocabulary).encode("utf-8")))
    if rng.random() < 0.1:
        headers.append((b"Accept-Language", rng.choice((b"fr", b"en", b"*", b"xx;q=2", b"\xff"))))
    if path.startswith("/__sandbox/webhook"):
        signature = rng.randrange(4)
        if signature == 0 and vocabulary.webhook_secret:
            digest = hmac.new(vocabulary.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
            headers.append((b"X-Hub-Signature-256", b"sha256=" + digest.encode()))
        elif signature == 1:
            headers.append((b"X-Hub-Signature-256", "sha256=é".encode("latin-1")))
        elif signature == 2:
            headers.append((b"X-Hub-Signature-256", b"sha256=" + b"0" * 64))
        headers.append((b"X-GitHub-Event", rng.choice((b"push", b"ping", b"\xe9"))))
    if rng.random() < 0.02:
        headers.append((b"X-Big", b"x" * rng.choice((4000, 9000))))
    return headers


def _case_request(rng: random.Random, vocabulary: Vocabulary) -> HostileRequest:
    """A case's own request with a valid token (a hit), sometimes with one value changed or more added."""
    target, header = rng.choice(vocabulary.case_requests)
    path, _, query = target.partition("?")
    pairs = [pair.partition("=") for pair in query.split("&") if pair]
    if pairs and rng.random() < 0.5:
        index = rng.randrange(len(pairs))
        changed = "9" * rng.choice((21, 400, 4301)) if rng.random() < 0.4 else _value(rng, vocabulary)
        pairs[index] = (pairs[index][0], "=", _encode(changed, rng))
    query = "&".join(name + equals + value for name, equals, value in pairs)
    if rng.random() < 0.2:
        query += "&" + _query(rng, vocabulary)
    value = vocabulary.tokens[0] if header == "X-Api-Key" else "Bearer " + vocabulary.tokens[0]
    headers = ((b"Host", b"127.0.0.1"), (header.encode(), value.encode()))
    return HostileRequest(b"GET", (path + "?" + query).encode(), headers, b"")


def hostile_request(rng: random.Random, vocabulary: Vocabulary) -> HostileRequest:
    if vocabulary.case_requests and vocabulary.tokens and rng.random() < 0.3:
        return _case_request(rng, vocabulary)
    method = rng.choice(METHODS)
    path = _path(rng, vocabulary)
    query = _query(rng, vocabulary)
    if rng.random() < 0.01:
        query += "&pad=" + "a" * 9000  # over the default URL limit: 414
    target = (path + ("?" + query if query else "")).encode("utf-8", "surrogatepass")
    if rng.random() < 0.03:
        position = rng.randrange(1, len(target) + 1)
        target = target[:position] + bytes([rng.randrange(0x80, 0x100)]) + target[position:]
    body = b""
    if method in ("POST", "PUT", "PATCH"):
        body = rng.choice((b"", b"{}", b'{"ref": "refs/heads/main"}', bytes(rng.randrange(256) for _ in range(64))))
    return HostileRequest(
        method=method.encode(),
        target=target,
        headers=tuple(_headers(rng, vocabulary, path, body)),
        body=body,
    )


@dataclass(frozen=True, slots=True)
class RawReply:
    status: int
    headers: dict[str, str]  # lower-case names, latin-1
    body: bytes


def send_raw(host: str, port: int, request: HostileRequest, timeout_s: float = 30.0) -> RawReply | None:
    """Send the bytes, read until the server closes; None when nothing parseable came back."""
    with socket.create_connection((host, port), timeout=timeout_s) as connection:
        with contextlib.suppress(OSError):  # the server may answer and close before reading it all
            connection.sendall(request.wire())
        chunks = []
        try:
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2) if lines and lines[0] else []
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return RawReply(int(parts[1]), headers, body)


def case_statuses(snapshot: Snapshot) -> dict[str, int]:
    """Case id → the status its fixture documents: a 5xx is acceptable only from such a case."""
    return {case.id: case.status for table in snapshot.tables.values() for case in table.cases}


def unexplained_server_error(reply: RawReply, statuses: dict[str, int]) -> bool:
    """A 5xx that no matched case documents."""
    if reply.status < 500:
        return False
    return statuses.get(reply.headers.get("x-sandbox-case", ""), 0) < 500
