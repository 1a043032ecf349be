"""The store unavailable for a while: writes wait and retry, the API answers 503, everything catches up.

- Workers: given a worker process group ingesting the demo stream, when another process holds the
  SQLite write lock for longer than the store's busy timeout (several times over in the full form),
  then ingest waits, fails with StoreUnavailable, is retried with back-off instead of going to the dead
  letters, and once the lock is released every post is stored exactly once.
- API over SQLite: while another writer holds the lock, reads still answer (WAL) and a write answers
  503 with a Russian message and Retry-After; after the release the same write succeeds.
- API over Elasticsearch (osmem-server): when the server is gone, reads answer 503 and the health
  check says the store is down.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import API_KEY_HEADER
from api.errors import STORE_UNAVAILABLE_MESSAGE
from crawlers.demo import DEMO_PROFILE_PATH
from crawlers.demo.generator import generate
from crawlers.demo.mapping import map_demo_item
from index.profile import load_profile
from index.sqlite import SqliteStore
from index.store import PostQuery, Store
from infopole.settings import ApiSettings, Settings
from tests.factories import make_alert, make_post
from tests.faults.conftest import scale
from tests.faults.harness import Producer, RedisServer, WorkerGroup, child_env, wait_until

pytestmark = pytest.mark.timeout(scale(600, 3600))

#: worker.actors.DEAD_LETTER_FILE (importing worker.actors here would bind dramatiq's global broker).
DEAD_LETTER_FILE = "dead-letters.jsonl"
#: The API key of these tests (development settings).
KEY = "faults-admin-key-0123456789"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@contextmanager
def write_locked(path: Path) -> Iterator[None]:
    """Hold the database's write lock from another connection (another writer) for the block."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def api_client(store: Store) -> TestClient:
    """Return a client of the real app over `store` with an admin key."""
    settings = Settings(env="development", api=ApiSettings(keys={KEY: "admin"}))
    app = create_app(settings, store, load_profile(DEMO_PROFILE_PATH), lambda: NOW)
    client = TestClient(app, raise_server_exceptions=False)
    client.headers[API_KEY_HEADER] = KEY
    return client


def test_locked_store_makes_ingest_wait_and_catch_up(tmp_path: Path, redis_server: RedisServer) -> None:
    items = generate(seed=7)[0][: scale(1000, 3000)]
    lock_s = scale(15, 150)  # the store's busy timeout is 10 s: writers fail and retry
    env = child_env(tmp_path, redis_server.url)
    db = tmp_path / "infopole.sqlite3"
    store = SqliteStore(db)
    workers = WorkerGroup(tmp_path, env)
    workers.start()
    producer = Producer(redis_server.url)
    try:

        def send_all() -> None:
            for start in range(0, len(items), 50):
                producer.send("ingest", "demo", items[start : start + 50])
                time.sleep(0.1)

        sender = threading.Thread(target=send_all, daemon=True)
        sender.start()
        wait_until(lambda: store.count_posts(PostQuery()) >= 200, 120, "the first posts to be stored")
        with write_locked(db):
            frozen = store.count_posts(PostQuery())
            time.sleep(lock_s)
            assert store.count_posts(PostQuery()) == frozen, "a write went through a held write lock"
        sender.join(timeout=120)
        producer.drain(timeout_s=scale(240, 400))
    finally:
        workers.stop()
        producer.close()

    expected = {map_demo_item(item, b"k").id for item in items}
    stored = store.query_posts(PostQuery(limit=len(items) + 10)).items
    assert len(stored) == len(expected) and {p.id for p in stored} == expected
    log = workers.log_file.read_text(encoding="utf-8", errors="replace")
    assert "занята дольше" in log, "the workers never saw the lock (the scenario did not bite)"
    assert "Retrying message" in log
    dead = tmp_path / DEAD_LETTER_FILE
    assert not dead.exists() or '"ingest"' not in dead.read_text(encoding="utf-8")
    store.close()


def test_api_answers_503_for_writes_while_the_store_is_locked(tmp_path: Path) -> None:
    db = tmp_path / "infopole.sqlite3"
    store = SqliteStore(db, busy_timeout_s=0.5)
    post = make_post(published_at=NOW)
    alert = make_alert(created_at=NOW)
    store.upsert_posts([post])
    store.add_alert(alert)
    client = api_client(store)
    with write_locked(db):
        assert client.get("/posts").status_code == 200  # readers are not blocked by a writer (WAL)
        refused = client.post(f"/alerts/{alert.id}/ack")
        assert refused.status_code == 503
        assert refused.json() == {"detail": STORE_UNAVAILABLE_MESSAGE}
        assert refused.headers["Retry-After"].isdigit()
    accepted = client.post(f"/alerts/{alert.id}/ack")
    assert accepted.status_code == 200, accepted.text
    stored = store.get_alert(alert.id)
    assert stored is not None and stored.acknowledged_at is not None
    store.close()


def test_api_answers_503_when_elasticsearch_is_down() -> None:
    try:
        import osmem_server as osmem
    except ImportError:
        message = "osmem-server не установлен: pip install -e '.[dev]'"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from index.elastic import ElasticStore, connect
    from index.es_setup import Layout

    server = osmem.OsmemServer.start(addr="127.0.0.1:0", japanese=False)
    try:
        es = ElasticStore(
            connect(server.url, "", "", plain_json=True, timeout_s=2.0),
            Layout(prefix="faults", lifecycle=False, retention_days=365),
        )
        es.upsert_posts([make_post(published_at=NOW)])
        client = api_client(es)
        assert client.get("/posts").status_code == 200
    finally:
        server.close()
    down = client.get("/posts")
    assert down.status_code == 503
    assert down.json() == {"detail": STORE_UNAVAILABLE_MESSAGE}
    assert client.get("/healthz").status_code == 503
