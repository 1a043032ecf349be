"""Give the C allocator's free memory back to the system (glibc `malloc_trim`), at most every TRIM_EVERY_S.

A worker's threads allocate and free tens of MB per batch and detection run (query results, posts,
vectors) through glibc malloc, one arena per thread. Freed chunks amid live ones stay in the process:
in the live replay (bench/sustained.py) a worker's malloc heap grew by ~40 MiB in 10 minutes while the
memory in use grew by ~8 MiB, so RSS kept rising though nothing the program holds did. `malloc_trim(0)`
returns every free page of every arena (madvise), so RSS follows what is in use. Elsewhere than glibc
(musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from collections.abc import Callable
from functools import cache

log = logging.getLogger(__name__)

#: Seconds between two trims of one process at least (a trim costs ~1-10 ms of CPU per 100 MiB free).
TRIM_EVERY_S = 10.0


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """Return glibc's malloc_trim, or None where the C library has none."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


class _Trimmer:
    """When this process last trimmed (one trim at a time, at most one per TRIM_EVERY_S)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = float("-inf")
        self.trims = 0  # trims done, for tests and profiling

    def trim(self, *, force: bool = False) -> bool:
        """Trim the allocator's free memory unless trimmed less than TRIM_EVERY_S ago; return if trimmed."""
        trim = _malloc_trim()
        if trim is None:
            return False
        now = time.monotonic()
        if not self._lock.acquire(blocking=False):
            return False  # another thread trims right now
        try:
            if not force and now - self._last < TRIM_EVERY_S:
                return False
            self._last = now
            trim(0)
            self.trims += 1
            return True
        finally:
            self._lock.release()


_TRIMMER = _Trimmer()


def release_free_memory(*, force: bool = False) -> bool:
    """Return the C allocator's free pages to the system (at most every TRIM_EVERY_S); return if trimmed."""
    return _TRIMMER.trim(force=force)
