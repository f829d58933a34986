"""Provider maintenance windows (spec §3.8), read from `maintenance.yaml`."""

from __future__ import annotations

import datetime
import fnmatch
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo

import yaml

from sandbox.rules.errors import ApiError, maintenance

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True, slots=True)
class Window:
    provider: str
    code: str
    start: datetime.time
    end: datetime.time
    operations: tuple[str, ...]
    days: frozenset[int] = frozenset()
    date: datetime.date | None = None

    def covers(self, operation_id: str) -> bool:
        return any(fnmatch.fnmatchcase(operation_id, p) for p in self.operations)

    def error_at(self, now: datetime.datetime) -> ApiError | None:
        local = now.astimezone(PARIS)
        if self.date is not None and local.date() != self.date:
            return None
        if self.days and local.isoweekday() not in self.days:
            return None
        if not self.start <= local.time() <= self.end:  # `Range#cover?`: the end is in (§11.8)
            return None
        end = datetime.datetime.combine(local.date(), self.end, tzinfo=PARIS)
        retry_in = max(int((end - local).total_seconds()), 0)
        return maintenance(self.code, self.provider, _hhmm(self.start), _hhmm(self.end), retry_in)


def _hhmm(moment: datetime.time) -> str:
    return moment.strftime("%H:%M")


@lru_cache(maxsize=1)
def windows() -> tuple[Window, ...]:
    text = resources.files("sandbox.rules").joinpath("maintenance.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=yaml.CSafeLoader)
    return tuple(
        Window(
            provider=str(raw["provider"]),
            code=str(raw["code"]),
            start=datetime.time.fromisoformat(str(raw["start"])),
            end=datetime.time.fromisoformat(str(raw["end"])),
            operations=tuple(raw["operations"]),
            days=frozenset(int(d) for d in raw.get("days", ())),
            date=datetime.date.fromisoformat(str(raw["date"])) if raw.get("date") else None,
        )
        for raw in data["windows"]
    )


def windows_for(operation_id: str) -> tuple[Window, ...]:
    return tuple(w for w in windows() if w.covers(operation_id))
