"""Incidents: per-recipient SLA, priority over every attached message, spikes, reactions, merge and split,
escalation in working time across weekends, the May holidays, a shortened day and two time zones."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from index.models import (
    IncidentStatus,
    Kind,
    Metrics,
    Outcome,
    Place,
    Priority,
    PriorityBasis,
    Tone,
    stable_id,
)
from index.profile import Recipient
from risk.calendar import WorkCalendar
from risk.deadlines import calendar_for
from risk.incidents import (
    CRITICAL_AUTHORS,
    InvalidTransition,
    PriorityTally,
    attach_post,
    due_escalations,
    escalation_moments,
    incident_id_for,
    merge_incidents,
    open_incident,
    priority_for,
    problem_key,
    record_reaction,
    sla_for,
    split_id,
    split_incident,
    transition,
    working_hours_before,
)
from tests.factories import make_post
from tests.risk.test_incidents import EKB, MSK, complaint, msk, profile

NOW = msk(2026, 1, 16, 20, 0)


def test_recipient_sla_overrides_the_profiles() -> None:
    base = profile()
    slow = Recipient(id="slow", name="МКУ", first_answer_hours={"normal": 16.0}, final_answer_days=10)
    p = base.model_copy(update={"recipients": [*base.recipients, slow]})
    sla = sla_for(p, "slow")
    assert sla.first_answer_hours == {"normal": 16.0, "high": 4.0, "critical": 1.0}
    assert sla.final_answer_days == 10 and sla.warn_before_hours == p.sla.warn_before_hours
    assert sla_for(p, "admin") is p.sla and sla_for(p, None) is p.sla and sla_for(p, "nope") is p.sla
    # A Friday 19:30 complaint routed to "slow": 16 working hours = Monday 9–18 (8) + Tuesday 9–18 (8).
    p = p.model_copy(update={"routing": [], "default_recipient": "slow"})
    inc = open_incident(complaint(), p, NOW)
    assert inc.recipient == "slow"
    assert inc.first_answer_due == msk(2026, 1, 20, 18, 0)
    answered = transition(inc, IncidentStatus.interim, actor="slow", at=msk(2026, 1, 20, 12), profile=p)
    # Ten working days after Tuesday 20.01 end on Tuesday 03.02 at 18:00.
    assert answered.final_answer_due == msk(2026, 2, 3, 18, 0)


def test_priority_counts_authors_over_every_attached_message() -> None:
    p = profile()
    first = complaint(author_id="a1")
    inc = open_incident(first, p, NOW)
    assert inc.priority == Priority.normal
    assert inc.priority_basis == PriorityBasis(messages=1, last_post_id=first.id, author_posts=[first.id])
    tally = PriorityTally.of([first])
    # The same author writing again five times raises nothing; two more authors make 3 → high.
    for i in range(5):
        again = complaint(author_id="a1", published_at=msk(2026, 1, 16, 19, 40 + i))
        inc = attach_post(inc, again, p, NOW, tally=tally)
    assert inc.priority == Priority.normal and len(inc.post_ids) == 6
    authors = []
    for author in ("a2", "a3"):
        post = complaint(author_id=author, published_at=msk(2026, 1, 16, 20, 0))
        authors.append(post.id)
        inc = attach_post(inc, post, p, NOW, tally=tally)
    assert inc.priority == Priority.high
    assert inc.audit[-1].action == "приоритет повышен" and inc.audit[-1].detail == "обычный → высокий"
    # The first-answer clock restarted with 4 working hours from Friday 19:30: Monday 9:00–13:00.
    assert inc.first_answer_due == msk(2026, 1, 19, 13, 0)
    # The incident keeps what the priority was judged on: one message per author, the reach.
    assert inc.current_priority_basis() == PriorityBasis(
        messages=8, last_post_id=authors[-1], reach=0, author_posts=[first.id, *authors]
    )
    # Reach over the incident: 50,000 views in total make it critical.
    seen = complaint(author_id="a1", metrics=Metrics(views=2_000))
    inc = attach_post(inc, seen, p, NOW, tally=tally)
    assert inc.priority == Priority.high
    assert inc.priority_basis is not None and inc.priority_basis.reach == 2_000
    big = complaint(author_id="a4", metrics=Metrics(views=49_000))
    inc = attach_post(inc, big, p, NOW, tally=tally)
    assert inc.priority == Priority.critical
    assert inc.priority_basis is None  # nothing left to judge: a priority is only ever raised
    # Without a tally the number of messages stands in for authors (10 → critical).
    lone = open_incident(complaint(author_id="z"), p, NOW)
    for i in range(9):
        lone = attach_post(lone, complaint(author_id="z", published_at=msk(2026, 1, 16, 21, i)), p, NOW)
    assert lone.priority == Priority.critical
    # A basis left behind by a change made elsewhere no longer holds.
    assert lone.current_priority_basis() is None
    assert inc.model_copy(update={"post_ids": inc.post_ids[:-1]}).current_priority_basis() is None


def test_a_tally_resumes_from_the_basis_and_counts_authors_up_to_the_critical_number() -> None:
    posts = [complaint(author_id=f"a{n % 12}", metrics=Metrics(views=10)) for n in range(30)]
    tally = PriorityTally.of(posts)
    assert tally.basis([p.id for p in posts], Priority.critical) is None
    basis = tally.basis([p.id for p in posts], Priority.high)
    assert basis is not None
    assert len(basis.author_posts) == CRITICAL_AUTHORS and basis.reach == 300
    assert basis.author_posts == [p.id for p in posts[:CRITICAL_AUTHORS]]
    # Resumed from the author messages as read (one of them deleted since: its author is not counted).
    resumed = PriorityTally.resume(basis, [p for p in posts[:CRITICAL_AUTHORS] if p.id != posts[3].id])
    assert resumed.reach == 300 and len(resumed.authors) == CRITICAL_AUTHORS - 1
    assert resumed.judge([]) == Priority.high
    resumed.add(posts[3])
    assert resumed.judge([]) == Priority.critical
    # The same judgement as over every message at once.
    assert PriorityTally.of(posts).judge(posts) == priority_for(posts) == Priority.critical


def test_a_post_inside_a_spike_raises_the_priority() -> None:
    p = profile()
    inc = open_incident(complaint(), p, NOW, in_spike=True)
    assert inc.priority == Priority.high and "во время всплеска" in inc.audit[0].detail
    plain = open_incident(complaint(), p, NOW)
    assert plain.priority == Priority.normal
    raised = attach_post(plain, complaint(author_id="x"), p, NOW, tally=PriorityTally(), in_spike=True)
    assert raised.priority == Priority.high


def test_placeless_complaints_are_keyed_by_their_thread() -> None:
    nowhere = complaint(territory=None, places=[], thread_id="vk:-1_7")
    same_thread = complaint(territory=None, places=[], thread_id="vk:-1_7", author_id="other")
    elsewhere = complaint(territory=None, places=[], thread_id="vk:-1_8")
    assert problem_key(nowhere) == "жкх|отсутствие горячей воды|||thread:vk:-1_7"
    assert incident_id_for(nowhere) == incident_id_for(same_thread) != incident_id_for(elsewhere)
    # With a territory the thread does not matter: one problem, one place.
    placed = complaint(places=[], thread_id="vk:-1_7")
    assert incident_id_for(placed) == incident_id_for(complaint(places=[], thread_id="vk:-1_9"))


def test_reactions_after_the_answer_are_classified_and_kept() -> None:
    p = profile()
    inc = open_incident(complaint(), p, NOW)
    before = make_post(text="Спасибо!", kind=Kind.gratitude, tone=Tone.positive, published_at=NOW)
    assert record_reaction(inc, before, NOW) is inc  # no answer yet
    answered = transition(inc, IncidentStatus.interim, actor="zhkh", at=msk(2026, 1, 19, 10), profile=p)
    thanks = make_post(
        text="Спасибо, воду дали!", kind=Kind.gratitude, tone=Tone.positive, published_at=msk(2026, 1, 19, 15)
    )
    angry = make_post(
        text="Так ничего и не сделали, отписка",
        kind=Kind.complaint,
        tone=Tone.negative,
        published_at=msk(2026, 1, 20, 9),
    )
    early = make_post(text="Жду", tone=Tone.neutral, published_at=msk(2026, 1, 19, 9))
    inc2 = record_reaction(record_reaction(answered, thanks, NOW), angry, NOW)
    assert [(r.post_id, r.verdict) for r in inc2.reactions] == [
        (thanks.id, "доволен"),
        (angry.id, "недоволен"),
    ]
    assert "не сделать" in inc2.reactions[1].cues and "отписка" in inc2.reactions[1].cues
    assert inc2.audit[-1].action == "реакция жителя" and inc2.audit[-1].detail == f"недоволен: {angry.id}"
    assert record_reaction(inc2, angry, NOW) is inc2  # idempotent
    assert record_reaction(inc2, early, NOW) is inc2  # before the answer
    official = make_post(text="Работы завершены", is_official=True, published_at=msk(2026, 1, 20, 10))
    assert record_reaction(inc2, official, NOW) is inc2
    # attach_post keeps a follow-up complaint as a reaction too.
    follow = complaint(author_id="a9", published_at=msk(2026, 1, 21, 10), text="До сих пор нет горячей воды")
    attached = attach_post(answered, follow, p, NOW)
    assert attached.reactions[-1].post_id == follow.id and attached.reactions[-1].verdict == "недоволен"


def test_merge_moves_every_message_and_closes_the_emptied_incident() -> None:
    p = profile()
    a = open_incident(complaint(author_id="a1", published_at=msk(2026, 1, 16, 19, 30)), p, NOW)
    b_post = complaint(
        author_id="b1",
        published_at=msk(2026, 1, 16, 18, 0),
        places=[Place(level="street", name="Советская", territory="centr")],
        aggression=0.7,
    )
    b = open_incident(b_post, p, NOW)
    assert b.priority == Priority.high and a.id != b.id
    at = msk(2026, 1, 17, 11, 0)
    target, emptied = merge_incidents(a, b, actor="head#1", at=at, profile=p)
    assert target.post_ids == [*a.post_ids, *b.post_ids]
    assert target.priority == Priority.high and target.created_at == b_post.published_at
    # The unanswered clock restarts from the earlier message with the higher priority: Monday 13:00.
    assert target.first_answer_due == msk(2026, 1, 19, 13, 0)
    assert target.audit[-1].action == "объединён" and b.id in target.audit[-1].detail
    assert emptied.post_ids == [] and emptied.merged_into == a.id
    assert emptied.status == IncidentStatus.closed and emptied.closed_at == at
    assert b.post_ids[0] in emptied.audit[-1].detail and a.id in emptied.audit[-1].detail
    with pytest.raises(InvalidTransition, match="самим собой"):
        merge_incidents(a, a, actor="head#1", at=at, profile=p)
    with pytest.raises(InvalidTransition, match="уже объединён"):
        merge_incidents(target, emptied, actor="head#1", at=at, profile=p)
    with pytest.raises(InvalidTransition, match="объединён"):
        transition(emptied, IncidentStatus.assigned, actor="x", at=at, profile=p)
    assert due_escalations(emptied, at + timedelta(days=30), p.sla) == []


def test_merge_into_a_closed_incident_reopens_it() -> None:
    p = profile()
    a = open_incident(complaint(author_id="a1"), p, NOW)
    for to, outcome in ((IncidentStatus.final, None), (IncidentStatus.closed, Outcome.solved)):
        a = transition(a, to, actor="zhkh", at=msk(2026, 1, 19, 10), profile=p, outcome=outcome)
    b = open_incident(complaint(author_id="b1", places=[], territory="centr"), p, NOW)
    target, _ = merge_incidents(a, b, actor="head#1", at=msk(2026, 1, 20, 10), profile=p)
    assert target.status == IncidentStatus.assigned and target.outcome is None
    # 8 working hours from Tuesday 10:00: 10–13, 14–18 and Wednesday 9–10.
    assert target.first_answer_due == msk(2026, 1, 21, 10, 0)


def test_split_moves_chosen_messages_into_a_new_incident() -> None:
    p = profile()
    water = complaint(author_id="a1")
    inc = open_incident(water, p, NOW)
    roads = complaint(
        author_id="a2",
        sector="Дороги",
        topic="Ямы",
        places=[Place(level="street", name="Советская", territory="centr")],
        published_at=msk(2026, 1, 16, 21, 0),
    )
    roads2 = complaint(author_id="a3", sector="Дороги", topic="Ямы", published_at=msk(2026, 1, 16, 22, 0))
    for post in (roads, roads2):
        inc = attach_post(inc, post, p, NOW)
    at = msk(2026, 1, 17, 12, 0)
    rest, fresh = split_incident(inc, [roads2, roads], actor="analyst#2", at=at, profile=p)
    assert rest.post_ids == [water.id]
    assert fresh.post_ids == [roads.id, roads2.id]  # by time
    assert (
        fresh.id
        == split_id(inc.id, [roads.id, roads2.id])
        == stable_id("split", inc.id, *sorted([roads.id, roads2.id]))
    )
    assert fresh.title == "Дороги: ямы — ул. Советская" and fresh.sector == "Дороги"
    assert fresh.created_at == roads.published_at and fresh.recipient == inc.recipient
    assert fresh.first_answer_due == msk(2026, 1, 19, 18, 0)  # two authors: normal; 8 h from Friday 21:00
    assert fresh.audit[0].action == "выделен" and inc.id in fresh.audit[0].detail
    assert rest.audit[-1].action == "разделён" and fresh.id in rest.audit[-1].detail
    with pytest.raises(InvalidTransition, match="хотя бы одно"):
        split_incident(inc, [water, roads, roads2], actor="a", at=at, profile=p)
    with pytest.raises(InvalidTransition, match="не относятся"):
        split_incident(inc, [complaint()], actor="a", at=at, profile=p)
    with pytest.raises(InvalidTransition, match="выберите"):
        split_incident(inc, [], actor="a", at=at, profile=p)


def test_working_hours_before() -> None:
    cal = WorkCalendar("Europe/Moscow")
    # Monday 10:00 minus 2 working hours: Monday 9–10 and Friday 17–18 → Friday 17:00.
    assert working_hours_before(cal, msk(2026, 1, 19, 10), 2) == msk(2026, 1, 16, 17)
    # Across lunch: Tuesday 15:00 minus 3 h → 14–15 (1 h), 12–13 (2 h) → 11:00.
    assert working_hours_before(cal, msk(2026, 1, 20, 15), 3) == msk(2026, 1, 20, 11)
    # May holidays 2026: Tuesday 12.05 10:00 minus 2 h → Tuesday 9–10, then Friday 08.05, a shortened
    # day before the 9 May holiday that ends at 17:00 (Saturday 09.05 and Monday 11.05 are off) → 16:00.
    assert working_hours_before(cal, msk(2026, 5, 12, 10), 2) == msk(2026, 5, 8, 16)
    # A moment outside working time counts from the end of the previous working interval.
    assert working_hours_before(cal, msk(2026, 1, 17, 12), 1) == msk(2026, 1, 16, 17)
    assert working_hours_before(cal, msk(2026, 1, 17, 12), 0) == msk(2026, 1, 17, 12)
    for hours in (0.5, 1, 3, 7.5, 8, 17):
        start = working_hours_before(cal, msk(2026, 3, 10, 11, 15), hours)
        assert cal.working_hours_between(start, msk(2026, 3, 10, 11, 15)) == pytest.approx(hours)


def test_escalation_in_working_time_across_the_weekend() -> None:
    p = profile()
    cal = calendar_for(p, "zhkh")
    deadline = msk(2026, 1, 16, 17, 0)  # Friday 17:00
    moments = escalation_moments(deadline, p.sla, cal)
    assert moments == {
        1: msk(2026, 1, 16, 15, 0),  # 2 working hours before: 15–17
        2: deadline,
        3: msk(2026, 1, 19, 12, 0),  # 4 working hours after: Friday 17–18, Monday 9–12
        4: msk(2026, 1, 19, 17, 0),  # 8 working hours (a working day): Friday 17–18, Monday 9–13, 14–17
    }
    inc = open_incident(complaint(), p, NOW).model_copy(update={"first_answer_due": deadline})
    # Saturday: levels 1 and 2 are due, the head of the МЦУ only on Monday at noon.
    assert [e.level for e in due_escalations(inc, msk(2026, 1, 17, 12), p.sla, cal)] == [1, 2]
    assert [e.level for e in due_escalations(inc, msk(2026, 1, 19, 11, 59), p.sla, cal)] == [1, 2]
    assert [e.level for e in due_escalations(inc, msk(2026, 1, 19, 12), p.sla, cal)] == [1, 2, 3]
    steps = due_escalations(inc, msk(2026, 1, 19, 17), p.sla, cal)
    assert [(e.level, e.due_at) for e in steps][-1] == (4, msk(2026, 1, 19, 17))


def test_escalation_on_the_recipients_time_zone() -> None:
    p = profile()
    cal = calendar_for(p, "ekb")  # Yekaterinburg, UTC+5: its 9–18 is 7–16 in Moscow
    deadline = datetime(2026, 1, 16, 17, 0, tzinfo=EKB)  # Friday 17:00 there
    moments = escalation_moments(deadline, p.sla, cal)
    assert moments[3] == datetime(2026, 1, 19, 12, 0, tzinfo=EKB)
    assert moments[3].astimezone(MSK) == msk(2026, 1, 19, 10, 0)


def test_escalation_before_a_transferred_day_off_and_a_shortened_day() -> None:
    p = profile()
    cal = calendar_for(p, "zhkh")
    # 03.11.2026 is shortened (ends 17:00) and 04.11 a holiday: a deadline on 05.11 at 10:00 warns on
    # 05.11 9:00–10:00 (1 h) and 03.11 16:00–17:00 (1 h) → 03.11 16:00.
    assert escalation_moments(msk(2026, 11, 5, 10), p.sla, cal)[1] == msk(2026, 11, 3, 16)
    # 31.12.2026 and 01–08.01.2027 are off (transfers): 4 working hours after 30.12 17:00 reach 11.01.
    assert escalation_moments(msk(2026, 12, 30, 17), p.sla, cal)[3] == msk(2027, 1, 11, 12)


def test_escalation_without_a_calendar_uses_calendar_hours() -> None:
    p = profile()
    deadline = msk(2026, 1, 16, 17, 0)
    moments = escalation_moments(deadline, p.sla)
    assert moments[1] == deadline - timedelta(hours=2) and moments[4] == deadline + timedelta(hours=8)
    assert ZoneInfo("Europe/Moscow") == MSK
