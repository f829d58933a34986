"""The token the sandbox hands out: in the cURL commands it prints, `GET /__sandbox/token`, the pytest plugin.

The repository's own `tokens/default` (the topmost layer's) when it has one: it is public (the real
corpora publish theirs) and every snapshot accepts it. Otherwise a token minted with the sandbox's
signing secret holding every scope of the authorisations file, which only someone who may see the
secret's tokens should get (`public` says which of the two it is).
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.load.snapshot import Snapshot
from sandbox.rules.tokens import mint


def repository_token(snapshot: Snapshot) -> str | None:
    """The repository's `tokens/default` (of the topmost source that has one)."""
    tokens = snapshot.content.tokens
    if "default" in tokens:
        return tokens["default"]
    layered = sorted((name for name in tokens if name.endswith(":default")), reverse=True)
    return tokens[layered[0]] if layered else None


@dataclass(frozen=True, slots=True)
class HandedToken:
    value: str
    public: bool  # the repository's own tokens/default, not one minted with the sandbox's secret


def handed_token(snapshot: Snapshot) -> HandedToken:
    """`tokens/default`, or a token signed with the sandbox's secret holding every scope of the repository."""
    token = repository_token(snapshot)
    if token:
        return HandedToken(token, public=True)
    scopes = sorted({scope for listed in (snapshot.content.authorizations or {}).values() for scope in listed})
    return HandedToken(mint(snapshot.verifier.signing_secret, scopes), public=False)
