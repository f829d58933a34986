"""The cyclic garbage collector paused while a snapshot is built.

A build allocates hundreds of thousands of objects that live on (YAML nodes, parsed cases,
prepared answers): each threshold crossed starts a collection that walks all of them again,
for nothing. Paused, siade_staging_data builds in ~0.6 s instead of ~1.0 s when its OpenAPI
documents are parsed, and ~10 % faster from the cache. Reference counting still frees what
the build drops; the collector runs again as soon as the last build in progress ends.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_LOCK = threading.Lock()
_paused = 0  # builds in progress (a reload thread and an embedding may build at once)
_was_enabled = False


def collection_paused(build: Callable[P, R]) -> Callable[P, R]:
    """`build`, with the collector paused while it runs (restored as found, whatever the interleaving)."""

    @functools.wraps(build)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        global _paused, _was_enabled
        with _LOCK:
            if _paused == 0:
                _was_enabled = gc.isenabled()
                gc.disable()
            _paused += 1
        try:
            return build(*args, **kwargs)
        finally:
            with _LOCK:
                _paused -= 1
                if _paused == 0 and _was_enabled:
                    gc.enable()

    return paused
