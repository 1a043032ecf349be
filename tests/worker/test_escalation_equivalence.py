"""The escalation run over incidents with a step due tells and applies exactly what a full scan does.

The reference is the full scan: at every tick, every open incident's due steps (risk.incidents
due_escalations on its recipient's SLA and calendar), applied and noted. The run under test reads only
the incidents whose stored next step is due or not worked out. Both stores receive the same incidents
and, between ticks, the same changes by writers that know nothing of escalation (priority raised with
its deadline, interim and final answers, closing, reopening, reassignment, merging, new messages) and
one SLA edit of the profile. At every tick the steps told by the run's alerts must be exactly the
reference's steps, each told once over the whole run, and every incident must end each tick at the
same level with the same escalation audit.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from index.models import Incident, IncidentStatus, Outcome, Priority
from index.profile import Profile, Recipient, SlaRules, Territory, WorkingHours
from index.sqlite import SqliteStore
from index.store import IncidentQuery, Store
from risk.alerts import StepKey, step_key, told_steps
from risk.deadlines import calendar_for, final_answer_due, first_answer_due
from risk.incidents import (
    OPEN_STATUSES,
    InvalidTransition,
    apply_escalation,
    assign,
    due_escalations,
    merge_incidents,
    sla_for,
    transition,
)
from tests.worker.notify_standins import LoopbackServer
from tests.worker.test_escalation import Clock, runtime
from worker import escalation

#: 2026-12-28 09:00 UTC: the New Year holidays and a weekend fall inside the ticks.
START = datetime(2026, 12, 28, 9, 0, tzinfo=UTC)
INCIDENTS = 80
TICKS = 16
STEPS = (
    timedelta(minutes=1),
    timedelta(minutes=17),
    timedelta(hours=2),
    timedelta(hours=9),
    timedelta(days=1),
)


def build_profile(warn_before_hours: float = 2.0) -> Profile:
    """Return a town with recipients on different calendars and SLAs."""
    return Profile(
        name="Тестовск",
        territories=[Territory(id="city", name="Тестовск", level="municipality")],
        sla=SlaRules(warn_before_hours=warn_before_hours),
        recipients=[
            Recipient(id="zhkh", name="ЖКХ"),
            Recipient(
                id="roads",
                name="Дороги",
                timezone="Asia/Yekaterinburg",
                working_hours=WorkingHours(
                    start=datetime.min.time().replace(hour=8), lunch_start=None, lunch_end=None
                ),
                warn_before_hours=4.0,
            ),
            Recipient(
                id="social", name="Соцзащита", first_answer_hours={"normal": 16.0}, final_answer_days=3
            ),
        ],
    )


RECIPIENT_IDS = ("zhkh", "roads", "social", None)


def random_incident(rng: random.Random, n: int, profile: Profile) -> Incident:
    """Return an open, answered or closed incident with deadlines on its recipient's calendar."""
    recipient = rng.choice(RECIPIENT_IDS)
    priority = rng.choice(list(Priority))
    created = START + timedelta(hours=rng.uniform(-96, 72))
    sla, calendar = sla_for(profile, recipient), calendar_for(profile, recipient)
    status = rng.choices(list(IncidentStatus), weights=(2, 5, 3, 1, 1))[0]
    if recipient is None and status == IncidentStatus.assigned:
        status = IncidentStatus.new
    first = first_answer_due(created, priority, sla, calendar)
    answered = created + timedelta(hours=rng.uniform(0.5, 30))
    interim_like = status in (IncidentStatus.interim, IncidentStatus.final, IncidentStatus.closed)
    return Incident(
        id=f"inc-{n:03d}",
        title=f"Проблема №{n}",
        recipient=recipient,
        priority=priority,
        status=status,
        post_ids=[f"post-{n}"],
        created_at=created,
        first_answer_due=first,
        first_answered_at=answered if interim_like else None,
        final_answer_due=final_answer_due(answered, sla, calendar) if interim_like else None,
        final_answered_at=answered + timedelta(hours=1)
        if status != IncidentStatus.interim and interim_like
        else None,
        closed_at=answered + timedelta(hours=2) if status == IncidentStatus.closed else None,
        outcome=Outcome.solved if status == IncidentStatus.closed else None,
        escalation_level=rng.choice((0, 0, 0, 1, 2)) if status in OPEN_STATUSES else 0,
        updated_at=created,
    )


Change = Callable[[Incident, datetime, Profile], Incident]


def _raise_priority(incident: Incident, at: datetime, profile: Profile) -> Incident:
    """A writer that raises the priority and moves the first deadline earlier, as attach_post may."""
    if incident.status not in OPEN_STATUSES or incident.first_answered_at is not None:
        return incident
    sla, calendar = sla_for(profile, incident.recipient), calendar_for(profile, incident.recipient)
    due = first_answer_due(incident.created_at, Priority.critical, sla, calendar)
    return incident.model_copy(
        update={"priority": Priority.critical, "first_answer_due": due, "updated_at": at}
    )


def _message(incident: Incident, at: datetime, profile: Profile) -> Incident:
    """A new message that changes nothing that is due."""
    return incident.model_copy(update={"post_ids": [*incident.post_ids, f"p-{at.timestamp():.0f}"]})


def _to(status: IncidentStatus, outcome: Outcome | None = None) -> Change:
    def change(incident: Incident, at: datetime, profile: Profile) -> Incident:
        try:
            return transition(incident, status, actor="тест", at=at, profile=profile, outcome=outcome)
        except InvalidTransition:
            return incident

    return change


def _reassign(incident: Incident, at: datetime, profile: Profile) -> Incident:
    target = "roads" if incident.recipient != "roads" else "social"
    try:
        return assign(incident, target, actor="тест", at=at, profile=profile)
    except InvalidTransition:
        return incident


CHANGES: tuple[Change, ...] = (
    _raise_priority,
    _message,
    _to(IncidentStatus.interim),
    _to(IncidentStatus.final),
    _to(IncidentStatus.closed, Outcome.explained),
    _to(IncidentStatus.assigned),  # reopens a closed one
    _reassign,
)


def _change(store: Store, incident_id: str, change: Change, at: datetime, profile: Profile) -> None:
    current = store.get_incident(incident_id)
    assert current is not None
    store.save_incident(change(current, at, profile), expected_version=current.version)


def _merge(store: Store, target_id: str, source_id: str, at: datetime, profile: Profile) -> None:
    target, source = store.get_incident(target_id), store.get_incident(source_id)
    assert target is not None and source is not None
    try:
        merged, emptied = merge_incidents(target, source, actor="тест", at=at, profile=profile)
    except InvalidTransition:
        return
    store.save_incident(merged, expected_version=target.version)
    store.save_incident(emptied, expected_version=source.version)


def full_scan(store: Store, profile: Profile, now: datetime) -> set[StepKey]:
    """The reference: every open incident's due steps, applied; return their keys."""
    keys: set[StepKey] = set()
    for incident in store.query_incidents(IncidentQuery(status=list(OPEN_STATUSES), limit=1000)).items:
        sla, calendar = sla_for(profile, incident.recipient), calendar_for(profile, incident.recipient)
        steps = due_escalations(incident, now, sla, calendar)
        if not steps:
            continue
        keys.update(step_key(incident.id, step) for step in steps)
        stepped = incident
        for step in steps:
            stepped = apply_escalation(stepped, step, now)
        store.save_incident(stepped, expected_version=incident.version)
    return keys


def _escalation_facts(store: Store) -> dict[str, tuple[object, ...]]:
    """Return each incident's status, level and escalation audit."""
    return {
        i.id: (
            i.status,
            i.escalation_level,
            tuple((e.at, e.action, e.detail) for e in i.audit if e.action.startswith("эскалация")),
        )
        for i in store.query_incidents(IncidentQuery(limit=1000)).items
    }


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.stop()


@pytest.mark.parametrize("seed", range(6))
def test_the_run_over_due_incidents_tells_and_applies_what_a_full_scan_does(
    seed: int, tmp_path: Path, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(escalation, "ESCALATION_PAGE", 7)  # many pages, written between them
    monkeypatch.setattr(escalation, "ESCALATION_WRITE_BATCH", 3)
    rng = random.Random(seed)
    profile = build_profile()
    tested, reference = SqliteStore(tmp_path / "tested.sqlite3"), SqliteStore(tmp_path / "reference.sqlite3")
    try:
        for n in range(INCIDENTS):
            incident = random_incident(rng, n, profile)
            tested.save_incident(incident)
            reference.save_incident(incident)
        rt = runtime(tested, loopback, Clock(START))
        rt.profile = profile
        told: Counter[StepKey] = Counter()
        now = START - timedelta(days=1)
        edit_at = rng.randrange(TICKS)
        for tick in range(TICKS):
            now += rng.choice(STEPS)
            if tick == edit_at:  # an SLA edit: every warning moves
                profile = build_profile(warn_before_hours=rng.choice((1.0, 6.0, 20.0)))
                rt.profile = profile
            for _ in range(rng.randrange(8)):
                incident_id, change = f"inc-{rng.randrange(INCIDENTS):03d}", rng.choice(CHANGES)
                for store in (tested, reference):
                    _change(store, incident_id, change, now - timedelta(seconds=30), profile)
            if rng.random() < 0.3:
                target, source = (f"inc-{i:03d}" for i in rng.sample(range(INCIDENTS), 2))
                for store in (tested, reference):
                    _merge(store, target, source, now - timedelta(seconds=20), profile)
            expected = full_scan(reference, profile, now)
            alerts = escalation.escalate_overdue(rt, now)
            got = {key for alert in alerts for key in told_steps(alert)}
            assert got == expected, f"tick {tick} at {now}"
            told.update(got)  # (one run may list a step in two alerts: its recipient's and the head's)
            assert _escalation_facts(tested) == _escalation_facts(reference), f"tick {tick}"
        assert told and set(told.values()) == {1}  # no step told by two runs
        # Closed and answered incidents never come back as candidates.
        left = tested.query_incidents(IncidentQuery(step_due_at=now + timedelta(days=365), limit=1000))
        assert all(i.status in OPEN_STATUSES for i in left.items)
    finally:
        tested.close()
        reference.close()
