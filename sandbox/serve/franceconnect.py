"""A resolved fake FranceConnect token (spec §5.2–5.3): who the request stands for.

The introspection comes from the snapshot's `payloads/france_connect/` case; the identity
it carries becomes civility parameters through `rules.franceconnect`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.load.repository import Case
from sandbox.rules.franceconnect import Identity
from sandbox.rules.tokens import FRANCE_CONNECT_UID, User


@dataclass(frozen=True, slots=True)
class FranceConnectSession:
    """A resolved fake FranceConnect token."""

    case: Case
    introspection: Mapping[str, Any]

    @classmethod
    def from_case(cls, case: Case) -> FranceConnectSession:
        payload = case.payload if isinstance(case.payload, dict) else {}
        introspection = payload.get("token_introspection")
        return cls(case, introspection if isinstance(introspection, dict) else {})

    def usable(self, now: float, *, check_expiry: bool) -> bool:
        """False for `active: false`, and for an `exp` in the past when expiry is checked."""
        if self.introspection.get("active") is False:
            return False
        exp = self.introspection.get("exp")
        return not (check_expiry and isinstance(exp, (int, float)) and exp < now)

    def user(self, *, v2: bool) -> User:
        """The FC user: fixed uid, scopes from the introspection, `_identite` scopes dropped on v3+."""
        scope = self.introspection.get("scope")
        scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        if not v2:
            scopes = frozenset(s for s in scopes if "_identite" not in s)
        return User(uid=FRANCE_CONNECT_UID, jti=FRANCE_CONNECT_UID, scopes=scopes, exp=None)

    def identity(self) -> Identity:
        return Identity.from_introspection(self.introspection)
