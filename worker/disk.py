"""Free space on the data directory's disk: below a floor, ingest pauses with a clear error and an alert.

SQLite survives a full disk (the transaction is rolled back, the file stays intact), but a worker that
keeps writing until the last byte leaves no room for the alert that says so, and the broker's
append-only file lives on the same disk in the embedded mode. So the ingest actor checks the free space
first: under INFOPOLE_MIN_FREE_MB it stores one alert for the day (there is still room for it) and
raises DiskFull, a StoreUnavailable — the message is retried with back-off (worker.retrying) and
ingest resumes by itself once space is freed.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from index.models import Alert, AlertKind, as_utc, stable_id
from index.store import StoreUnavailable
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


def check_disk(rt: Runtime, notify: Callable[[str], object], floor_mb: float | None = None) -> None:
    """Raise DiskFull (after storing and queuing the day's alert) when free space is under the floor."""
    floor = MIN_FREE_MB if floor_mb is None else floor_mb
    data_dir = rt.settings.data_dir
    free = free_bytes(data_dir)
    if free >= floor * _MB:
        return
    message = (
        f"на диске с данными ({data_dir}) свободно {free / _MB:.1f} МБ — меньше {floor:g} МБ: "
        "приём сообщений приостановлен до освобождения места"
    )
    log.error("%s", message)
    alert = disk_alert(data_dir, free, floor, rt.clock())
    try:
        if rt.store.add_alert(alert):
            notify(alert.id)
    except StoreUnavailable as exc:  # not even room for the alert: the log line above is all there is
        log.error("оповещение о нехватке места не записано: %s", exc)
    raise DiskFull(message)
