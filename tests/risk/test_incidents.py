"""Tests for incidents: selection, keys, routing, priority, workflow, deadlines and escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from index.models import (
    AuditEntry,
    Incident,
    IncidentStatus,
    Kind,
    Metrics,
    Outcome,
    Place,
    Post,
    Priority,
    Tone,
    stable_id,
)
from index.profile import Profile, Recipient, RoutingRule, Territory
from risk.incidents import (
    ATTACHED,
    ATTACHED_ENTRIES_KEPT,
    ATTACHED_MANY,
    SYSTEM_ACTOR,
    InvalidTransition,
    apply_escalation,
    assign,
    attach_post,
    due_escalations,
    incident_id_for,
    incident_title,
    needs_incident,
    open_incident,
    priority_for,
    problem_key,
    route,
    transition,
)
from tests.factories import make_post

MSK = ZoneInfo("Europe/Moscow")
EKB = ZoneInfo("Asia/Yekaterinburg")


def msk(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """Return an aware Moscow datetime."""
    return datetime(y, m, d, hh, mm, tzinfo=MSK)


def profile(default: str | None = "admin") -> Profile:
    """Return a small municipality with routing rules."""
    return Profile(
        name="Заречный",
        territories=[
            Territory(
                id="zar",
                name="Заречный муниципальный округ",
                level="municipality",
                children=[
                    Territory(id="centr", name="Центральный район", streets=["Ленина", "Советская"]),
                    Territory(
                        id="zarechye",
                        name="Заречье",
                        children=[Territory(id="lesnoy", name="посёлок Лесной", level="settlement")],
                    ),
                ],
            )
        ],
        recipients=[
            Recipient(id="admin", name="Администрация"),
            Recipient(id="zhkh", name="Отдел ЖКХ", head="Иванов И. И."),
            Recipient(id="roads", name="Дорожный отдел"),
            Recipient(id="zar-admin", name="Администрация Заречья"),
            Recipient(id="ekb", name="Филиал", timezone="Asia/Yekaterinburg"),
        ],
        routing=[
            RoutingRule(recipient="zar-admin", sector="ЖКХ", territory="zarechye"),
            RoutingRule(recipient="zhkh", sector="ЖКХ"),
            RoutingRule(recipient="roads", keywords=["ямы"]),
        ],
        default_recipient=default,
    )


PROFILE = profile()


def complaint(**overrides: Any) -> Post:
    """Return a citizen's complaint about hot water on Lenina street, 5 (Friday 16.01.2026 19:30 MSK)."""
    values: dict[str, Any] = {
        "sector": "ЖКХ",
        "topic": "★ Отсутствие горячей воды",
        "kind": Kind.complaint,
        "tone": Tone.negative,
        "territory": "centr",
        "places": [Place(level="house", name="Ленина", territory="centr", house="5")],
        "published_at": msk(2026, 1, 16, 19, 30),
        "aggression": 0.0,
        "aggression_markers": [],
        "metrics": Metrics(),
        "lemmas": "третий день нет горячий вода",
    }
    values.update(overrides)
    return make_post(**values)


def test_needs_incident() -> None:
    assert needs_incident(complaint())
    assert not needs_incident(complaint(is_official=True))
    assert not needs_incident(complaint(sector=None))
    assert needs_incident(complaint(kind=Kind.question, tone=Tone.negative))
    assert not needs_incident(complaint(kind=Kind.question, tone=Tone.neutral))
    assert not needs_incident(complaint(kind=Kind.gratitude, tone=Tone.positive))
    assert not needs_incident(complaint(kind=None))


def test_problem_key_and_id() -> None:
    post = complaint()
    assert problem_key(post) == "жкх|отсутствие горячей воды|centr|ленина"
    assert incident_id_for(post) == stable_id("incident", "жкх|отсутствие горячей воды|centr|ленина")
    # Another house on the same street, other words: the same problem and place.
    same = complaint(
        places=[Place(level="street", name="Ленина", territory="centr")], text="И у нас нет воды"
    )
    assert incident_id_for(same) == incident_id_for(post)
    other_street = complaint(places=[Place(level="street", name="Советская", territory="centr")])
    assert incident_id_for(other_street) != incident_id_for(post)
    no_topic = complaint(topic=None, places=[])
    assert problem_key(no_topic) == "жкх|жкх|centr|"


def test_route() -> None:
    assert route(complaint(), PROFILE) == "zhkh"
    # A settlement under Заречье matches the territorial rule through its ancestor.
    assert route(complaint(territory="lesnoy"), PROFILE) == "zar-admin"
    # Keywords are lemmatised: "ямы" matches the lemma "яма".
    pothole = complaint(sector="Дороги", topic=None, lemmas="огромный яма на дорога")
    assert route(pothole, PROFILE) == "roads"
    other = complaint(sector="Образование", topic=None, lemmas="запись в школа")
    assert route(other, PROFILE) == "admin"
    assert route(other, profile(default=None)) is None


def test_priority_for() -> None:
    assert priority_for([complaint()]) == Priority.normal
    assert priority_for([complaint(aggression=0.6)]) == Priority.high
    assert priority_for([complaint(aggression_markers=["threat_escalation"])]) == Priority.high
    assert priority_for([complaint(metrics=Metrics(views=6000))]) == Priority.high
    assert priority_for([complaint(metrics=Metrics(views=60_000))]) == Priority.critical
    three = [complaint(author_id=f"a{i}") for i in range(3)]
    assert priority_for(three) == Priority.high
    assert priority_for([complaint(author_id="same") for _ in range(5)]) == Priority.normal
    ten = [complaint(author_id=f"a{i}") for i in range(10)]
    assert priority_for(ten) == Priority.critical
    five = [complaint(author_id=f"a{i}") for i in range(5)]
    assert priority_for([complaint()], in_spike=True) == Priority.high
    assert priority_for(five, in_spike=True) == Priority.critical


def test_titles() -> None:
    assert incident_title(complaint(), PROFILE) == "ЖКХ: отсутствие горячей воды — ул. Ленина, 5"
    street = complaint(places=[Place(level="street", name="Ленинский проспект")])
    assert incident_title(street, PROFILE) == "ЖКХ: отсутствие горячей воды — Ленинский проспект"
    assert incident_title(complaint(places=[], topic="ЖКХ"), PROFILE) == "ЖКХ — Центральный район"
    settlement = complaint(places=[Place(level="settlement", name="посёлок Лесной")], territory="lesnoy")
    assert incident_title(settlement, PROFILE).endswith("— посёлок Лесной")


def test_open_incident() -> None:
    post = complaint()
    now = msk(2026, 1, 16, 19, 31)
    inc = open_incident(post, PROFILE, now)
    assert inc.id == incident_id_for(post)
    assert inc.title == "ЖКХ: отсутствие горячей воды — ул. Ленина, 5"
    assert (inc.sector, inc.topic, inc.territory, inc.place) == ("ЖКХ", post.topic, "centr", "Ленина")
    assert inc.recipient == "zhkh"
    assert inc.status == IncidentStatus.assigned
    assert inc.priority == Priority.normal
    assert inc.post_ids == [post.id]
    assert inc.created_at == post.published_at
    # Friday 19:30: 8 working hours end on Monday 19.01 at 18:00 MSK.
    assert inc.first_answer_due == msk(2026, 1, 19, 18).astimezone(UTC)
    assert inc.final_answer_due is None
    assert [(a.actor, a.action) for a in inc.audit] == [("система", "создан")]
    assert "исполнитель: zhkh" in inc.audit[0].detail
    unrouted = open_incident(complaint(sector="Образование", topic=None), profile(default=None), now)
    assert unrouted.status == IncidentStatus.new
    assert unrouted.recipient is None
    assert unrouted.first_answer_due is not None


def test_open_incident_on_recipient_calendar() -> None:
    p = profile()
    p.routing.insert(0, RoutingRule(recipient="ekb", sector="Связь"))
    post = complaint(sector="Связь", topic=None, published_at=datetime(2026, 1, 15, 18, 30, tzinfo=EKB))
    inc = open_incident(post, p, msk(2026, 1, 15, 17))
    # 18:30 in Yekaterinburg is after hours there: Fri 16.01 09:00–13:00, 14:00–18:00 local → 18:00 EKB.
    assert inc.first_answer_due == datetime(2026, 1, 16, 18, tzinfo=EKB).astimezone(UTC)


def test_attach_post_idempotent_priority_and_immutable() -> None:
    first = complaint(author_id="a1")
    now = msk(2026, 1, 16, 20)
    inc = open_incident(first, PROFILE, now)
    snapshot = inc.model_dump()
    assert attach_post(inc, first, PROFILE, now) is inc
    second = attach_post(inc, complaint(author_id="a2"), PROFILE, now)
    assert inc.model_dump() == snapshot  # the input is untouched
    assert len(second.post_ids) == 2 and second.priority == Priority.normal
    third = attach_post(second, complaint(author_id="a3"), PROFILE, now)
    assert third.priority == Priority.high
    # The first deadline is recomputed from the first message: 4 working hours → Monday 13:00.
    assert third.first_answer_due == msk(2026, 1, 19, 13).astimezone(UTC)
    assert [a.action for a in third.audit][-2:] == ["добавлено сообщение", "приоритет повышен"]
    assert third.audit[-1].detail == "обычный → высокий"


def attachments(incident: Incident) -> list[AuditEntry]:
    """Return the audit entries that record attached messages."""
    return [a for a in incident.audit if a.action in (ATTACHED, ATTACHED_MANY)]


def test_a_long_stretch_of_attachments_is_one_audit_entry_after_the_first_ones() -> None:
    now = msk(2026, 1, 16, 20)
    inc = open_incident(complaint(id="c0"), PROFILE, now)
    for n in range(1, 61):
        inc = attach_post(inc, complaint(id=f"c{n}", author_id="a1"), PROFILE, now + timedelta(minutes=n))
    entries = attachments(inc)
    assert [a.action for a in entries].count(ATTACHED) == ATTACHED_ENTRIES_KEPT
    assert sum(a.count for a in entries) == 60 and len(inc.post_ids) == 61
    folded = entries[-1]
    assert folded.action == ATTACHED_MANY and folded.at == now + timedelta(minutes=60)
    assert folded.detail.endswith(" … c60") and len(inc.audit) < ATTACHED_ENTRIES_KEPT + 10

    # A person's action ends the stretch: what comes after it starts a new one.
    inc = transition(inc, IncidentStatus.interim, actor="оператор", at=now, profile=PROFILE)
    inc = attach_post(inc, complaint(id="c61", author_id="a1"), PROFILE, now)
    assert inc.audit[-1].action == ATTACHED and inc.audit[-1].detail == "c61"
    inc = attach_post(inc, complaint(id="c62", author_id="a1"), PROFILE, now)
    assert (inc.audit[-1].action, inc.audit[-1].detail, inc.audit[-1].count) == (
        ATTACHED_MANY,
        "c61 … c62",
        2,
    )
    assert sum(a.count for a in attachments(inc)) == 62


def test_an_incident_stored_with_an_entry_per_message_is_folded_when_it_next_grows() -> None:
    now = msk(2026, 1, 16, 20)
    inc = open_incident(complaint(id="c0"), PROFILE, now)
    singles = [AuditEntry(at=now, actor=SYSTEM_ACTOR, action=ATTACHED, detail=f"c{n}") for n in range(1, 101)]
    inc = inc.model_copy(update={"audit": [*inc.audit, *singles], "post_ids": [f"c{n}" for n in range(101)]})
    grown = attach_post(inc, complaint(id="c101", author_id="a1"), PROFILE, now)
    entries = attachments(grown)
    assert len(entries) == ATTACHED_ENTRIES_KEPT + 1 and sum(a.count for a in entries) == 101
    assert entries[-1].detail == f"c{ATTACHED_ENTRIES_KEPT + 1} … c101"


def test_attach_post_does_not_move_answered_deadline() -> None:
    now = msk(2026, 1, 19, 10)
    inc = open_incident(complaint(), PROFILE, now)
    inc = transition(inc, IncidentStatus.interim, actor="оператор", at=now, profile=PROFILE)
    due = inc.first_answer_due
    angry = attach_post(inc, complaint(aggression=0.9), PROFILE, now)
    assert angry.priority == Priority.high
    assert angry.first_answer_due == due


def test_attach_post_reopens_closed_incident() -> None:
    now = msk(2026, 1, 19, 10)
    inc = open_incident(complaint(), PROFILE, now)
    inc = transition(inc, IncidentStatus.final, actor="оператор", at=now, profile=PROFILE)
    inc = transition(
        inc, IncidentStatus.closed, actor="оператор", at=now, profile=PROFILE, outcome=Outcome.solved
    )
    late_old = complaint(published_at=msk(2026, 1, 19, 9))  # written before closing, delivered late
    kept = attach_post(inc, late_old, PROFILE, msk(2026, 1, 19, 11))
    assert kept.status == IncidentStatus.closed
    again = complaint(published_at=msk(2026, 1, 20, 9))
    reopened = attach_post(inc, again, PROFILE, msk(2026, 1, 20, 9, 5))
    assert reopened.status == IncidentStatus.assigned
    assert reopened.closed_at is None and reopened.outcome is None
    assert reopened.first_answered_at is None and reopened.final_answered_at is None
    assert reopened.first_answer_due == msk(2026, 1, 20, 18).astimezone(UTC)  # 09:00 + 8 h
    assert reopened.audit[-1].action == "переоткрыт"
    assert "прежний исход: решено" in reopened.audit[-1].detail


def test_transition_full_path() -> None:
    p = profile(default=None)
    inc = open_incident(complaint(sector="Образование", topic=None), p, msk(2026, 4, 29, 10))
    assert inc.status == IncidentStatus.new
    with pytest.raises(InvalidTransition, match="исполнитель не выбран"):
        transition(inc, IncidentStatus.assigned, actor="оператор", at=msk(2026, 4, 29, 11), profile=p)
    inc = assign(inc, "zhkh", actor="оператор", at=msk(2026, 4, 29, 11), profile=p)
    assert inc.status == IncidentStatus.assigned
    interim_at = msk(2026, 4, 30, 11)
    inc = transition(
        inc, IncidentStatus.interim, actor="zhkh", at=interim_at, profile=p, comment="выехала бригада"
    )
    assert inc.first_answered_at == interim_at
    # 7 working days from the interim answer on 30.04.2026: 04–08.05, 12.05, 13.05 → 13.05 18:00.
    assert inc.final_answer_due == msk(2026, 5, 13, 18).astimezone(UTC)
    final_at = msk(2026, 5, 6, 15)
    inc = transition(inc, IncidentStatus.final, actor="zhkh", at=final_at, profile=p)
    assert inc.final_answered_at == final_at and inc.first_answered_at == interim_at
    with pytest.raises(InvalidTransition, match="укажите исход"):
        transition(inc, IncidentStatus.closed, actor="оператор", at=final_at, profile=p)
    inc = transition(
        inc, IncidentStatus.closed, actor="оператор", at=final_at, profile=p, outcome=Outcome.solved
    )
    assert inc.status == IncidentStatus.closed and inc.closed_at == final_at and inc.outcome == Outcome.solved
    actions = [a.action for a in inc.audit]
    assert actions == [
        "создан",
        "назначен исполнитель",
        "статус: назначен → промежуточный ответ",
        "статус: промежуточный ответ → окончательный ответ",
        "статус: окончательный ответ → закрыт",
    ]
    assert inc.audit[2].detail == "выехала бригада" and inc.audit[2].actor == "zhkh"
    assert inc.audit[-1].detail == "исход: решено"
    reopened = transition(inc, IncidentStatus.assigned, actor="глава", at=msk(2026, 5, 7, 10), profile=p)
    assert reopened.status == IncidentStatus.assigned and reopened.audit[-1].action == "переоткрыт"
    assert inc.status == IncidentStatus.closed  # the input is untouched


def test_final_directly_sets_first_answer() -> None:
    inc = open_incident(complaint(), PROFILE, msk(2026, 1, 19, 10))
    at = msk(2026, 1, 19, 12)
    done = transition(inc, IncidentStatus.final, actor="zhkh", at=at, profile=PROFILE)
    assert done.first_answered_at == at and done.final_answered_at == at


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (IncidentStatus.assigned, IncidentStatus.new),
        (IncidentStatus.assigned, IncidentStatus.closed),
        (IncidentStatus.interim, IncidentStatus.assigned),
        (IncidentStatus.final, IncidentStatus.interim),
        (IncidentStatus.closed, IncidentStatus.final),
        (IncidentStatus.assigned, IncidentStatus.assigned),
    ],
)
def test_illegal_transitions(start: IncidentStatus, to: IncidentStatus) -> None:
    inc = open_incident(complaint(), PROFILE, msk(2026, 1, 19, 10)).model_copy(update={"status": start})
    with pytest.raises(InvalidTransition, match="недопустим") as info:
        transition(
            inc, to, actor="оператор", at=msk(2026, 1, 19, 11), profile=PROFILE, outcome=Outcome.solved
        )
    assert isinstance(info.value, ValueError)


def test_assign_recomputes_deadline_on_new_calendar() -> None:
    inc = open_incident(complaint(published_at=msk(2026, 1, 15, 16, 30)), PROFILE, msk(2026, 1, 15, 16, 31))
    assert inc.first_answer_due == msk(2026, 1, 16, 16, 30).astimezone(UTC)  # 1.5 h + 6.5 h
    moved = assign(inc, "ekb", actor="оператор", at=msk(2026, 1, 15, 17), profile=PROFILE)
    # 16:30 MSK = 18:30 EKB, after hours there: Fri 16.01 09:00 EKB + 8 h (lunch excluded) = 18:00 EKB.
    assert moved.first_answer_due == datetime(2026, 1, 16, 18, tzinfo=EKB).astimezone(UTC)
    assert moved.recipient == "ekb"
    assert moved.audit[-1].detail == "zhkh → ekb (Филиал)"
    assert assign(moved, "ekb", actor="оператор", at=msk(2026, 1, 15, 17), profile=PROFILE) is moved
    with pytest.raises(InvalidTransition, match="неизвестный исполнитель «nobody»"):
        assign(inc, "nobody", actor="оператор", at=msk(2026, 1, 15, 17), profile=PROFILE)
    closed = inc.model_copy(update={"status": IncidentStatus.closed})
    with pytest.raises(InvalidTransition, match="закрыт"):
        assign(closed, "roads", actor="оператор", at=msk(2026, 1, 15, 17), profile=PROFILE)


def test_assign_interim_recomputes_final_deadline() -> None:
    inc = open_incident(complaint(), PROFILE, msk(2026, 1, 19, 10))
    inc = transition(inc, IncidentStatus.interim, actor="zhkh", at=msk(2026, 1, 19, 11), profile=PROFILE)
    moved = assign(inc, "ekb", actor="оператор", at=msk(2026, 1, 19, 12), profile=PROFILE)
    assert moved.first_answer_due == inc.first_answer_due
    # 7 working days after Mon 19.01 → Wed 28.01, end of day in Yekaterinburg.
    assert moved.final_answer_due == datetime(2026, 1, 28, 18, tzinfo=EKB).astimezone(UTC)


def _incident_due_at(deadline: datetime, **update: Any) -> Incident:
    """Return an assigned incident whose first answer is due at `deadline`."""
    inc = open_incident(complaint(), PROFILE, msk(2026, 1, 19, 9))
    return inc.model_copy(update={"first_answer_due": deadline, **update})


def test_due_escalations() -> None:
    d = datetime(2026, 1, 19, 15, tzinfo=UTC)
    inc = _incident_due_at(d)
    sla = PROFILE.sla  # warn 2 h before
    assert due_escalations(inc, d - timedelta(hours=3), sla) == []
    assert [e.level for e in due_escalations(inc, d - timedelta(hours=1), sla)] == [1]
    steps = due_escalations(inc, d + timedelta(hours=5), sla)
    assert [e.level for e in steps] == [1, 2, 3]
    assert steps[2].due_at == d + timedelta(hours=4) and steps[2].deadline == d and steps[2].stage == "first"
    assert steps[2].target == "глава МЦУ"
    assert [
        e.level
        for e in due_escalations(inc.model_copy(update={"escalation_level": 2}), d + timedelta(hours=5), sla)
    ] == [3]
    assert [e.level for e in due_escalations(inc, d + timedelta(hours=25), sla)] == [1, 2, 3, 4]
    assert (
        due_escalations(inc.model_copy(update={"status": IncidentStatus.closed}), d + timedelta(days=3), sla)
        == []
    )
    interim = inc.model_copy(
        update={"status": IncidentStatus.interim, "final_answer_due": d + timedelta(days=9)}
    )
    assert due_escalations(interim, d + timedelta(days=2), sla) == []
    later = due_escalations(interim, d + timedelta(days=9, hours=1), sla)
    assert [(e.level, e.stage) for e in later] == [(1, "final"), (2, "final")]


def test_apply_escalation() -> None:
    d = datetime(2026, 1, 19, 15, tzinfo=UTC)
    inc = _incident_due_at(d)
    at = d + timedelta(hours=5)
    for step in due_escalations(inc, at, PROFILE.sla):
        inc = apply_escalation(inc, step, at)
    assert inc.escalation_level == 3
    assert [a.action for a in inc.audit][-3:] == [
        "эскалация, уровень 1",
        "эскалация, уровень 2",
        "эскалация, уровень 3",
    ]
    assert "кому: глава МЦУ" in inc.audit[-1].detail
    assert due_escalations(inc, at, PROFILE.sla) == []
    step_two = due_escalations(_incident_due_at(d), at, PROFILE.sla)[1]
    assert apply_escalation(inc, step_two, at) is inc  # lower than the current level: nothing to do


def test_interim_resets_escalation_for_the_final_clock() -> None:
    d = datetime(2026, 1, 19, 15, tzinfo=UTC)
    inc = _incident_due_at(d, escalation_level=2)
    answered = transition(
        inc, IncidentStatus.interim, actor="zhkh", at=d + timedelta(hours=1), profile=PROFILE
    )
    assert answered.escalation_level == 0
