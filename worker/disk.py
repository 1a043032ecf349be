"""Free space on the data directory's disk: below a floor, ingest pauses with a clear error and an alert.

SQLite survives a full disk (the transaction is rolled back, the file stays intact), but a worker that
keeps writing until the last byte leaves no room for the alert that says so, and the broker's
append-only file lives on the same disk in the embedded mode. So the ingest actor checks the free space
first: under INFOPOLE_MIN_FREE_MB it stores one alert for the day (there is still room for it) and
raises DiskFull, a StoreUnavailable — the message is retried with back-off (worker.retrying) and
ingest resumes by itself once space is freed.

The ingest actor checks twice: when a message arrives (cheap, before the understanding work) and again right
before the batch is written (`guarded`), under a process-wide lock, because a batch that was being
understood while another one filled the disk must not be written after the alert said ingest stopped.
One check is one statvfs call. Detection checks too, at half the floor, when a run starts and before
each incident it writes (`guarded_detection`): its incident writes would otherwise eat the room left for
the alerts and their delivery log.

Below the floor, the SQLite store's write-ahead log is checkpointed and truncated first (up to ~40 MB
the store keeps for speed, all of it reclaimable), and only if that does not bring the free space back
over the floor does ingest pause. Without it a small disk could pause for good: the WAL that fills it
is only truncated by a checkpoint, and a paused ingest writes nothing that would trigger one.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, cast

from index.models import Alert, AlertKind, as_utc, stable_id
from index.store import Store, StoreUnavailable
from worker.runtime import Runtime

log = logging.getLogger(__name__)

#: Free space below which ingest pauses (MB); the environment may change it (INFOPOLE_MIN_FREE_MB).
MIN_FREE_MB = float(os.environ.get("INFOPOLE_MIN_FREE_MB", "200"))
_MB = 1024 * 1024


class DiskFull(StoreUnavailable):
    """The data directory's disk is (almost) full; retrying after space is freed helps."""


def free_bytes(path: Path) -> int:
    """Return the free bytes of the filesystem holding `path` (its nearest existing parent)."""
    current = path.resolve()
    while not current.exists() and current != current.parent:
        current = current.parent
    return shutil.disk_usage(current).free


def disk_alert(data_dir: Path, free: int, floor_mb: float, now: datetime) -> Alert:
    """Return the alert of a full disk (one per data directory and day)."""
    now = as_utc(now)
    return Alert(
        id=stable_id("disk-low", str(data_dir), now.date().isoformat()),
        kind=AlertKind.source,
        severity=9,
        title="Мало места на диске: приём сообщений остановлен",
        text=(
            f"На диске с данными ({data_dir}) свободно {free / _MB:.1f} МБ, нужно не меньше {floor_mb:g} МБ. "
            "Новые сообщения ждут в очереди и будут сохранены, когда место освободится: удалите лишнее "
            "или увеличьте диск."
        ),
        created_at=now,
        event_at=now,
        details={
            "audience": "analyst",
            "problem": "disk",
            "free_mb": round(free / _MB, 1),
            "floor_mb": floor_mb,
        },
    )


#: How long a checkpoint that frees disk space may wait for the store's readers and writers (s).
CHECKPOINT_TIMEOUT_S = 5.0


def reclaim_wal(path: Path, timeout_s: float = CHECKPOINT_TIMEOUT_S) -> bool:
    """Checkpoint a SQLite database's WAL into it and truncate the WAL file; return whether it finished."""
    if not path.exists():
        return False
    try:
        conn = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
    except sqlite3.Error as exc:
        log.warning("checkpoint of %s to free disk space: %s", path, exc)
        return False
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.Error as exc:  # SQLITE_FULL or busy: the database stays as it was
        log.warning("checkpoint of %s to free disk space: %s", path, exc)
        return False
    finally:
        conn.close()
    return not busy


#: What pauses under the floor (ingest) and under half of it (detection), for the log (Russian).
INGEST_PAUSED = "приём сообщений приостановлен"
DETECT_PAUSED = "обработка сохранённых сообщений приостановлена"


def check_disk(
    rt: Runtime,
    notify: Callable[[str], object],
    floor_mb: float | None = None,
    *,
    paused: str = INGEST_PAUSED,
) -> None:
    """Raise DiskFull (after storing and queuing the day's alert) when free space is under the floor.

    Under the floor, the SQLite store's WAL is reclaimed first (`reclaim_wal`) and the space measured again.
    `paused` says in the log what stops (Russian).
    """
    floor = MIN_FREE_MB if floor_mb is None else floor_mb
    data_dir = rt.settings.data_dir
    free = free_bytes(data_dir)
    if free >= floor * _MB:
        return
    if rt.settings.store.backend == "sqlite" and reclaim_wal(rt.settings.sqlite_path):
        free = free_bytes(data_dir)
        log.info("disk low: WAL checkpointed, %.1f MB free now", free / _MB)
        if free >= floor * _MB:
            return
    message = (
        f"на диске с данными ({data_dir}) свободно {free / _MB:.1f} МБ — меньше {floor:g} МБ: "
        f"{paused} до освобождения места"
    )
    log.error("%s", message)
    alert = disk_alert(data_dir, free, floor, rt.clock())
    try:
        if rt.store.add_alert(alert):
            notify(alert.id)
    except StoreUnavailable as exc:  # not even room for the alert: the log line above is all there is
        log.error("оповещение о нехватке места не записано: %s", exc)
    raise DiskFull(message)


#: Serialises "check the free space, then write the batch" among the threads of one worker process.
_WRITE_LOCK = threading.Lock()

#: The store writes a guarded ingest checks before (its batch of posts).
INGEST_WRITES = frozenset({"upsert_posts"})
#: The store writes a guarded detection run checks before: incidents, the bulk of what a run writes.
#: Alerts are not checked: they are what the room under the floor is kept for, and a run stopped
#: between an incident and its alert re-derives the alert when retried (worker.pipeline).
DETECTION_WRITES = frozenset({"save_incident", "save_incidents"})


class _GuardedWrites:
    """A store whose `writes` check the free space first; everything else goes straight to the store."""

    def __init__(
        self, store: Store, check: Callable[[], None], writes: frozenset[str], lock: threading.Lock | None
    ) -> None:
        self._store = store
        self._check = check
        self._writes = writes
        self._lock = lock

    def _checked(self, write: Callable[..., Any]) -> Callable[..., Any]:
        """Return `write` preceded by the free-space check (under the lock, if any)."""

        def checked(*args: Any, **kwargs: Any) -> Any:
            if self._lock is None:
                self._check()
                return write(*args, **kwargs)
            with self._lock:
                self._check()
                return write(*args, **kwargs)

        return checked

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        return self._checked(attr) if name in self._writes else attr


def check_disk_for_detection(rt: Runtime, notify: Callable[[str], object]) -> None:
    """Raise DiskFull when free space is under half the floor: detection's writes pause too.

    Ingest stops first (at the floor); what was stored is still detected and alerted on while there is
    room, but its incident and alert writes grow the WAL, so under half the floor they wait as well and
    the rest of the room is left to the alerts' delivery log.
    """
    check_disk(rt, notify, MIN_FREE_MB / 2, paused=DETECT_PAUSED)


def guarded(rt: Runtime, notify: Callable[[str], object], floor_mb: float | None = None) -> Runtime:
    """Return `rt` with a store that runs `check_disk` right before every batch of posts is written."""
    check = partial(check_disk, rt, notify, floor_mb)
    return replace(rt, store=cast(Store, _GuardedWrites(rt.store, check, INGEST_WRITES, _WRITE_LOCK)))


def guarded_detection(rt: Runtime, notify: Callable[[str], object]) -> Runtime:
    """Return `rt` with a store that checks the space (half the floor) before every incident write.

    One detection run may write thousands of incidents; checked only when it starts, it could fill the
    last megabytes with WAL (leaving no room to checkpoint it, nor for the alerts' delivery log).
    Build it once per runtime and reuse it (worker.actors): what detection keeps between runs (story
    checks, spike counts) is kept per store object.
    """
    check = partial(check_disk_for_detection, rt, notify)
    return replace(rt, store=cast(Store, _GuardedWrites(rt.store, check, DETECTION_WRITES, None)))
