"""SQLite-only behaviour: several processes and threads, migrations, locking and I/O errors."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from index.models import Post
from index.sqlite import SqliteStore, fts_query
from index.sqlite_schema import LATEST_VERSION, MIGRATIONS, hour_bucket, migrate
from index.store import PostQuery, StoreUnavailable
from tests.factories import BASE_TIME, make_incident, make_post
from tests.index.test_store_contract import SUBSETS

SECTORS = ("жкх", "дороги", "транспорт", None)


def _numbered_post(i: int, variant: int = 0) -> Post:
    """Return post number `i` (same id and rollup cell for any `variant`; the text differs)."""
    return make_post(
        id=f"mp:{i:05d}",
        published_at=BASE_TIME + timedelta(minutes=7 * i),
        sector=SECTORS[i % 4],
        territory=["centr", "sever", "yug"][i % 3],
        source=["vk", "tg"][i % 2],
        text=f"Сообщение {i}, вариант {variant}",
        lemmas=f"сообщение вариант {variant}",
    )


def _upsert_worker(
    path: str,
    order: int,
    total: int,
    batch: int,
    start: threading.Barrier,
    results: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    """Upsert posts 0..total-1 in batches (reversed when `order` is 1) and report how many were new."""
    store = SqliteStore(path)
    start.wait(timeout=60)
    ids = list(range(total)) if order == 0 else list(reversed(range(total)))
    new = 0
    for first in range(0, total, batch):
        new += store.upsert_posts([_numbered_post(i, variant=order) for i in ids[first : first + batch]])
    store.close()
    results.put(new)


def test_two_processes_upserting_the_same_ids_end_with_exact_rows(tmp_path: Path) -> None:
    path = tmp_path / "mp.sqlite3"
    SqliteStore(path).close()
    total = 3000
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[int] = ctx.Queue()
    start = ctx.Barrier(2)
    workers = [
        ctx.Process(target=_upsert_worker, args=(str(path), order, total, 100, start, results))
        for order in (0, 1)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    new_counts = [results.get(timeout=5), results.get(timeout=5)]
    assert sum(new_counts) == total  # every id was new for exactly one of them

    store = SqliteStore(path)
    assert store.count_posts(PostQuery()) == total
    posts = store.query_posts(PostQuery(limit=total)).items
    assert sorted(p.id for p in posts) == [f"mp:{i:05d}" for i in range(total)]
    assert all(p.lemmas in ("сообщение вариант 0", "сообщение вариант 1") for p in posts)
    # Full text holds exactly one entry per post, whichever variant won.
    assert store.count_posts(PostQuery(text="сообщение")) == total
    assert store.count_posts(PostQuery(text="вариант 0")) + store.count_posts(PostQuery(text="1")) == total
    rows = store.counts(BASE_TIME - timedelta(days=1), BASE_TIME + timedelta(days=30), by=("sector",))
    assert sum(r.count for r in rows) == total
    by_sector = {s: sum(r.count for r in rows if r.sector == s) for s in SECTORS}
    assert by_sector == {s: sum(1 for i in range(total) if SECTORS[i % 4] == s) for s in SECTORS}
    store.close()


def test_threads_share_one_store(sqlite_store: SqliteStore) -> None:
    def write(base: int) -> None:
        for start in range(base, base + 200, 50):
            sqlite_store.upsert_posts([_numbered_post(i) for i in range(start, start + 50)])

    threads = [threading.Thread(target=write, args=(k * 200,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sqlite_store.count_posts(PostQuery()) == 800


def _upsert_in_child(store: SqliteStore) -> None:
    """Upsert one post through a store inherited over fork; fail if it reused the parent's connection."""
    inherited = store._local.conn
    store.upsert_posts([_numbered_post(7)])
    assert store._conn() is not inherited
    store.close()


def test_a_store_inherited_over_fork_opens_its_own_connection(sqlite_store: SqliteStore) -> None:
    sqlite_store.upsert_posts([_numbered_post(1)])
    child = multiprocessing.get_context("fork").Process(target=_upsert_in_child, args=(sqlite_store,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    # The parent's connection still works and sees the child's write.
    assert sqlite_store.count_posts(PostQuery()) == 2
    assert sqlite_store.upsert_posts([_numbered_post(8)]) == 1


def _write_v1_file(path: Path) -> None:
    """Create a version-1 file (no rollups, no post -> incident map) holding posts and incidents."""
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=1) == [1]
    posts = [_numbered_post(i) for i in range(30)]
    for post in posts:
        conn.execute(
            "INSERT INTO posts (id, published_at, source, sector, territory, data) VALUES (?, ?, ?, ?, ?, ?)",
            (
                post.id,
                post.published_at.timestamp(),
                post.source,
                post.sector,
                post.territory,
                post.model_dump_json(),
            ),
        )
    older = make_incident(post_ids=["mp:00001", "mp:00002"], updated_at=BASE_TIME)
    newer = make_incident(post_ids=["mp:00002", "mp:00003"], updated_at=BASE_TIME + timedelta(hours=1))
    for incident in (newer, older):
        conn.execute(
            "INSERT INTO incidents (id, status, created_at, version, data) VALUES (?, ?, ?, ?, ?)",
            (
                incident.id,
                incident.status.value,
                incident.created_at.timestamp(),
                1,
                incident.model_dump_json(),
            ),
        )
    conn.close()


def test_migrates_a_version_1_file(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _write_v1_file(path)
    store = SqliteStore(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION == MIGRATIONS[-1].version
    conn.close()

    posts = [_numbered_post(i) for i in range(30)]
    since, until = BASE_TIME - timedelta(days=1), BASE_TIME + timedelta(days=1)
    for by in SUBSETS:
        expected: Counter[tuple[int, str | None, str | None, str | None]] = Counter(
            (
                hour_bucket(post.published_at.timestamp()),
                post.sector if "sector" in by else None,
                post.territory if "territory" in by else None,
                post.source if "source" in by else None,
            )
            for post in posts
        )
        rows = store.counts(since, until, by=by)
        assert {
            (int(r.bucket.timestamp()), r.sector, r.territory, r.source): r.count for r in rows
        } == expected

    owner_1 = store.find_incident_for_post("mp:00001")
    owner_2 = store.find_incident_for_post("mp:00002")
    assert owner_1 is not None and owner_2 is not None
    assert owner_2.updated_at == BASE_TIME + timedelta(hours=1)  # the later incident keeps a shared post
    assert store.find_incident_for_post("mp:00003") == owner_2

    # New writes keep the backfilled rollups in step.
    store.upsert_posts([_numbered_post(0).model_copy(update={"source": "ok"})])
    total = store.counts(BASE_TIME - timedelta(days=1), BASE_TIME + timedelta(days=1))
    assert sum(r.count for r in total) == 30
    store.close()

    # Opening again applies nothing.
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn) == []
    conn.close()


def test_a_file_from_a_newer_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreUnavailable, match="новее"):
        SqliteStore(path)


def test_a_locked_database_gives_store_unavailable_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    store = SqliteStore(path, busy_timeout_s=0.2)
    store.upsert_posts([_numbered_post(1)])
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    batch = [_numbered_post(2), _numbered_post(3)]
    with pytest.raises(StoreUnavailable, match="занята"):
        store.upsert_posts(batch)
    assert store.count_posts(PostQuery()) == 1  # readers are not blocked in WAL mode
    holder.execute("ROLLBACK")
    holder.close()
    assert store.upsert_posts(batch) == 2
    assert store.count_posts(PostQuery()) == 3
    store.close()


def test_unopenable_and_corrupt_files_give_store_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("не папка")
    with pytest.raises(StoreUnavailable):
        SqliteStore(blocker / "db.sqlite3")
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(StoreUnavailable, match="недоступна"):
        SqliteStore(garbage)


def test_a_closed_store_gives_store_unavailable(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    store.close()
    with pytest.raises(StoreUnavailable, match="закрыто"):
        store.get_post("x")


def test_connection_settings(sqlite_store: SqliteStore) -> None:
    conn = sqlite3.connect(sqlite_store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    # Foreign keys are on: deleting an incident drops its post map.
    sqlite_store.save_incident(make_incident(id="inc-fk", post_ids=["p1"]))
    inner = sqlite_store._conn()
    inner.execute("DELETE FROM incidents WHERE id = 'inc-fk'")
    assert inner.execute("SELECT count(*) FROM incident_posts").fetchone()[0] == 0


def test_fts_query_quotes_every_word() -> None:
    assert fts_query('вода "OR" NEAR(яма) ёлка вода') == '"вода" AND "or" AND "near" AND "яма" AND "елка"'
    assert fts_query(" - * ") is None


def test_bad_arguments_raise_value_error(sqlite_store: SqliteStore) -> None:
    with pytest.raises(ValueError, match="группировать"):
        sqlite_store.counts(BASE_TIME, BASE_TIME, by=["author"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="интервал"):
        sqlite_store.counts(BASE_TIME, BASE_TIME, bucket="week")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="отрицательными"):
        sqlite_store.query_posts(PostQuery(limit=-1))


def test_rollup_cells_never_keep_zero_rows(sqlite_store: SqliteStore) -> None:
    post = _numbered_post(1)
    sqlite_store.upsert_posts([post])
    sqlite_store.upsert_posts([post.model_copy(update={"sector": "другое"})])
    cells = sqlite_store._conn().execute("SELECT grouping, sector, count FROM rollups").fetchall()
    assert sorted(cells) == [(g, "другое" if g & 1 else "", 1) for g in range(8)]
