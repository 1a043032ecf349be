"""The escalation run: apply every due warning and escalation step to open incidents and tell of them.

A run reads only the open incidents whose next step is due or not yet worked out (IncidentQuery
`step_due_at`, an index of each incident's `next_step_at`), never every open one: an incident whose
next step is still ahead costs nothing until it falls due. The invariant that keeps a step from being
missed: an incident's stored next step counts only while its `next_step_basis` (the escalation rules
of the profile + the incident's status, deadlines, level, recipient and merge) is the incident as it
is (Incident.step_index, applied by the stores on every write). Whoever changes what is due — a new
message raising the priority, an answer, a reassignment, a reopening, a merge, an SLA edit — needs to
know nothing of it: the change alone makes the incident "not worked out", and the next run works its
steps out and writes its next step back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import cast

from index.models import Alert, AlertKind, Incident
from index.store import AlertingStore, AlertQuery, IncidentQuery, VersionConflict
from risk import alerts as alert_texts
from risk.deadlines import calendar_for
from risk.incidents import (
    Escalation,
    apply_escalation,
    escalation_plan,
    escalation_rules,
    open_deadline,
    sla_for,
    worked_out,
)
from worker.runtime import Runtime

log = logging.getLogger(__name__)

#: Optimistic-concurrency retries for one incident write.
INCIDENT_WRITE_RETRIES = 8
#: Incidents read per page by the escalation run (only those with a step due or not worked out).
ESCALATION_PAGE = 2000
#: Incidents written per grouped store write by the escalation run.
ESCALATION_WRITE_BATCH = 200
#: Overdue alerts of this many days back are read for steps already told (a run cut off between
#: storing its alerts and its steps applies those steps without telling them again).
TOLD_LOOKBACK_DAYS = 3
#: The name of the lock that makes escalation runs one at a time (across threads and processes with
#: a Redis lock): two runs at once would both find the same steps untold and tell them twice.
ESCALATION_LOCK = "escalation-run"

Lock = Callable[[str], AbstractContextManager[bool]]


def escalate_overdue(rt: Runtime, now: datetime, *, lock: Lock | None = None) -> list[Alert]:
    """Apply every due warning and escalation step to open incidents; return the new alerts.

    Each step is a fact on the incident (level and audit); the alerts tell of the run's steps without
    noise (risk.alerts.escalation_alerts): a critical incident alone, the rest one alert per recipient
    and one digest for the head of the centre, each step once. With `lock`, a run that finds another
    one in progress does nothing (the steps stay due for the next run).
    """
    if lock is None:
        return _escalate(rt, now)
    with lock(ESCALATION_LOCK) as acquired:
        if not acquired:
            log.info("escalation at %s: another run is in progress; its steps wait for the next run", now)
            return []
        return _escalate(rt, now)


class _Steps:
    """Works out incidents' steps on their recipients' calendars and SLAs under one profile."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.rules = escalation_rules(rt.profile)
        #: When the next step after the due ones falls due, by id (of the run's incidents with steps due).
        self.next_after: dict[str, datetime | None] = {}
        self.read = 0  # incidents the run read
        self.written = 0  # incidents written back with their next step only

    def plan(self, incident: Incident, now: datetime) -> tuple[list[Escalation], datetime | None]:
        """Return the incident's steps due at `now` and when its next step after them falls due."""
        recipient = incident.recipient
        profile = self.rt.profile
        due, next_at = escalation_plan(
            incident, now, sla_for(profile, recipient), calendar_for(profile, recipient)
        )
        if due:
            self.next_after[incident.id] = next_at
        return due, next_at

    def with_next(self, incident: Incident, next_at: datetime | None) -> Incident:
        """Return the incident with `next_at` as its next step, for its present state."""
        return incident.with_step_plan(self.rules, next_at)

    def planned(self, item: alert_texts.OverdueItem, now: datetime) -> Incident:
        """Return the item's incident as read, its steps applied, with the next step planned for it."""
        incident = item.incident
        for step in item.steps:
            incident = apply_escalation(incident, step, now)
        return self.with_next(incident, self.next_after.get(item.incident.id))

    def stepped(self, incident: Incident, steps: Sequence[Escalation], now: datetime) -> Incident:
        """Return the incident with `steps` applied (those above its level) and its next step worked out."""
        for step in steps:
            incident = apply_escalation(incident, step, now)
        return worked_out(incident, self.rt.profile)


def _escalate(rt: Runtime, now: datetime) -> list[Alert]:
    """Run one escalation (the caller makes sure no other runs at the same time)."""
    started = time.thread_time()
    steps = _Steps(rt)
    items = _due_items(rt, steps, now)
    new: list[Alert] = []
    saved = 0
    if items:
        names = {r.id: r.name for r in rt.profile.recipients}
        told = _told_steps(rt, now)
        alerts = alert_texts.escalation_alerts(items, names, told=told, tz=rt.profile.timezone, now=now)
        # The alerts first: a run cut off before its steps are written leaves them due, and the next run
        # applies them without telling them again (they are in `told`), instead of steps never told.
        new = [alert for alert in alerts if rt.store.add_alert(alert)]
        saved = _save_escalated(rt, steps, items, now)
    log.info(
        "escalation at %s: %d incidents read, %d next steps written, %d stepped up (%d written), "
        "%d new alerts, %.0f ms CPU",
        now,
        steps.read,
        steps.written,
        len(items),
        saved,
        len(new),
        (time.thread_time() - started) * 1000,
    )
    return new


def _due_items(rt: Runtime, steps: _Steps, now: datetime) -> list[alert_texts.OverdueItem]:
    """Return the open incidents with steps due at `now`, with those steps; write the others' next step.

    Reads ESCALATION_PAGE incidents at a time, only those with a step due or not worked out. The ones
    whose next step is ahead are written back with it and leave the set, so the next page starts after
    the ones that stay (those with steps due, written after the alerts, and lost write races).
    """
    items: list[alert_texts.OverdueItem] = []
    seen: set[str] = set()
    query = IncidentQuery(step_due_at=now, step_rules=steps.rules, limit=ESCALATION_PAGE)
    while True:
        page = rt.store.query_incidents(query)
        steps.read += len(page.items)
        ahead: list[Incident] = []
        for incident in page.items:
            if incident.id in seen:  # moved back by a write between two pages
                continue
            seen.add(incident.id)
            due, next_at = steps.plan(incident, now)
            if due:
                items.append(alert_texts.OverdueItem(incident, tuple(due)))
            else:
                ahead.append(steps.with_next(incident, next_at))
        written = _save_next_steps(rt, ahead)
        steps.written += written
        query.offset += len(page.items) - written
        if not page.items or query.offset >= page.total - written:
            return items


def _save_next_steps(rt: Runtime, incidents: Sequence[Incident]) -> int:
    """Write the incidents' worked-out next steps in groups; return how many were written.

    An incident changed meanwhile is left as it is: the change made it "not worked out" again or its
    stored next step is still its own, and the next run works it out.
    """
    written = 0
    grouped = isinstance(rt.store, AlertingStore)
    for start in range(0, len(incidents), ESCALATION_WRITE_BATCH):
        chunk = incidents[start : start + ESCALATION_WRITE_BATCH]
        if grouped:
            try:
                written += len(cast(AlertingStore, rt.store).save_incidents([(i, i.version) for i in chunk]))
                continue
            except VersionConflict:
                pass  # one of them changed: write them one by one
        for incident in chunk:
            try:
                rt.store.save_incident(incident, expected_version=incident.version)
                written += 1
            except VersionConflict:
                continue
    return written


def _told_steps(rt: Runtime, now: datetime) -> set[alert_texts.StepKey]:
    """Return the escalation steps already told by stored overdue alerts of the last days."""
    told: set[alert_texts.StepKey] = set()
    query = AlertQuery(
        kind=[AlertKind.overdue], since=now - timedelta(days=TOLD_LOOKBACK_DAYS), limit=ESCALATION_PAGE
    )
    while True:
        page = rt.store.query_alerts(query)
        for alert in page.items:
            told.update(alert_texts.told_steps(alert))
        query.offset += len(page.items)
        if query.offset >= page.total or not page.items:
            return told


def _save_escalated(
    rt: Runtime, steps: _Steps, items: Sequence[alert_texts.OverdueItem], now: datetime
) -> int:
    """Write the items' steps on their incidents in groups; return how many incidents were written.

    Where someone changed an incident meanwhile (a new message, an answer), it is read again and the
    steps the run told are applied to it as it is now, if its deadline still waits for them: a told
    step is recorded by the run that told it, never left to a later run that would tell it again.
    """
    saved = 0
    grouped = isinstance(rt.store, AlertingStore)
    for start in range(0, len(items), ESCALATION_WRITE_BATCH):
        chunk = items[start : start + ESCALATION_WRITE_BATCH]
        if grouped:
            writes = [(steps.planned(item, now), item.incident.version) for item in chunk]
            try:
                saved += len(cast(AlertingStore, rt.store).save_incidents(writes))
                continue
            except VersionConflict:
                pass  # one of them changed: write them one by one
        for item in chunk:
            saved += _save_one_escalated(rt, steps, item, now)
    return saved


def _save_one_escalated(rt: Runtime, steps: _Steps, item: alert_texts.OverdueItem, now: datetime) -> int:
    """Write one incident's steps, re-reading it while others change it; return 1 if written."""
    current: Incident | None = item.incident
    for _ in range(INCIDENT_WRITE_RETRIES):
        if current is None:
            return 0
        deadline = open_deadline(current)
        told = [s for s in item.steps if deadline is not None and s.stage == deadline[0]]
        if not any(s.level > current.escalation_level for s in told):
            return 0  # answered, closed or stepped up meanwhile: nothing left to record
        try:
            rt.store.save_incident(steps.stepped(current, told, now), expected_version=current.version)
            return 1
        except VersionConflict:
            current = rt.store.get_incident(item.incident.id)
    log.warning("escalation: incident %s kept changing; its steps wait for the next run", item.incident.id)
    return 0
