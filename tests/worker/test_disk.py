"""The free-space guard of ingest: one alert, no write under the floor, the WAL reclaimed before pausing."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from index.models import AlertKind, Post
from index.sqlite import SqliteStore
from index.store import AlertQuery, PostQuery
from infopole.settings import Settings
from tests.factories import make_alert, make_incident
from worker import disk
from worker.disk import DiskFull, check_disk, free_bytes, guarded, guarded_detection, reclaim_wal
from worker.runtime import Runtime

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


def runtime(tmp_path: Path) -> Runtime:
    settings = Settings(data_dir=tmp_path)
    store = SqliteStore(settings.sqlite_path)
    none: Any = None  # the guard needs no profile or understanding
    return Runtime(settings, store, none, none, lambda: AT)


def post(n: int) -> Post:
    return Post(id=f"p{n}", source="vk", source_id=str(n), published_at=AT, text=f"сообщение {n}")


def test_under_the_floor_ingest_stops_with_one_alert_and_writes_nothing(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    queued: list[str] = []
    above = free_bytes(tmp_path) / 1024 / 1024 + 1024  # MB: more than the disk has free
    with pytest.raises(DiskFull, match="приём сообщений приостановлен"):
        check_disk(rt, queued.append, above)
    with pytest.raises(DiskFull):
        guarded(rt, queued.append, above).store.upsert_posts([post(1)])
    assert rt.store.count_posts(PostQuery()) == 0
    alerts = rt.store.query_alerts(AlertQuery(kind=[AlertKind.source])).items
    assert len(alerts) == 1 and alerts[0].details["problem"] == "disk"
    assert "Мало места на диске" in alerts[0].title
    assert queued == [alerts[0].id]  # queued for delivery once, not once per paused batch

    # Space is back: the same guarded store writes, and reads pass straight through.
    open_rt = guarded(rt, queued.append, 0)
    assert open_rt.store.upsert_posts([post(1), post(2)]) == 2
    assert open_rt.store.count_posts(PostQuery()) == 2
    rt.store.close()


def test_a_detection_run_checks_the_space_before_each_incident_it_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime(tmp_path)
    queued: list[str] = []
    detecting = guarded_detection(rt, queued.append)
    assert detecting.store.save_incident(make_incident(id="i1")).id == "i1"  # room enough: written

    # The disk fills during the run: the next incident is not written, the alerts still are.
    monkeypatch.setattr(disk, "MIN_FREE_MB", 2 * (free_bytes(tmp_path) / 1024 / 1024 + 1024))
    with pytest.raises(DiskFull, match="обработка сохранённых сообщений приостановлена"):
        detecting.store.save_incident(make_incident(id="i2"))
    assert rt.store.get_incident("i2") is None
    assert detecting.store.add_alert(make_alert(id="a1"))
    assert detecting.store.get_incident("i1") is not None  # reads pass straight through
    disk_alerts = [a.id for a in rt.store.query_alerts(AlertQuery(kind=[AlertKind.source])).items]
    assert queued == disk_alerts and len(disk_alerts) == 1
    rt.store.close()


def test_reclaim_wal_checkpoints_and_truncates_the_log(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("CREATE TABLE t (x TEXT)")
    for _ in range(200):
        writer.execute("INSERT INTO t VALUES (?)", ("x" * 4000,))
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 500_000
    assert reclaim_wal(path)
    assert wal.stat().st_size == 0
    assert writer.execute("SELECT count(*) FROM t").fetchone() == (200,)
    writer.close()
    assert not reclaim_wal(tmp_path / "missing.sqlite3")
