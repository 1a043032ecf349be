"""Health of collection: newest items, the usual gap, silence, and the status the analyst sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crawlers.health import (
    ITEM_TIMES_KEPT,
    RUNS_KEPT,
    credentials_alert,
    health_of,
    is_silent,
    record_items,
    record_run,
    silence_threshold,
    usual_gap,
)
from index.models import AlertKind, SourceState

NOW = datetime(2024, 3, 6, 10, 0, tzinfo=UTC)


def test_record_items_keeps_the_newest_times_and_the_newest_item() -> None:
    state = SourceState(name="vk")
    record_items(state, [NOW - timedelta(minutes=i) for i in range(100)])
    assert len(state.item_times) == ITEM_TIMES_KEPT
    assert state.newest_item_at == NOW
    record_items(state, [NOW - timedelta(days=3)])  # a late old item changes nothing
    assert state.newest_item_at == NOW and min(state.item_times) > NOW - timedelta(days=1)
    record_items(state, [])
    assert state.newest_item_at == NOW


def test_record_run_keeps_recent_runs() -> None:
    state = SourceState(name="vk")
    for n in range(30):
        record_run(state, n)
    assert state.run_items == list(range(30 - RUNS_KEPT, 30)) and state.items_last_run == 29


def test_usual_gap_and_threshold() -> None:
    state = SourceState(name="vk")
    assert usual_gap(state) is None
    assert silence_threshold(state, 3.0, 6.0) == timedelta(hours=6)
    record_items(state, [NOW - timedelta(hours=i) for i in range(10)])
    assert usual_gap(state) == timedelta(hours=1)
    assert silence_threshold(state, 3.0, 1.0) == timedelta(hours=3)
    assert not is_silent(state, NOW + timedelta(hours=2, minutes=59), 3.0, 1.0)
    assert is_silent(state, NOW + timedelta(hours=3, minutes=1), 3.0, 1.0)


def test_statuses() -> None:
    never = health_of(SourceState(name="ok"), NOW, 3.0, 6.0)
    assert (never.status, never.status_text, never.title) == ("never", "ещё не собирал", "Одноклассники")
    paused = SourceState(
        name="vk", paused_until=NOW + timedelta(hours=2), paused_reason="токен VK недействителен"
    )
    view = health_of(paused, NOW, 3.0, 6.0)
    assert (
        view.status == "paused"
        and view.status_text == "приостановлен до 06.03 12:00 UTC: токен VK недействителен"
    )
    failing = SourceState(
        name="vk", last_success_at=NOW - timedelta(hours=1), last_error_at=NOW, last_error="VK 10: ошибка"
    )
    assert health_of(failing, NOW, 3.0, 6.0).status == "failing"
    fine = SourceState(name="vk", last_success_at=NOW, newest_item_at=NOW - timedelta(minutes=3))
    view = health_of(fine, NOW, 3.0, 6.0)
    assert (view.status, view.lag_s) == ("ok", 180)


def test_credentials_alert_is_one_per_token_and_reason() -> None:
    a = credentials_alert("vk", "abc", "токен VK недействителен", NOW)
    b = credentials_alert("vk", "abc", "токен VK недействителен", NOW + timedelta(hours=1))
    c = credentials_alert("vk", "def", "токен VK недействителен", NOW)
    assert a.id == b.id != c.id
    assert a.kind == AlertKind.source and a.details["audience"] == "analyst"
