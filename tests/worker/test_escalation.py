"""An overdue storm: 300 incidents fall due at once. Every step is recorded on its incident; each
recipient gets one message per run, the head of the centre a digest plus the critical incidents, and a
second run for the same slot sends nothing. Deliveries go through the real notify path to a loopback
stand-in of the Telegram Bot API."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import SecretStr

from index.models import (
    Alert,
    AlertKind,
    ChannelKind,
    Incident,
    IncidentStatus,
    NotifyChannel,
    Priority,
    Subscription,
)
from index.profile import Profile, Recipient, Territory
from index.sqlite import SqliteStore
from index.store import AlertQuery, IncidentQuery
from infopole.settings import NotifySettings, Settings, TelegramSettings
from risk.alerts import AUDIENCE_HEAD, AUDIENCE_RECIPIENT, told_steps
from risk.incidents import escalation_rules
from tests.worker.notify_standins import LoopbackServer
from worker.escalation import ESCALATION_LOCK, escalate_overdue
from worker.notify import Notifier, thread_lock
from worker.runtime import Runtime

#: Tuesday 2026-01-20 12:00 Moscow: every storm incident's first-answer deadline.
DEADLINE = datetime(2026, 1, 20, 9, 0, tzinfo=UTC)
RECIPIENTS = ("zhkh", "roads", "transport")
HEAD_CHAT = "100500"
STORM = 300
CRITICAL = 3
#: Critical incidents per recipient (incidents are dealt out in turn).
CRITICAL_EACH = 1


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def build_profile() -> Profile:
    """Return a town with three recipients, each with its own and its head's Telegram chat."""
    return Profile(
        name="Тестовск",
        territories=[Territory(id="city", name="Тестовск", level="municipality")],
        recipients=[
            Recipient(
                id=rid,
                name=f"Отдел {rid}",
                head=f"Начальник {rid}",
                telegram_chat_id=f"own-{rid}",
                head_telegram_chat_id=f"head-{rid}",
            )
            for rid in RECIPIENTS
        ],
    )


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "escalation.sqlite3")
    yield opened
    opened.close()


def runtime(store: SqliteStore, loopback: LoopbackServer, clock: Clock) -> Runtime:
    """Return a worker runtime on the store (no understanding: escalation does not read texts)."""
    settings = Settings(
        env="development",
        notify=NotifySettings(public_url="https://infopole.example", link_secret=SecretStr("s")),
        telegram=TelegramSettings(bot_token=SecretStr("1:A"), bot_api_url=loopback.url),
    )
    return Runtime(
        settings=settings,
        store=store,
        profile=build_profile(),
        understander=cast(Any, None),
        clock=clock,
    )


def storm(store: SqliteStore, deadline: datetime = DEADLINE) -> list[Incident]:
    """Store STORM open incidents, all due at `deadline`, spread over the recipients; CRITICAL critical."""
    incidents = []
    for n in range(STORM):
        incident = Incident(
            id=f"inc-{n:03d}",
            title=f"Проблема №{n}",
            sector="ЖКХ",
            territory="city",
            recipient=RECIPIENTS[n % len(RECIPIENTS)],
            priority=Priority.critical if n < CRITICAL else Priority.normal,
            status=IncidentStatus.assigned,
            post_ids=[f"post-{n}"],
            created_at=deadline - timedelta(days=1),
            first_answer_due=deadline,
        )
        incidents.append(store.save_incident(incident))
    return incidents


def head_subscription() -> Subscription:
    return Subscription(
        id="head",
        name="Глава МЦУ",
        channels=[NotifyChannel(kind=ChannelKind.telegram, address=HEAD_CHAT)],
        kinds=[AlertKind.overdue],
        max_per_hour=100,
    )


def run(rt: Runtime, notifier: Notifier, now: datetime) -> list[Alert]:
    """Run one escalation tick at `now` and deliver its new alerts as the escalate actor would."""
    cast(Clock, rt.clock).now = now
    cast(Clock, notifier.clock).now = now
    alerts = escalate_overdue(rt, now)
    for alert in alerts:
        report = notifier.notify(alert.id)
        assert not report.errors
    return alerts


def messages_by_chat(loopback: LoopbackServer) -> Counter[str]:
    return Counter(str(body["chat_id"]) for body in loopback.bodies("/bot"))


def test_an_overdue_storm_is_one_message_per_recipient_and_a_digest_for_the_head(
    store: SqliteStore, loopback: LoopbackServer
) -> None:
    clock = Clock(DEADLINE)
    rt = runtime(store, loopback, clock)
    store.save_subscription(head_subscription())
    notifier = Notifier(store, rt.settings, rt.profile, clock=Clock(DEADLINE))
    storm(store)

    # Just past the deadline: steps 1 (warning) and 2 (recipient's head) at once for all 300.
    first = run(rt, notifier, DEADLINE + timedelta(minutes=1))
    chats = messages_by_chat(loopback)
    for rid in RECIPIENTS:
        # One message listing its 99 incidents, and one about its critical incident.
        assert chats[f"own-{rid}"] == 1 + CRITICAL_EACH, chats
        assert chats[f"head-{rid}"] == 1 + CRITICAL_EACH, chats
    assert chats[HEAD_CHAT] == CRITICAL  # only the critical ones reach the head at step 2
    assert len(first) == len(RECIPIENTS) + CRITICAL
    digests = [a for a in first if a.details.get("audience") == AUDIENCE_RECIPIENT]
    assert sum(len(a.details["incidents"]) for a in digests) == STORM - CRITICAL
    assert all(a.title.startswith("Сроки ответа: 99 инцидентов — просрочено: 99") for a in digests)
    own = [b["text"] for b in loopback.bodies("/bot") if b["chat_id"] == "own-zhkh"]
    (listing,) = [text for text in own if "Сроки ответа" in text]
    assert "— Проблема №3: первый ответ нужен был до 20.01 12:00" in listing
    assert "…и ещё 92 инцидента" in listing
    # The facts are on the incidents: every one at level 2, each step audited once.
    incidents = store.query_incidents(IncidentQuery(limit=1000)).items
    assert {i.escalation_level for i in incidents} == {2}
    assert all(
        [e.action for e in i.audit if e.action.startswith("эскалация")]
        == ["эскалация, уровень 1", "эскалация, уровень 2"]
        for i in incidents
    )

    # A second run for the same slot (a redelivered message, a restarted scheduler): nothing new.
    sent = len(loopback.bodies("/bot"))
    assert run(rt, notifier, DEADLINE + timedelta(minutes=1)) == []
    assert len(loopback.bodies("/bot")) == sent

    # Two working days later steps 3 and 4 are due for all: the head gets ONE digest plus the
    # critical ones; the recipients get nothing new (their incidents' levels say it all).
    later = run(rt, notifier, DEADLINE + timedelta(days=2))
    chats = messages_by_chat(loopback)
    assert chats[HEAD_CHAT] == CRITICAL + 1 + CRITICAL
    for rid in RECIPIENTS:
        assert (chats[f"own-{rid}"], chats[f"head-{rid}"]) == (1 + CRITICAL_EACH, 1 + CRITICAL_EACH)
    (digest,) = [a for a in later if a.details.get("audience") == AUDIENCE_HEAD]
    assert digest.title == "Просрочены ответы: 297 инцидентов (для ЦУР: 297)"
    assert len(later) == 1 + CRITICAL
    # Each step of each incident is told exactly once across every stored overdue alert.
    alerts = store.query_alerts(AlertQuery(kind=[AlertKind.overdue], limit=1000)).items
    told = Counter(key for alert in alerts for key in told_steps(alert))
    assert len(told) == STORM * 4 and set(told.values()) == {1}
    # Nothing is left to look at: the next run reads no incident at all.
    left = IncidentQuery(step_due_at=DEADLINE + timedelta(days=3), step_rules=escalation_rules(rt.profile))
    assert store.query_incidents(left).total == 0
    assert run(rt, notifier, DEADLINE + timedelta(days=3)) == []


def test_a_warning_goes_to_the_recipient_only(store: SqliteStore, loopback: LoopbackServer) -> None:
    clock = Clock(DEADLINE)
    rt = runtime(store, loopback, clock)
    store.save_subscription(head_subscription())
    notifier = Notifier(store, rt.settings, rt.profile, clock=Clock(DEADLINE))
    storm(store)
    # 1.5 working hours before the deadline: the 2-hour warning is due, the deadline is not.
    alerts = run(rt, notifier, DEADLINE - timedelta(hours=1, minutes=30))
    chats = messages_by_chat(loopback)
    assert {chat: n for chat, n in chats.items() if chat.startswith("own-")} == {
        f"own-{rid}": 1 + CRITICAL_EACH for rid in RECIPIENTS
    }
    assert not any(chat.startswith("head-") for chat in chats)  # no head before the deadline
    assert chats[HEAD_CHAT] == CRITICAL
    zhkh = next(a for a in alerts if a.details.get("recipient") == "zhkh" and a.incident_id is None)
    assert zhkh.title == "Сроки ответа: 99 инцидентов — срок истекает: 99"
    assert zhkh.details["level"] == 1


def test_a_run_cut_off_before_its_steps_are_written_tells_nothing_twice(
    store: SqliteStore, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(DEADLINE)
    rt = runtime(store, loopback, clock)
    notifier = Notifier(store, rt.settings, rt.profile, clock=Clock(DEADLINE))
    storm(store)

    def killed(*args: object, **kwargs: object) -> int:
        raise SystemExit("worker killed between the alerts and the steps")

    monkeypatch.setattr("worker.escalation._save_escalated", killed)
    with pytest.raises(SystemExit):
        escalate_overdue(rt, DEADLINE + timedelta(minutes=1))
    stored = store.query_alerts(AlertQuery(limit=1000)).items
    assert stored and {
        i.escalation_level for i in store.query_incidents(IncidentQuery(limit=1000)).items
    } == {0}
    monkeypatch.undo()
    # The retry (later, even) applies the steps; only the newly due ones are told.
    again = run(rt, notifier, DEADLINE + timedelta(minutes=5))
    assert again == []
    assert {i.escalation_level for i in store.query_incidents(IncidentQuery(limit=1000)).items} == {2}
    alerts = store.query_alerts(AlertQuery(limit=1000)).items
    told = Counter(key for alert in alerts for key in told_steps(alert))
    assert len(told) == STORM * 2 and set(told.values()) == {1}


def test_a_run_that_finds_another_in_progress_leaves_the_steps_to_the_next(
    store: SqliteStore, loopback: LoopbackServer
) -> None:
    rt = runtime(store, loopback, Clock(DEADLINE))
    storm(store)
    now = DEADLINE + timedelta(minutes=1)
    with thread_lock(ESCALATION_LOCK) as held:  # another worker is running an escalation
        assert held
        assert escalate_overdue(rt, now, lock=thread_lock) == []
    assert store.query_alerts(AlertQuery(limit=10)).items == []
    assert {i.escalation_level for i in store.query_incidents(IncidentQuery(limit=1000)).items} == {0}
    told = escalate_overdue(rt, now, lock=thread_lock)  # the next run does it, once
    assert len(told) == len(RECIPIENTS) + CRITICAL
    assert escalate_overdue(rt, now, lock=thread_lock) == []


def test_an_incident_changed_during_the_run_gets_the_steps_it_was_told(
    store: SqliteStore, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime(store, loopback, Clock(DEADLINE))
    storm(store)
    import worker.escalation as escalation

    read_told = escalation._told_steps

    def told_while_a_message_arrives(rt_: Runtime, now: datetime) -> set[Any]:
        changed = store.get_incident("inc-150")
        assert changed is not None
        store.save_incident(
            changed.model_copy(update={"post_ids": [*changed.post_ids, "post-new"]}),
            expected_version=changed.version,
        )
        return read_told(rt_, now)

    monkeypatch.setattr(escalation, "_told_steps", told_while_a_message_arrives)
    escalate_overdue(rt, DEADLINE + timedelta(minutes=1))
    monkeypatch.undo()
    incidents = store.query_incidents(IncidentQuery(limit=1000)).items
    assert {i.escalation_level for i in incidents} == {2}
    changed = store.get_incident("inc-150")
    assert changed is not None and "post-new" in changed.post_ids
    assert escalate_overdue(rt, DEADLINE + timedelta(minutes=2)) == []  # nothing told twice
