"""What the sandbox does beyond the real staging, per request: `Prefer`, latency and the production profile.

`Scenarios` holds the settings (`--no-prefer`, `--max-delay`, `--latency`, `--seed`,
`--profile`) and what they need between requests, all bounded: the answers `Prefer` may
choose (per operation of the snapshot served) and the payloads cut for the production profile
(per answer and set of scopes that matter to its operation). With the defaults (staging
profile, no `Prefer` header, no latency) a request costs one look at its header list.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sandbox.load.snapshot import OperationTable, Prepared, Snapshot
from sandbox.rules import rendering
from sandbox.rules.bounded_cache import BoundedCache
from sandbox.rules.profiles import PROFILES
from sandbox.serve.prefer_header import NO_PREFERENCES, Preferences, parse_prefer
from sandbox.serve.preferences import NOTHING_APPLIED, Applied, ForcedBook, preferred

DEFAULT_MAX_DELAY_S = 30.0
MAX_LATENCY_MS = 600_000
_LATENCY = re.compile(r"([0-9]{1,7})\.\.([0-9]{1,7})")
# The production profile's cut payloads: keyed by answer bytes and scopes, bounded in bytes too.
_SHAPES = 4096
_SHAPE_BYTES = 32 * 1024 * 1024


def parse_latency(text: str) -> tuple[int, int]:
    """`MIN..MAX` in milliseconds (`50..200`; `100..100` is a fixed latency). ValueError otherwise."""
    match = _LATENCY.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"expected MIN..MAX in milliseconds, e.g. 50..200, got {text[:40]!r}")
    low, high = int(match.group(1)), int(match.group(2))
    if low > high or high > MAX_LATENCY_MS:
        raise ValueError(f"expected MIN <= MAX <= {MAX_LATENCY_MS} milliseconds, got {text[:40]!r}")
    return low, high


@dataclass(slots=True)
class Scenarios:
    prefer: bool = True  # honour `Prefer`; False: the strict staging (`--no-prefer`)
    max_delay_s: float = DEFAULT_MAX_DELAY_S
    latency_ms: tuple[int, int] | None = None  # every API answer is delayed by a uniform draw in it
    seed: int | None = None  # the draws repeat from one run to the next
    profile: str = "staging"  # staging: payloads whole; production: cut to the token's scopes
    _forced: ForcedBook = field(init=False, default_factory=ForcedBook)
    _shapes: BoundedCache[tuple[str, bytes, frozenset[str]], bytes] = field(init=False)
    _shapes_owner: Snapshot | None = field(init=False, default=None)
    _random: random.Random = field(init=False)
    profile_header: rendering.Header = field(init=False)

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, not {self.profile!r}")
        self._shapes = BoundedCache(_SHAPES, _SHAPE_BYTES)
        self._random = random.Random(self.seed)
        self.profile_header = (b"x-sandbox-profile", self.profile.encode())

    @property
    def production(self) -> bool:
        return self.profile == "production"

    # -- Prefer -------------------------------------------------------------------------------

    def preferences(self, raw_headers: Iterable[tuple[bytes, bytes]]) -> Preferences:
        """The preferences of a request's `Prefer` header fields (none with `--no-prefer`)."""
        if not self.prefer:
            return NO_PREFERENCES
        values = [value.decode("latin-1") for name, value in raw_headers if name == b"prefer"]
        return parse_prefer(values) if values else NO_PREFERENCES

    def honour(
        self, snapshot: Snapshot, table: OperationTable, preferences: Preferences
    ) -> tuple[Prepared | None, Applied]:
        """The answer the preferences choose (None: the gates go on), and what is applied."""
        if not preferences.any:
            return None, NOTHING_APPLIED
        return preferred(self._forced, snapshot, table, preferences, int(self.max_delay_s * 1000))

    def delay_s(self, applied: Applied | None) -> float:
        """How long to hold an answer: the preference's delay, else a draw of the global latency."""
        if applied is not None and applied.delay_ms is not None:
            return applied.delay_ms / 1000
        if self.latency_ms is None:
            return 0.0
        low, high = self.latency_ms
        return min(self._random.uniform(low, high) / 1000, self.max_delay_s)

    # -- production profile ---------------------------------------------------------------------

    def shaped(self, snapshot: Snapshot, table: OperationTable, answer: Prepared, scopes: frozenset[str]) -> Prepared:
        """A 200 answer as production sends it to a token with `scopes` (other answers unchanged)."""
        if not self.production or answer.status != 200:
            return answer
        from sandbox.rules.production_fields import load_production_table  # the production profile only

        fields = load_production_table().for_operation(table.operation.id)
        if fields is None or fields.whole:
            return answer
        if self._shapes_owner is not snapshot:
            self._shapes.clear()
            self._shapes_owner = snapshot
        key = (table.operation.id, answer.body, scopes & fields.scopes)
        body = self._shapes.get(key)
        if body is None:
            try:
                payload = json.loads(answer.body)
            except ValueError:
                return answer
            body = rendering.encode_json(fields.shape(payload, key[2]))
            self._shapes.put(key, body, 2 * len(answer.body) + len(body))
        return Prepared(answer.status, answer.headers, body, answer.case_id, answer.outcome, answer.near_miss)
