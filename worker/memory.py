"""Keep a worker's C heap near what it holds: one malloc arena, free pages back to the system (glibc).

A worker's threads allocate and free tens of MB per batch and detection run (query results, posts,
vectors) through glibc malloc, by default in one arena per thread, each keeping its own high-water mark
and free fragments. In the live replay (bench/sustained.py, 10 minutes at 300 posts/s) what a worker
held stayed flat (in one process without threads, 225,000 posts: malloc in use 88.8 MiB throughout)
while its malloc heaps grew ~20-50 MiB of free space, mostly chunks of a few KiB amid live ones, so RSS
kept rising. Two remedies, both glibc only (elsewhere they do nothing): the worker's threads share one
arena (`limit_malloc_arenas`), and after a detection run `malloc_trim(0)` hands the whole free pages of
every arena back to the system (`release_free_memory`: ~10 MiB per process; a free chunk smaller than a
page cannot be given back).
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
#: glibc malloc arenas a worker process uses (one per thread by default, up to 8 per core). The Python
#: threads hold the GIL while they allocate, so one arena costs little waiting; each extra arena keeps
#: its own high-water mark and free fragments (bench/sustained.py, 10 minutes at 300 posts/s: the
#: malloc heaps' free space ~35-60 MiB per process with per-thread arenas, ~5-11 MiB with one).
MALLOC_ARENAS = 1
#: mallopt's parameter number of the arena limit (glibc malloc.h M_ARENA_MAX).
_M_ARENA_MAX = -8


@cache
def _libc_function(name: str) -> Callable[..., int] | None:
    """Return the C library's function `name`, or None where the library or the function is missing."""
    path = ctypes.util.find_library("c")
    if path is None:
        return None
    try:
        function: Callable[..., int] = getattr(ctypes.CDLL(path), name)
    except (OSError, AttributeError):
        return None
    return function


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """Return glibc's malloc_trim, or None where the C library has none."""
    trim = _libc_function("malloc_trim")
    if trim is not None:
        trim.argtypes = [ctypes.c_size_t]  # type: ignore[attr-defined]
        trim.restype = ctypes.c_int  # type: ignore[attr-defined]
    return trim


@cache
def _mallopt() -> Callable[[int, int], int] | None:
    """Return glibc's mallopt, or None where the C library has none."""
    mallopt = _libc_function("mallopt")
    if mallopt is not None:
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]  # type: ignore[attr-defined]
        mallopt.restype = ctypes.c_int  # type: ignore[attr-defined]
    return mallopt


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Let threads started from now on share at most `arenas` malloc arenas; return if the limit was set.

    Call it before the process starts its threads (a worker process: when its actors are imported).
    """
    mallopt = _mallopt()
    if mallopt is None or arenas < 1:
        return False
    done = mallopt(_M_ARENA_MAX, arenas) == 1
    if not done:
        log.warning("malloc arena limit %d not set", arenas)
    return done


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
