"""Replay: reading a gz JSONL stream, the virtual clock, time-compressed batches and resuming."""

from __future__ import annotations

import gzip
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawlers.replay import VirtualClock, item_time, iter_stream, replay_batches

T0 = datetime(2026, 10, 25, 21, 0, tzinfo=UTC)


def _items(count: int, step_s: float) -> list[dict[str, Any]]:
    return [
        {"item_id": str(i), "date": int(T0.timestamp() + i * step_s), "text": f"т{i}"} for i in range(count)
    ]


class FakeTime:
    """A monotonic clock that only moves when the replay sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_iter_stream_skips_broken_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "stream.jsonl.gz"
    good = [{"item_id": "1", "date": 1}, {"item_id": "2", "date": 2}]
    payload = (
        json.dumps(good[0]).encode()
        + b"\n{broken json\n[1, 2]\n\n"
        + b'{"item_id": "\xff\xfe", "date": 3}\n'
        + json.dumps(good[1]).encode()
        + b"\n"
    )
    path.write_bytes(gzip.compress(payload))
    with caplog.at_level(logging.WARNING, logger="crawlers.replay"):
        out = list(iter_stream(path))
    assert [o["item_id"] for o in out] == ["1", "\ufffd\ufffd", "2"]
    assert "строка 2" in caplog.text and "строка 3" in caplog.text


def test_iter_stream_reads_plain_jsonl_and_survives_truncation(tmp_path: Path) -> None:
    plain = tmp_path / "s.jsonl"
    plain.write_text('{"a": 1}\n{"a": 2}\n', encoding="utf-8")
    assert [o["a"] for o in iter_stream(plain)] == [1, 2]
    full = gzip.compress(b"".join(json.dumps({"a": i}).encode() + b"\n" for i in range(2000)))
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(full[: len(full) // 2])
    got = list(iter_stream(cut))
    assert 0 < len(got) < 2000


def test_virtual_clock_runs_speed_times_faster() -> None:
    fake = FakeTime()
    clock = VirtualClock(T0, speed=3600.0, monotonic=fake.monotonic)
    assert clock.now() == T0
    fake.now += 2.5
    assert clock.now() == T0 + timedelta(hours=2.5)
    assert clock.real_delay_s(T0 + timedelta(hours=3)) == pytest.approx(0.5)
    assert clock.real_delay_s(T0) == 0.0
    explicit = VirtualClock(T0, speed=60.0, real_start=90.0, monotonic=fake.monotonic)
    assert explicit.now() == T0 + timedelta(minutes=(fake.now - 90.0))


@pytest.mark.parametrize("speed", [0.0, float("inf")])
def test_unlimited_clock_follows_released_items(speed: float) -> None:
    clock = VirtualClock(T0, speed=speed)
    assert clock.unlimited and clock.now() == T0
    items = _items(50, 600)
    batches = list(replay_batches(items, clock, batch_size=20))
    assert [len(b) for _, b in batches] == [20, 20, 10]
    assert clock.now() == item_time(items[-1])


def test_bad_speed_and_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="скорость"):
        VirtualClock(T0, speed=-1)
    with pytest.raises(ValueError, match="скорость"):
        VirtualClock(T0, speed=float("nan"))
    with pytest.raises(ValueError, match="пачки"):
        list(replay_batches([], VirtualClock(T0, 0), batch_size=0))
    with pytest.raises(ValueError, match="смещение"):
        list(replay_batches([], VirtualClock(T0, 0), start_after=-1))


def test_replay_releases_items_only_when_due_with_a_fake_clock() -> None:
    fake = FakeTime()
    clock = VirtualClock(T0, speed=600.0, monotonic=fake.monotonic)  # 10 stream minutes per second
    items = _items(30, 60)  # one item a stream minute
    seen: list[dict[str, Any]] = []
    for offset, batch in replay_batches(items, clock, batch_size=7, sleep=fake.sleep, max_sleep_s=0.05):
        now = clock.now()
        assert all(item_time(i) <= now for i in batch)  # type: ignore[operator]
        assert len(batch) <= 7 and offset == len(seen) + len(batch)
        seen.extend(batch)
    assert seen == items
    assert max(fake.sleeps) <= 0.05
    assert fake.now - 100.0 == pytest.approx(29 * 60 / 600, abs=0.06)


def test_replay_respects_a_real_fast_clock() -> None:
    items = _items(40, 90)  # one stream hour
    clock = VirtualClock(T0, speed=36_000.0)  # 10 stream hours per second → about 0.1 s
    started = time.monotonic()
    seen = 0
    for _, batch in replay_batches(items, clock, batch_size=500):
        assert all(item_time(i) <= clock.now() for i in batch)  # type: ignore[operator]
        seen += len(batch)
    elapsed = time.monotonic() - started
    assert seen == 40
    assert 39 * 90 / 36_000 - 0.01 <= elapsed < 2.0


def test_resume_from_an_offset_without_gaps_or_duplicates() -> None:
    items = _items(1000, 30)
    first_run: list[dict[str, Any]] = []
    cursor = 0
    for offset, batch in replay_batches(items, VirtualClock(T0, 0), batch_size=64):
        first_run.extend(batch)
        cursor = offset
        if len(first_run) >= 300:
            break  # the process stops; the caller kept `cursor` in the store
    assert cursor == len(first_run) == 320
    second_run = [
        i for _, b in replay_batches(iter(items), VirtualClock(T0, 0), start_after=cursor) for i in b
    ]
    assert first_run + second_run == items
    assert list(replay_batches(items, VirtualClock(T0, 0), start_after=1000)) == []


def test_items_without_a_date_are_released_at_once(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTime()
    clock = VirtualClock(T0, speed=60.0, monotonic=fake.monotonic)
    items = [{"item_id": "x", "date": "вчера"}, {"item_id": "y"}, *_items(1, 0)]
    with caplog.at_level(logging.WARNING, logger="crawlers.replay"):
        out = [i for _, b in replay_batches(items, clock, sleep=fake.sleep) for i in b]
    assert out == items and fake.sleeps == []
    assert "без корректной даты" in caplog.text
