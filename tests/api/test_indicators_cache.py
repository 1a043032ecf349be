"""Indicators kept per (period, slice): fresh, stale while recomputed, cold, and shared through files."""

from __future__ import annotations

import tempfile
import threading
import time
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.indicators import compute_indicators
from api.indicators_cache import IndicatorsCache
from index.profile import Profile
from index.sqlite import SqliteStore
from infopole.settings import ApiSettings, Settings
from risk.indicators import Indicators
from tests.api.conftest import NOW, ROLE_KEYS, Clock, headers
from tests.factories import make_post


class FakeClock:
    """A settable epoch-seconds clock."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


_EMPTY: list[Indicators] = []


def _value(scanned: int) -> Indicators:
    """Return real indicators (of an empty store) marked with `scanned`."""
    if not _EMPTY:
        with tempfile.TemporaryDirectory() as directory:
            store = SqliteStore(Path(directory) / "empty.sqlite3")
            _EMPTY.append(compute_indicators(store, NOW - timedelta(days=7), NOW, NOW, UTC))
            store.close()
    return _EMPTY[0].model_copy(update={"scanned": scanned})


class Counting:
    """A computation that returns how many times it ran (in `scanned`)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.calls = 0
        self.delay_s = delay_s
        self.lock = threading.Lock()

    def __call__(self) -> Indicators:
        with self.lock:
            self.calls += 1
            calls = self.calls
        time.sleep(self.delay_s)
        return _value(calls)


def _wait_for(condition: object, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("with_files", [True, False])
def test_fresh_then_stale_while_refreshed_then_cold(tmp_path: Path, with_files: bool) -> None:
    clock = FakeClock()
    cache = IndicatorsCache(tmp_path if with_files else None, ttl_s=60, stale_s=600, clock=clock)
    compute = Counting()
    assert cache.get("k", compute).scanned == 1
    clock.now += 59
    assert cache.get("k", compute).scanned == 1  # fresh: not computed again
    assert cache.get("other", compute).scanned == 2  # another key is its own
    clock.now += 2
    assert cache.get("k", compute).scanned == 1  # stale: served while a thread recomputes
    _wait_for(lambda: compute.calls == 3)
    _wait_for(lambda: cache.get("k", compute).scanned == 3)
    clock.now += 700
    assert cache.get("k", compute).scanned == 4  # too old to serve: computed before answering


def test_concurrent_cold_callers_share_one_computation(tmp_path: Path) -> None:
    cache = IndicatorsCache(tmp_path, ttl_s=60)
    compute = Counting(delay_s=0.2)
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("k", compute).scanned)) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [1] * 8
    assert compute.calls == 1


def test_processes_share_answers_through_the_directory(tmp_path: Path) -> None:
    clock = FakeClock()
    first = IndicatorsCache(tmp_path, ttl_s=60, clock=clock)
    second = IndicatorsCache(tmp_path, ttl_s=60, clock=clock)  # another API process
    compute = Counting()
    assert first.get("k", compute).scanned == 1
    assert second.get("k", compute).scanned == 1
    assert compute.calls == 1
    (next(tmp_path.glob("*.json"))).write_text("{broken", encoding="utf-8")
    fresh = IndicatorsCache(tmp_path, ttl_s=60, clock=clock)
    assert fresh.get("k", compute).scanned == 2  # an unreadable file is recomputed, not an error


def test_a_failed_refresh_keeps_serving_the_stale_answer(tmp_path: Path) -> None:
    clock = FakeClock()
    cache = IndicatorsCache(tmp_path, ttl_s=60, stale_s=600, clock=clock)
    cache.get("k", Counting())
    clock.now += 120
    failed = threading.Event()

    def broken() -> Indicators:
        failed.set()
        raise RuntimeError("store down")

    assert cache.get("k", broken).scanned == 1
    assert failed.wait(5)
    assert cache.get("k", broken).scanned == 1


def test_route_serves_the_kept_answer_until_it_expires(
    tmp_path: Path, sqlite_store: SqliteStore, profile: Profile
) -> None:
    keys = {k: r for r, k in ROLE_KEYS.items()}
    settings = Settings(env="development", data_dir=tmp_path, api=ApiSettings(keys=keys, indicators_ttl_s=60))
    app = create_app(settings, sqlite_store, profile, Clock(NOW))
    params = {"since": (NOW - timedelta(days=1)).isoformat(), "until": NOW.isoformat()}
    with TestClient(app) as client:
        before = client.get("/indicators", params=params, headers=headers("analyst")).json()
        sqlite_store.upsert_posts([make_post(published_at=NOW - timedelta(hours=2))])
        kept = client.get("/indicators", params=params, headers=headers("analyst")).json()
        other = client.get(
            "/indicators", params={**params, "sector": "жкх"}, headers=headers("analyst")
        ).json()
    assert before["volume"]["total"] == kept["volume"]["total"] == 0
    assert other["slice"]["sector"] == "жкх"
    assert list((tmp_path / "cache" / "indicators").glob("*.json"))


def test_period_up_to_now_keeps_its_answer_across_the_hour(
    tmp_path: Path, sqlite_store: SqliteStore, profile: Profile
) -> None:
    keys = {k: r for r, k in ROLE_KEYS.items()}
    settings = Settings(env="development", data_dir=tmp_path, api=ApiSettings(keys=keys, indicators_ttl_s=60))
    clock = Clock(NOW)
    app = create_app(settings, sqlite_store, profile, clock)
    with TestClient(app) as client:
        first = client.get("/indicators", headers=headers("analyst")).json()
        clock.now = NOW + timedelta(hours=1)
        kept = client.get("/indicators", headers=headers("analyst")).json()
        fixed = {"since": first["since"], "until": (NOW + timedelta(hours=1)).isoformat()}
        explicit = client.get("/indicators", params=fixed, headers=headers("analyst")).json()
    assert kept["until"] == first["until"]  # the kept answer says which period it covers
    assert explicit["until"] != first["until"]  # an explicit period is its own key
