"""The per-hour counts cache of SqliteStore stays exact across stores (processes) sharing one file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import index.sqlite_counts as counts_module
from index.sqlite import SqliteStore
from tests.factories import BASE_TIME, make_post


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[SqliteStore, SqliteStore]]:
    """Return two stores on one file: a reader with a warm cache and a writer (as two processes)."""
    reader, writer = SqliteStore(tmp_path / "s.sqlite3"), SqliteStore(tmp_path / "s.sqlite3")
    yield reader, writer
    reader.close()
    writer.close()


def _cells(store: SqliteStore) -> list[tuple[str, str | None, int]]:
    rows = store.counts(BASE_TIME - timedelta(days=1), BASE_TIME + timedelta(days=2), by=("sector",))
    return [(row.bucket.isoformat(), row.sector, row.count) for row in rows]


def _fresh(tmp_path: Path) -> list[tuple[str, str | None, int]]:
    store = SqliteStore(tmp_path / "s.sqlite3")
    try:
        return _cells(store)
    finally:
        store.close()


def test_another_process_write_is_seen_by_a_warm_cache(
    pair: tuple[SqliteStore, SqliteStore], tmp_path: Path
) -> None:
    reader, writer = pair
    post = make_post(sector="жкх", published_at=BASE_TIME + timedelta(minutes=10))
    writer.upsert_posts([post, make_post(sector="дороги", published_at=BASE_TIME + timedelta(hours=5))])
    assert len(_cells(reader)) == 2  # warm
    # Same hour, same total, another sector: only the cells move.
    writer.upsert_posts([post.model_copy(update={"sector": "транспорт"})])
    assert _cells(reader) == _fresh(tmp_path)
    assert ("транспорт", 1) in [(s, n) for _, s, n in _cells(reader)]
    writer.delete_posts_before(BASE_TIME + timedelta(hours=1))
    assert _cells(reader) == _fresh(tmp_path)
    assert [s for _, s, _ in _cells(reader)] == ["дороги"]


def test_a_reader_far_behind_the_log_starts_over(
    pair: tuple[SqliteStore, SqliteStore], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, writer = pair
    monkeypatch.setattr(counts_module, "LOG_KEEP", 2)
    writer.upsert_posts([make_post(sector="жкх", published_at=BASE_TIME)])
    assert len(_cells(reader)) == 1
    for hour in range(1, 8):  # more changed hours than the log keeps
        writer.upsert_posts([make_post(sector="жкх", published_at=BASE_TIME + timedelta(hours=hour))])
    assert _cells(reader) == _fresh(tmp_path) and len(_cells(reader)) == 8


def test_cached_rows_are_reused_until_their_hour_changes(pair: tuple[SqliteStore, SqliteStore]) -> None:
    reader, writer = pair
    writer.upsert_posts([make_post(published_at=BASE_TIME + timedelta(hours=h)) for h in range(6)])
    first = reader.counts(BASE_TIME, BASE_TIME + timedelta(hours=6))
    writer.upsert_posts([make_post(published_at=BASE_TIME + timedelta(hours=5, minutes=30))])
    second = reader.counts(BASE_TIME, BASE_TIME + timedelta(hours=6))
    assert [r.count for r in second] == [1, 1, 1, 1, 1, 2]
    assert all(a is b for a, b in zip(first[:5], second[:5], strict=True))  # untouched hours not re-read
    assert second[5] is not first[5]
