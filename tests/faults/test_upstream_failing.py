"""A collector's upstream failing for an hour: the rest runs, the silence alert fires, no gap after.

Given the loopback OK API (signed requests, the Тестовск group publishing a topic every few minutes)
behind a fault switch, and the loopback VK API as a healthy neighbour, when for a simulated hour every
OK request gets a 5xx, a timeout, an HTTP 429, malformed JSON or OK's own flood and limit errors in
turn — collection runs every 5 minutes as the scheduler would start it — then:

- OK never crashes the run: each attempt ends in a retry, a pause or a recorded failure;
- VK is collected on every tick meanwhile, and its posts reach the store;
- the silent-source alert for OK fires once for the episode (and is handed to delivery once);
- once OK answers again, one run brings every topic published during the outage: nothing skipped,
  nothing twice.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs

import dramatiq
import pytest
from pydantic import SecretStr

import crawlers.ok.client as ok_client_module
import crawlers.vk.client as vk_client_module
from crawlers.registry import get_mapper
from index.models import AlertKind, SourceState
from index.sqlite import SqliteStore
from index.store import AlertQuery, PostQuery
from infopole.settings import CollectSettings, OkSettings, Settings, VkSettings
from risk.understand import Understander
from tests.crawlers.ok.conftest import NOW, ok_profile
from tests.crawlers.ok.fake_ok import APP_KEY, APP_SECRET, GROUP, TOKEN, OkWorld, ok_error, standard_world
from tests.crawlers.vk.fake_vk import FakeVkServer, mount
from tests.crawlers.vk.world import build_profile, build_world
from tests.faults.conftest import scale
from worker.collecting import CollectReport, collect_once
from worker.runtime import Runtime

#: What the failing upstream does, in turn, one mode per collection tick.
FAILURES = ("5xx", "timeout", "429", "malformed", "flood", "5xx", "limit")
#: Minutes between collection ticks (the scheduler's poll interval of the scenario).
TICK_MIN = 5
#: The client's timeout in the scenario (s) and how long a "timeout" answer takes.
CLIENT_TIMEOUT_S = 0.3
HANG_S = 1.0


@dataclass
class FaultyOk:
    """The OK world behind a loopback server whose answers can be broken on purpose."""

    world: OkWorld
    mode: str = "ok"
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/fb.do"

    def answer(self, params: dict[str, str]) -> tuple[int, bytes]:
        """Return the status and body for one request in the current mode."""
        with self.lock:
            self.requests += 1
            mode = self.mode
        if mode == "5xx":
            return 503, b"<html>Service Temporarily Unavailable</html>"
        if mode == "timeout":
            time.sleep(HANG_S)
            return 504, b""
        if mode == "429":
            return 429, b"Too Many Requests"
        if mode == "malformed":
            return 200, b'{"media_topics": [{"id": "1550'
        if mode == "flood":
            return 200, json.dumps(ok_error(8, "FLOOD_BLOCKED : Flood blocked")).encode()
        if mode == "limit":
            return 200, json.dumps(ok_error(11, "LIMIT_REACHED : Limit reached")).encode()
        return 200, json.dumps(self.world.handle(params), ensure_ascii=False).encode("utf-8")

    def start(self) -> FaultyOk:
        """Serve on 127.0.0.1 (a random port)."""
        faulty = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode("utf-8"), keep_blank_values=True)
                status, body = faulty.answer({k: v[-1] for k, v in form.items()})
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json;charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class Clock:
    """The scenario's "now", moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Sink:
    """Maps and stores what a collector hands over (the ingest step without understanding)."""

    store: SqliteStore
    key: bytes
    items: dict[str, int] = field(default_factory=dict)  # post id -> times handed over

    def __call__(self, mapper: str, items: list[dict[str, Any]]) -> None:
        posts = [get_mapper(mapper)(raw, self.key) for raw in items]
        self.store.upsert_posts(posts)
        for post in posts:
            self.items[post.id] = self.items.get(post.id, 0) + 1


def topic_at(number: int, at: datetime) -> dict[str, Any]:
    """Return a new group topic published at `at`."""
    topic = copy.deepcopy(standard_world().topics[GROUP][0])
    topic["id"] = f"1559{number:08d}"
    topic["created_ms"] = int(at.timestamp() * 1000)
    topic["media"][0]["text"] = f"Объявление администрации № {number}: график вывоза мусора на неделю."
    topic["discussion_summary"] = {"comments_count": 0}
    return topic


def publish(world: OkWorld, topic: dict[str, Any]) -> None:
    """Add a topic to the group's feed (newest first)."""
    with world.lock:
        world.topics[GROUP].insert(0, topic)


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultyOk]:
    world = standard_world()
    world.comments = {}
    monkeypatch.setattr(ok_client_module, "HTTP_TIMEOUT_S", CLIENT_TIMEOUT_S)
    monkeypatch.setattr(ok_client_module, "BACKOFF_S", 0.01)
    server = FaultyOk(world).start()
    yield server
    server.stop()


def test_upstream_failing_for_an_hour(
    tmp_path: Path, upstream: FaultyOk, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = NOW - timedelta(hours=2)
    # Two hours of steady publishing before the outage: the usual gap is 10 minutes.
    for n in range(12):
        publish(upstream.world, topic_at(n, start + timedelta(minutes=10 * n)))
    settings = Settings(
        env="development",
        ok=OkSettings(
            application_key=APP_KEY,
            session_key=SecretStr(TOKEN),
            application_secret_key=SecretStr(APP_SECRET),
            api_url=upstream.url,
            requests_per_second=1000,
        ),
        vk=VkSettings(token=SecretStr("good-token"), requests_per_second=1000),
        collect=CollectSettings(silence_factor=3.0, silence_min_hours=0.5, retry_max_s=300),
    )
    store = SqliteStore(tmp_path / "infopole.sqlite3")
    clock = Clock(start + timedelta(minutes=115))
    understander = cast(Understander, None)  # the sink stores mapped posts; understanding is not the point
    ok_rt = Runtime(settings, store, ok_profile(), understander, clock)
    vk_rt = Runtime(settings, store, build_profile(), understander, clock)
    sink = Sink(store, settings.pseudonym_key)
    notified: list[str] = []

    def collect(rt: Runtime, source: str) -> CollectReport | str:
        try:
            return collect_once(rt, source, sink=sink, notify=notified.append)
        except dramatiq.Retry as retry:  # the actor would be retried by the queue
            return f"retry in {retry.delay} ms"

    with FakeVkServer(build_world()) as vk_server:
        monkeypatch.setattr(vk_client_module, "_TimeoutSession", lambda: mount(vk_server.url))
        first = collect(ok_rt, "ok")
        assert isinstance(first, CollectReport) and first.status == "ok", first
        before = {pid for pid in sink.items if pid.startswith("ok:")}
        assert len(before) >= 12

        # The outage: the group keeps publishing, every OK answer is broken, VK goes on as usual.
        outcomes: dict[str, list[str]] = {}
        vk_posts = 0
        published = []
        ticks = scale(12, 24)
        for tick in range(1, ticks + 1):
            clock.now = NOW + timedelta(minutes=TICK_MIN * tick)
            topic = topic_at(100 + tick, clock.now - timedelta(minutes=1))
            publish(upstream.world, topic)
            published.append(topic["id"])
            upstream.mode = FAILURES[tick % len(FAILURES)]
            result = collect(ok_rt, "ok")
            outcome = result if isinstance(result, str) else result.status
            outcomes.setdefault(upstream.mode, []).append(outcome)
            assert isinstance(result, str) or result.status in ("retry", "paused", "failed"), result
            assert isinstance(result, str) or result.items == 0
            vk = collect(vk_rt, "vk")
            assert isinstance(vk, CollectReport) and vk.status == "ok", vk
            vk_posts = len([pid for pid in sink.items if pid.startswith("vk:")])
        assert vk_posts > 0, "the healthy source brought nothing while the other one failed"
        assert upstream.requests > ticks, "the failing upstream was not even asked"

        state = store.get_source_state("ok")
        assert state is not None and state.last_error
        assert sum(state.errors.values()) >= len(FAILURES) - 1, state.errors
        silence = [
            a
            for a in store.query_alerts(AlertQuery(kind=[AlertKind.source])).items
            if a.source == "ok" and a.details.get("problem") == "silent"
        ]
        assert len(silence) == 1, f"silence alerts: {[a.title for a in silence]}"
        assert notified.count(silence[0].id) == 1
        assert "молчит" in silence[0].title

        # Recovery: the next run after any pause brings the whole outage, once.
        upstream.mode = "ok"
        clock.now = max(clock.now, paused_until(state)) + timedelta(minutes=TICK_MIN)
        recovered = collect(ok_rt, "ok")
        assert isinstance(recovered, CollectReport) and recovered.status == "ok", (recovered, outcomes)
    stored = {p.source_id for p in store.query_posts(PostQuery(source="ok", limit=1000)).items}
    missing = [tid for tid in published if not any(sid.endswith(tid) for sid in stored)]
    assert not missing, f"topics published during the outage never collected: {missing}"
    twice = {pid: n for pid, n in sink.items.items() if n > 1 and pid.startswith("ok:")}
    assert not twice, f"handed over twice: {twice}"
    store.close()


def paused_until(state: SourceState) -> datetime:
    """Return when a pause of the source ends (or the epoch when it is not paused)."""
    return state.paused_until or datetime.min.replace(tzinfo=NOW.tzinfo)
