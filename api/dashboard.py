"""Build the web main page: open alerts, the incidents that need attention, key figures, the volume chart."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

from api.auth import Permission, Principal
from api.chart import Chart, stacked_chart
from api.deps import AppContext
from api.presenters import is_overdue
from api.views.common import local_time
from index.models import Alert, AlertKind, Incident, Priority
from index.profile import Profile
from index.store import AlertQuery, IncidentQuery, Store
from risk.incidents import OPEN_STATUSES, PRIORITY_NAMES, STATUS_NAMES, open_deadline

__all__ = ["ALERT_KIND_LABELS", "Dashboard", "build_dashboard", "incident_row", "local_time"]

#: Days the volume chart covers, today included.
CHART_DAYS = 14
#: How many alerts and incidents the main page lists (the rest are on their own pages).
PAGE_ROWS = 20
#: Page size when reading every open incident.
_SCAN_BATCH = 500
#: At most this many open incidents are read for the main page's figures.
MAX_OPEN_SCANNED = 5_000

ALERT_KIND_LABELS: Mapping[AlertKind, str] = {
    AlertKind.spike: "всплеск",
    AlertKind.conflict: "конфликт",
    AlertKind.story: "новый сюжет",
    AlertKind.incident: "критический инцидент",
    AlertKind.overdue: "просрочка",
    AlertKind.source: "источник",
}


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
    """One incident in a table."""

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
    critical_total: int = 0
    chart: Chart | None = None
    scanned_all: bool = True  # False when there were more open incidents than MAX_OPEN_SCANNED


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
    """Return the table row of an incident, with the deadline that runs now."""
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


def attention_key(incident: Incident, now: datetime) -> tuple[int, int, datetime]:
    """Sort key: overdue first, then critical, then by the running deadline (none last)."""
    deadline = open_deadline(incident)
    return (
        0 if is_overdue(incident, now) else 1,
        0 if incident.priority == Priority.critical else 1,
        deadline[1] if deadline else datetime.max.replace(tzinfo=UTC),
    )


def iter_open_incidents(store: Store, recipient: str | None, limit: int) -> Iterator[Incident]:
    """Yield up to `limit` open incidents (of one recipient when given), newest first."""
    offset = 0
    while offset < limit:
        query = IncidentQuery(
            status=sorted(OPEN_STATUSES),
            recipient=recipient,
            limit=min(_SCAN_BATCH, limit - offset),
            offset=offset,
        )
        page = store.query_incidents(query)
        yield from page.items
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return


def volume_chart(ctx: AppContext, now: datetime) -> Chart:
    """Return the stacked chart of the last CHART_DAYS local days up to `now`, by sector."""
    tz = ctx.timezone
    today = now.astimezone(tz).date()
    first = today - timedelta(days=CHART_DAYS - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    days = [first + timedelta(days=i) for i in range(CHART_DAYS)]
    counts: Counter[tuple[date, str | None]] = Counter()
    for row in ctx.store.counts(since, now, by=("sector",), bucket="hour"):
        counts[(row.bucket.astimezone(tz).date(), row.sector)] += row.count
    return stacked_chart(days, dict(counts))


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
        scanned = list(iter_open_incidents(ctx.store, principal.recipient_id, MAX_OPEN_SCANNED))
        total = ctx.store.query_incidents(
            IncidentQuery(status=sorted(OPEN_STATUSES), recipient=principal.recipient_id, limit=1)
        ).total
        ordered = sorted(scanned, key=lambda i: attention_key(i, now))
        page.incidents = [incident_row(i, ctx.profile, now, tz) for i in ordered[:PAGE_ROWS]]
        page.incidents_total = total
        page.scanned_all = len(scanned) >= total
        overdue = IncidentQuery(
            status=sorted(OPEN_STATUSES), recipient=principal.recipient_id, overdue_at=now, limit=1
        )
        page.overdue_total = ctx.store.query_incidents(overdue).total
        page.critical_total = sum(1 for i in scanned if i.priority == Priority.critical)
    if principal.can(Permission.indicators_read):
        page.chart = volume_chart(ctx, now)
    return page
