"""Disk almost full in the embedded mode: a clear error and an alert, no corrupted database, catch-up.

Given the data directory on a small tmpfs (mounted here when the test runs as root; otherwise the
shortage is simulated by raising the free-space floor above what the disk has, and the test says so)
that a ballast file has almost filled, when the demo stream is sent to a worker, then ingest stops
with a Russian error in the log and one `source` alert with problem "disk" (delivered to the webhook),
posts stop being written, and once the ballast is deleted everything sent is stored exactly once and
`PRAGMA integrity_check` passes.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from crawlers.demo.generator import generate
from crawlers.demo.mapping import map_demo_item
from index.models import AlertKind
from index.sqlite import SqliteStore
from index.store import AlertQuery, PostQuery
from tests.faults.conftest import scale
from tests.faults.harness import Producer, RedisServer, WebhookReceiver, WorkerGroup, child_env, wait_until
from worker.disk import free_bytes

pytestmark = pytest.mark.timeout(scale(600, 1800))

#: Size of the small disk (MB), the room left next to the ballast (MB) and the ingest floor (MB).
DISK_MB = 48
ROOM_MB = 8
FLOOR_MB = 6


@contextmanager
def tiny_disk(path: Path, size_mb: int) -> Iterator[bool]:
    """Mount a tmpfs of `size_mb` MB at `path` for the block; yield False when mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill(path: Path, leave_mb: int) -> Path:
    """Write a ballast file that leaves about `leave_mb` MB free on the disk of `path`."""
    ballast = path / "ballast.bin"
    size = max(0, free_bytes(path) - leave_mb * 1024 * 1024)
    with ballast.open("wb") as fh:
        chunk = b"\0" * (1024 * 1024)
        for _ in range(size // len(chunk)):
            fh.write(chunk)
    return ballast


def disk_alerts(store: SqliteStore) -> list[str]:
    """Return the ids of stored full-disk alerts."""
    alerts = store.query_alerts(AlertQuery(kind=[AlertKind.source], limit=100)).items
    return [a.id for a in alerts if a.details.get("problem") == "disk"]


def wait_for_stall(store: SqliteStore, quiet_s: float, timeout_s: float) -> int:
    """Return the post count once it has not changed for `quiet_s` seconds; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    count, since = store.count_posts(PostQuery()), time.monotonic()
    while time.monotonic() - since < quiet_s:
        if time.monotonic() > deadline:
            raise AssertionError("posts kept being written on a full disk")
        time.sleep(0.2)
        now_count = store.count_posts(PostQuery())
        if now_count != count:
            count, since = now_count, time.monotonic()
    return count


def test_disk_almost_full_stops_ingest_cleanly_and_resumes(
    tmp_path: Path, redis_server: RedisServer, webhook: WebhookReceiver
) -> None:
    items = generate(seed=7)[0][: scale(1500, 6000)]
    with tiny_disk(tmp_path / "disk", DISK_MB) as real:
        data_dir = tmp_path / "disk" / "data"
        store = SqliteStore(data_dir / "infopole.sqlite3")
        if real:
            ballast: Path | None = fill(tmp_path / "disk", ROOM_MB)
            floor = FLOOR_MB
        else:
            warnings.warn(
                "нет прав на mount: нехватка места имитируется порогом свободного места", stacklevel=1
            )
            ballast = None
            floor = int(free_bytes(data_dir) / 1024 / 1024) + 1024
        env = child_env(
            data_dir, redis_server.url, NOTIFY__WEBHOOK_URL=webhook.url, INFOPOLE_MIN_FREE_MB=str(floor)
        )
        workers = WorkerGroup(data_dir, env, log_dir=tmp_path)  # the log must not need the full disk
        workers.start()
        producer = Producer(redis_server.url)
        try:
            for start in range(0, len(items), 50):
                producer.send("ingest", "demo", items[start : start + 50])
            wait_until(lambda: bool(disk_alerts(store)), 180, "the full-disk alert")
            # Reclaiming the WAL may free room for a few more batches; then writes must stop for good.
            stalled = wait_for_stall(store, quiet_s=3.0, timeout_s=120.0)
            assert stalled < len(items), "the disk never got in the way"
            wait_until(lambda: bool(webhook.delivered() & set(disk_alerts(store))), 120, "its delivery")

            # Space is freed: everything waiting in the queue is stored.
            if ballast is not None:
                ballast.unlink()
            else:
                workers.stop()
                workers.env["INFOPOLE_MIN_FREE_MB"] = "0"
                workers.start()
            producer.drain(timeout_s=scale(300, 900))
        finally:
            workers.stop()
            producer.close()
        log = workers.log_file.read_text(encoding="utf-8", errors="replace")
        assert "меньше" in log and "приём сообщений приостановлен" in log
        expected = {map_demo_item(item, b"k").id for item in items}
        stored = store.query_posts(PostQuery(limit=len(items) + 10)).items
        assert len(stored) == len(expected) and {p.id for p in stored} == expected
        assert len(disk_alerts(store)) == 1
        assert max(webhook.deliveries[a] for a in disk_alerts(store)) == 1
        store.close()
        conn = sqlite3.connect(data_dir / "infopole.sqlite3")
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            conn.close()
    assert real or os.geteuid() != 0, "running as root, yet the tmpfs could not be mounted"
