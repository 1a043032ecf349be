"""Indicators kept a short while per (period, slice), shared by the API processes through files.

Computing the indicators of a week reads every post of the week and of the one before (seconds of CPU
over a large store), while they change little from one minute to the next. An answer is kept `ttl_s`
seconds; after that it is still served, for up to `stale_s`, while one thread of one process computes
it anew. Only a cold key (never computed, or older than `stale_s`) makes its caller wait, and
concurrent callers of that key wait for the same computation (an in-process lock and an exclusive file
lock across processes). The files live under the data directory; without one the cache is per process.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from risk.indicators import Indicators

log = logging.getLogger(__name__)

#: Seconds an answer is served as fresh.
TTL_S = 120.0
#: Seconds an answer is still served while it is computed anew.
STALE_S = 3600.0


@dataclass(frozen=True)
class _Entry:
    """One kept answer and when it was computed (epoch seconds)."""

    stored_at: float
    value: Indicators


class IndicatorsCache:
    """Indicators per key, fresh for `ttl_s`, served stale for up to `stale_s` while recomputed."""

    def __init__(
        self,
        directory: Path | None,
        ttl_s: float = TTL_S,
        stale_s: float = STALE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Keep answers in memory and, when `directory` is given, in files there."""
        self.directory = directory
        self.ttl_s = ttl_s
        self.stale_s = stale_s
        self.clock = clock
        self._memory: dict[str, _Entry] = {}
        self._mtimes: dict[str, int] = {}  # the file version each memory entry was read from or written as
        self._locks: dict[str, threading.Lock] = {}
        self._refreshing: set[str] = set()
        self._guard = threading.Lock()

    def get(self, key: str, compute: Callable[[], Indicators]) -> Indicators:
        """Return the answer of `key`: kept, stale while refreshed in the background, or computed now."""
        entry = self._read(key)
        now = self.clock()
        if entry is not None and now - entry.stored_at < self.ttl_s:
            return entry.value
        if entry is not None and now - entry.stored_at < self.stale_s:
            self._refresh_in_background(key, compute)
            return entry.value
        with self._key_lock(key), self._file_lock(key):
            entry = self._read(key)  # another thread or process may have computed it meanwhile
            if entry is not None and self.clock() - entry.stored_at < self.ttl_s:
                return entry.value
            return self._compute(key, compute).value

    def _compute(self, key: str, compute: Callable[[], Indicators]) -> _Entry:
        """Compute and keep the answer of `key` (the caller holds its locks)."""
        started = self.clock()
        entry = _Entry(started, compute())
        self._memory[key] = entry
        path = self._path(key)
        if path is not None:
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            payload = {"stored_at": entry.stored_at, "value": json.loads(entry.value.model_dump_json())}
            tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)
            self._mtimes[key] = path.stat().st_mtime_ns
        return entry

    def _refresh_in_background(self, key: str, compute: Callable[[], Indicators]) -> None:
        """Start one thread computing `key` anew unless this process already runs one."""
        with self._guard:
            if key in self._refreshing:
                return
            self._refreshing.add(key)

        def refresh() -> None:
            try:
                lock = self._key_lock(key)
                if not lock.acquire(blocking=False):
                    return
                try:
                    with self._file_lock(key, wait=False) as taken:
                        entry = self._read(key)
                        fresh = entry is not None and self.clock() - entry.stored_at < self.ttl_s
                        if taken and not fresh:
                            self._compute(key, compute)
                finally:
                    lock.release()
            except Exception:  # the stale answer stays; the next request tries again
                log.exception("indicators refresh failed for %s", key)
            finally:
                with self._guard:
                    self._refreshing.discard(key)

        threading.Thread(target=refresh, name="indicators-refresh", daemon=True).start()

    def _read(self, key: str) -> _Entry | None:
        """Return the newest kept answer of `key` (memory, or its file when that changed), or None."""
        entry = self._memory.get(key)
        path = self._path(key)
        if path is None:
            return entry
        try:
            mtime = path.stat().st_mtime_ns
            if entry is not None and self._mtimes.get(key) == mtime:
                return entry
            payload = json.loads(path.read_text(encoding="utf-8"))
            loaded = _Entry(float(payload["stored_at"]), Indicators.model_validate(payload["value"]))
        except (OSError, ValueError, KeyError):  # absent, being replaced or unreadable: recompute
            return entry
        self._mtimes[key] = mtime
        if entry is None or loaded.stored_at > entry.stored_at:
            self._memory[key] = loaded
            return loaded
        return entry

    def _path(self, key: str) -> Path | None:
        """Return the file of `key`, or None without a directory."""
        if self.directory is None:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}.json"

    def _key_lock(self, key: str) -> threading.Lock:
        """Return the in-process lock of `key`."""
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    @contextlib.contextmanager
    def _file_lock(self, key: str, wait: bool = True) -> Iterator[bool]:
        """Hold the cross-process lock of `key`; yield whether it was taken (always, when waiting)."""
        path = self._path(key)
        if path is None:
            yield True
            return
        with open(path.with_suffix(".lock"), "a+b") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
