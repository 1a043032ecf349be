"""Each incident's next escalation step: worked out by the transitions, stale after any other change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from index.models import IncidentStatus, Outcome, Priority
from index.profile import SlaRules
from risk.deadlines import calendar_for
from risk.incidents import (
    PriorityTally,
    assign,
    attach_post,
    escalation_moments,
    escalation_plan,
    escalation_rules,
    merge_incidents,
    open_incident,
    sla_for,
    transition,
    worked_out,
)
from tests.risk.test_incidents import PROFILE, complaint, msk, profile


def _moments_of(incident_profile_recipient: str | None, deadline: datetime) -> dict[int, datetime]:
    return escalation_moments(
        deadline,
        sla_for(PROFILE, incident_profile_recipient),
        calendar_for(PROFILE, incident_profile_recipient),
    )


def test_escalation_plan_gives_the_due_steps_and_the_next_one_after_them() -> None:
    inc = open_incident(complaint(), PROFILE, msk(2026, 1, 16, 19, 30))
    assert inc.first_answer_due is not None
    sla, calendar = sla_for(PROFILE, inc.recipient), calendar_for(PROFILE, inc.recipient)
    moments = escalation_moments(inc.first_answer_due, sla, calendar)
    assert escalation_plan(inc, moments[1] - timedelta(seconds=1), sla, calendar) == ([], moments[1])
    due, next_at = escalation_plan(inc, moments[2], sla, calendar)
    assert [s.level for s in due] == [1, 2] and next_at == moments[3]
    due, next_at = escalation_plan(inc, moments[4] + timedelta(days=1), sla, calendar)
    assert [s.level for s in due] == [1, 2, 3, 4] and next_at is None
    closed = inc.model_copy(update={"status": IncidentStatus.closed})
    assert escalation_plan(closed, moments[4], sla, calendar) == ([], None)


def test_open_incident_works_out_its_first_step_under_the_profile_rules() -> None:
    inc = open_incident(complaint(), PROFILE, msk(2026, 1, 16, 19, 30))
    assert inc.first_answer_due is not None
    rules, at = inc.step_index()
    assert rules == escalation_rules(PROFILE)
    assert at == _moments_of(inc.recipient, inc.first_answer_due)[1]  # the warning


def test_a_change_made_without_the_transitions_makes_the_step_not_worked_out() -> None:
    inc = open_incident(complaint(), PROFILE, msk(2026, 1, 16, 19, 30))
    for update in (
        {"escalation_level": 1},
        {"first_answer_due": msk(2026, 1, 30, 12)},
        {"status": IncidentStatus.interim},
        {"recipient": "roads"},
        {"merged_into": "other"},
    ):
        assert inc.model_copy(update=update).step_index() == (None, None), update
    # What does not change what is due keeps the step.
    assert inc.model_copy(update={"post_ids": ["a", "b"], "title": "x"}).step_index() == inc.step_index()


def test_transitions_work_the_next_step_out_again() -> None:
    inc = open_incident(complaint(), PROFILE, msk(2026, 1, 16, 19, 30))
    raised = attach_post(
        inc,
        complaint(author_id="other", aggression=0.9),
        PROFILE,
        msk(2026, 1, 16, 20),
        tally=PriorityTally(),
    )
    assert raised.priority == Priority.high and raised.first_answer_due != inc.first_answer_due
    assert raised.first_answer_due is not None
    assert raised.step_index() == (
        escalation_rules(PROFILE),
        _moments_of(raised.recipient, raised.first_answer_due)[1],
    )
    interim = transition(
        raised, IncidentStatus.interim, actor="оператор", at=msk(2026, 1, 19, 10), profile=PROFILE
    )
    assert interim.final_answer_due is not None
    assert interim.step_index()[1] == _moments_of(interim.recipient, interim.final_answer_due)[1]
    moved = assign(interim, "ekb", actor="оператор", at=msk(2026, 1, 19, 11), profile=PROFILE)
    assert moved.final_answer_due is not None
    calendar = calendar_for(PROFILE, "ekb")
    assert (
        moved.step_index()[1]
        == escalation_moments(moved.final_answer_due, sla_for(PROFILE, "ekb"), calendar)[1]
    )
    final = transition(
        moved, IncidentStatus.final, actor="оператор", at=msk(2026, 1, 20, 10), profile=PROFILE
    )
    closed = transition(
        final,
        IncidentStatus.closed,
        actor="оператор",
        at=msk(2026, 1, 20, 11),
        profile=PROFILE,
        outcome=Outcome.solved,
    )
    reopened = transition(
        closed, IncidentStatus.assigned, actor="оператор", at=msk(2026, 1, 21, 10), profile=PROFILE
    )
    assert reopened.first_answer_due is not None
    assert reopened.step_index()[1] == _moments_of(reopened.recipient, reopened.first_answer_due)[1]
    other = open_incident(complaint(territory="zarechye", places=[]), PROFILE, msk(2026, 1, 16, 18))
    merged, emptied = merge_incidents(
        reopened, other, actor="оператор", at=msk(2026, 1, 21, 11), profile=PROFILE
    )
    assert merged.step_index()[0] == escalation_rules(PROFILE) and emptied.step_index() == (None, None)


def test_rules_change_with_the_sla_and_the_recipients_calendars_only() -> None:
    base = escalation_rules(PROFILE)
    assert escalation_rules(profile()) == base  # an equal profile, another object
    assert escalation_rules(PROFILE.model_copy(update={"sla": SlaRules(warn_before_hours=3)})) != base
    renamed = PROFILE.model_copy(
        update={"recipients": [r.model_copy(update={"name": r.name + "!"}) for r in PROFILE.recipients]}
    )
    assert escalation_rules(renamed) == base
    moved = PROFILE.model_copy(
        update={"recipients": [r.model_copy(update={"timezone": "Asia/Omsk"}) for r in PROFILE.recipients]}
    )
    assert escalation_rules(moved) != base


def test_worked_out_with_no_deadline_left_has_no_next_step_but_counts_as_worked_out() -> None:
    inc = open_incident(complaint(), PROFILE, msk(2026, 1, 16, 19, 30))
    top = worked_out(inc.model_copy(update={"escalation_level": 4}), PROFILE)
    assert top.step_index() == (escalation_rules(PROFILE), None)
    assert datetime(2026, 1, 1, tzinfo=UTC) < (inc.next_step_at or datetime.max.replace(tzinfo=UTC))
