"""A least-recently-used cache bounded in entries and in bytes.

Every cache whose keys or values come from a request uses it, so that no sequence of
requests can make the process grow past a known size. The caller says what an entry
costs (an estimate in bytes of what the entry keeps alive); an entry that alone costs
more than a quarter of the budget is not kept at all.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# What a dict slot, a tuple key and the objects around an entry cost beyond its own bytes.
ENTRY_OVERHEAD = 256


class BoundedCache(Generic[K, V]):
    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        """The sum of the costs of the entries kept (overhead included)."""
        return self._bytes

    def get(self, key: K) -> V | None:
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[0]

    def put(self, key: K, value: V, cost: int) -> None:
        cost += ENTRY_OVERHEAD
        if cost * 4 > self.max_bytes or self.max_entries <= 0:
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._bytes -= previous[1]
        self._entries[key] = (value, cost)
        self._bytes += cost
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0
