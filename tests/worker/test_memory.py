"""Worker memory bounds: the allocator's free pages go back to the system, story checks stay few."""

from __future__ import annotations

import ctypes
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from index.models import stable_id
from risk.stories import MIN_POSTS as STORY_MIN_POSTS
from worker import memory
from worker.pipeline import (
    STORY_CHECKS_PRUNE_AT,
    STORY_CHECKS_SIZE,
    STORY_RECHECK_S,
    _StoryChecks,
)

NOW = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
#: Bytes one remembered story may take (16-character id, count, time, its dict slot).
STORY_CHECK_ENTRY_BYTES = 300


def _rss_mib() -> float:
    """Return this process's resident memory (MiB)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(memory._malloc_trim() is None, reason="the C library has no malloc_trim (not glibc)")
def test_release_free_memory_returns_pages_freed_amid_live_ones() -> None:
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    block = 64 * 1024  # below malloc's mmap threshold: from the heap, as most of a worker's allocations
    blocks = []
    for _ in range(1600):  # 100 MiB, written so it is resident
        pointer = libc.malloc(block)
        assert pointer
        ctypes.memset(pointer, 1, block)
        blocks.append(pointer)
    for i, pointer in enumerate(blocks):
        if i % 8:  # every 8th stays: the free chunks lie amid live ones, no heap top to shrink
            libc.free(pointer)
    before = _rss_mib()
    assert memory.release_free_memory(force=True)
    after = _rss_mib()
    for pointer in blocks[::8]:
        libc.free(pointer)
    assert before - after >= 60, (before, after)  # 87.5 MiB were free


def test_release_free_memory_at_most_every_trim_period() -> None:
    memory.release_free_memory(force=True)
    done = memory._TRIMMER.trims
    assert memory.release_free_memory() is False  # within TRIM_EVERY_S of the last
    assert memory._TRIMMER.trims == done


def _entries_bytes(checks: _StoryChecks) -> int:
    """Return the bytes of the checks' dict, keys and values."""
    table = checks._last
    return sys.getsizeof(table) + sum(
        sys.getsizeof(k) + sys.getsizeof(v) + sum(map(sys.getsizeof, v)) for k, v in table.items()
    )


def _counts(whole: int, since_last: int = 0) -> Callable[[datetime | None], int]:
    """Return a story counter: `whole` for the whole window, `since_last` for what came after a moment."""
    return lambda after: whole if after is None else since_last


def test_story_checks_keep_only_recent_stories() -> None:
    checks, store = _StoryChecks(), object()
    per_s = 10  # stories checked per second, each once: 6,000 within STORY_RECHECK_S
    most = 0
    for n in range(200_000):
        at = NOW + timedelta(seconds=n / per_s)
        assert checks.due(store, stable_id("story", n), at, at, _counts(10))
        most = max(most, len(checks))
    live = int(STORY_RECHECK_S * per_s)
    assert most <= 2 * live + 1, most  # not 50,000 (the hard bound): only the last ~10 minutes' stories
    assert _entries_bytes(checks) <= most * STORY_CHECK_ENTRY_BYTES


def test_story_checks_hard_bound_when_all_are_recent() -> None:
    checks, store = _StoryChecks(), object()
    most = 0
    for n in range(STORY_CHECKS_SIZE + 5_000):  # all within one second: nothing is stale
        at = NOW + timedelta(microseconds=n)
        checks.due(store, stable_id("story", n), at, at, _counts(10))
        most = max(most, len(checks))
    assert most <= STORY_CHECKS_SIZE
    assert _entries_bytes(checks) <= STORY_CHECKS_SIZE * STORY_CHECK_ENTRY_BYTES


def test_story_checks_pruning_keeps_recent_checks() -> None:
    checks, store = _StoryChecks(), object()
    old = NOW - timedelta(seconds=STORY_RECHECK_S + 1)
    for n in range(STORY_CHECKS_PRUNE_AT * 3):  # stale by the time of the prune below
        checks.due(store, f"old{n}", old, old, _counts(10))
    assert checks.due(store, "kept", NOW, NOW, _counts(20))
    later = NOW + timedelta(seconds=STORY_RECHECK_S / 2)
    for n in range(STORY_CHECKS_PRUNE_AT * 2):
        checks.due(store, f"new{n}", later, later, _counts(10))
    assert len(checks) < STORY_CHECKS_PRUNE_AT * 3  # the stale ones went
    # Still remembered: only what came since is counted; 9 more of 20 is not half, 10 is.
    asked: list[datetime | None] = []

    def nine_more(after: datetime | None) -> int:
        asked.append(after)
        return 9

    assert not checks.due(store, "kept", later, later, nine_more)
    assert asked == [NOW]
    assert not checks.due(store, "kept", later, later, nine_more)  # nothing newer: not even counted
    assert asked == [NOW]
    assert checks.due(store, "kept", later + timedelta(seconds=1), later, _counts(99, 1))  # 10 of 20: due
    # Too few messages for a story to resonate: not due, not remembered.
    assert not checks.due(store, "small", NOW, NOW, _counts(STORY_MIN_POSTS - 1))
    assert checks.due(store, "small", NOW, NOW, _counts(STORY_MIN_POSTS))


_COUNT_ARENAS = """
import ctypes, sys, tempfile, threading
from worker.memory import limit_malloc_arenas
if sys.argv[1] == "1":
    assert limit_malloc_arenas(1)
def churn():
    blocks = [bytearray(4096) for _ in range(2000)]
    del blocks
threads = [threading.Thread(target=churn) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    handle = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, handle)
    libc.fclose(handle)
    print(open(out.name).read().count("<heap nr="))
"""


@pytest.mark.skipif(memory._mallopt() is None, reason="the C library has no mallopt (not glibc)")
def test_limit_malloc_arenas_makes_threads_share_one_arena() -> None:
    def arenas(limited: bool) -> int:
        run = subprocess.run(
            [sys.executable, "-c", _COUNT_ARENAS, "1" if limited else "0"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        return int(run.stdout.strip())

    assert arenas(limited=False) > 1  # glibc's default: threads get arenas of their own
    assert arenas(limited=True) == 1
