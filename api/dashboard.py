"""Build the web main page: open alerts, open incidents with local deadlines, the 14-day volume chart."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from api.auth import Permission, Principal
from api.chart import Chart, stacked_chart
from api.deps import AppContext
from api.indicators import by_day_and_sector, hourly_rows, local_days
from api.presenters import is_overdue
from index.models import Alert, AlertKind, Incident, Priority
from index.profile import Profile
from index.store import AlertQuery, IncidentQuery
from risk.incidents import OPEN_STATUSES, PRIORITY_NAMES, STATUS_NAMES, open_deadline

#: Days the volume chart covers, today included.
CHART_DAYS = 14
#: How many alerts and incidents the main page lists.
PAGE_ROWS = 50

ALERT_KIND_LABELS: Mapping[AlertKind, str] = {
    AlertKind.spike: "всплеск",
    AlertKind.conflict: "конфликт",
    AlertKind.story: "новый сюжет",
    AlertKind.incident: "критический инцидент",
    AlertKind.overdue: "просрочка",
    AlertKind.source: "источник",
}


def local_time(value: datetime | None, tz: tzinfo) -> str:
    """Return `value` as «дд.мм.гггг чч:мм» in `tz`, or a dash when absent."""
    if value is None:
        return "—"
    return value.astimezone(tz).strftime("%d.%m.%Y %H:%M")


@dataclass(frozen=True)
class AlertRow:
    """One open alert on the page."""

    id: str
    kind: str
    severity: int
    title: str
    text: str
    at: str


@dataclass(frozen=True)
class IncidentRow:
    """One open incident on the page."""

    id: str
    title: str
    status: str
    priority: str
    critical: bool
    recipient: str
    place: str
    deadline_label: str
    deadline: str
    overdue: bool
    posts: int


@dataclass
class Dashboard:
    """Everything the main page shows; a section is None when the role may not see it."""

    now: str
    timezone: str
    role: str
    can_ack: bool
    alerts: list[AlertRow] | None = None
    alerts_total: int = 0
    incidents: list[IncidentRow] = field(default_factory=list)
    incidents_total: int = 0
    overdue_total: int = 0
    chart: Chart | None = None


def alert_row(alert: Alert, tz: tzinfo) -> AlertRow:
    """Return the page row of an alert."""
    return AlertRow(
        id=alert.id,
        kind=ALERT_KIND_LABELS.get(alert.kind, str(alert.kind)),
        severity=alert.severity,
        title=alert.title,
        text=alert.text,
        at=local_time(alert.event_at or alert.created_at, tz),
    )


def incident_row(incident: Incident, profile: Profile, now: datetime, tz: tzinfo) -> IncidentRow:
    """Return the page row of an incident, with the deadline that runs now."""
    deadline = open_deadline(incident)
    stage, due = deadline if deadline else ("none", None)
    label = {"first": "первый ответ до", "final": "окончательный ответ до"}.get(stage, "срок")
    recipient = profile.recipient(incident.recipient) if incident.recipient else None
    return IncidentRow(
        id=incident.id,
        title=incident.title,
        status=STATUS_NAMES.get(incident.status, str(incident.status)),
        priority=PRIORITY_NAMES.get(incident.priority, str(incident.priority)),
        critical=incident.priority == Priority.critical,
        recipient=recipient.name if recipient else (incident.recipient or "не назначен"),
        place=incident.place or incident.territory or "",
        deadline_label=label,
        deadline=local_time(due, tz),
        overdue=is_overdue(incident, now),
        posts=len(incident.post_ids),
    )


def _deadline_key(incident: Incident, now: datetime) -> tuple[int, datetime]:
    """Sort key: overdue first, then by the running deadline (none last)."""
    deadline = open_deadline(incident)
    return (
        0 if is_overdue(incident, now) else 1,
        deadline[1] if deadline else datetime.max.replace(tzinfo=UTC),
    )


def volume_chart(ctx: AppContext, now: datetime) -> Chart:
    """Return the stacked chart of the last CHART_DAYS local days up to `now`."""
    tz = ctx.timezone
    today = now.astimezone(tz).date()
    first = today - timedelta(days=CHART_DAYS - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    days = local_days(since, now, tz) if since < now else [today]
    counts = by_day_and_sector(hourly_rows(ctx.store, since, now), since, now, tz)
    return stacked_chart(days, counts)


def build_dashboard(ctx: AppContext, principal: Principal) -> Dashboard:
    """Read the store and return the main page for `principal` (sections per role)."""
    now = ctx.now()
    tz = ctx.timezone
    page = Dashboard(
        now=local_time(now, tz),
        timezone=str(tz),
        role=principal.title,
        can_ack=principal.can(Permission.alerts_ack),
    )
    if principal.can(Permission.alerts_read):
        alerts = ctx.store.query_alerts(AlertQuery(acknowledged=False, limit=PAGE_ROWS))
        page.alerts = [alert_row(a, tz) for a in alerts.items]
        page.alerts_total = alerts.total
    if principal.can(Permission.incidents_read):
        open_statuses = sorted(OPEN_STATUSES)
        query = IncidentQuery(status=open_statuses, recipient=principal.recipient_id, limit=PAGE_ROWS)
        incidents = ctx.store.query_incidents(query)
        ordered = sorted(incidents.items, key=lambda i: _deadline_key(i, now))
        page.incidents = [incident_row(i, ctx.profile, now, tz) for i in ordered]
        page.incidents_total = incidents.total
        overdue = IncidentQuery(
            status=open_statuses, recipient=principal.recipient_id, overdue_at=now, limit=1
        )
        page.overdue_total = ctx.store.query_incidents(overdue).total
    if principal.can(Permission.indicators_read):
        page.chart = volume_chart(ctx, now)
    return page
