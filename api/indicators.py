"""Monitoring indicators for a period: message volumes from the rollups and incident timeliness."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta, tzinfo

from api.presenters import is_overdue
from api.schemas import CountItem, DayCount, IncidentIndicators, IndicatorsPublic, VolumeIndicators
from index.models import Incident, as_utc
from index.store import CountRow, IncidentQuery, Store
from risk.incidents import OPEN_STATUSES

#: Page size when reading every incident of a period.
_INCIDENT_BATCH = 500


def whole_hours(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """Return [since, until) widened to whole UTC hours, the granularity of the count rollups."""
    start = as_utc(since).replace(minute=0, second=0, microsecond=0)
    end = as_utc(until)
    if end != end.replace(minute=0, second=0, microsecond=0):
        end = end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return start, end


def local_days(since: datetime, until: datetime, tz: tzinfo) -> list[date]:
    """Return every local calendar day touched by [since, until), in order."""
    first = since.astimezone(tz).date()
    last = (until - timedelta(microseconds=1)).astimezone(tz).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def hourly_rows(store: Store, since: datetime, until: datetime) -> list[CountRow]:
    """Return hourly post counts by sector and territory for [since, until)."""
    return store.counts(since, until, by=("sector", "territory"), bucket="hour")


def by_day_and_sector(
    rows: list[CountRow], since: datetime, until: datetime, tz: tzinfo
) -> dict[tuple[date, str | None], int]:
    """Return counts per (local day, sector) for the days of [since, until)."""
    out: Counter[tuple[date, str | None]] = Counter()
    for row in rows:
        out[(row.bucket.astimezone(tz).date(), row.sector)] += row.count
    return dict(out)


def _ranked(counter: Counter[str | None]) -> list[CountItem]:
    """Return counter items largest first, ties by key (None last)."""
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
    return [CountItem(key=k, count=v) for k, v in items]


def volume(store: Store, since: datetime, until: datetime, tz: tzinfo) -> VolumeIndicators:
    """Return message volumes of [since, until) by sector, territory and local day, with the change."""
    rows = hourly_rows(store, since, until)
    previous = store.counts(since - (until - since), since, by=(), bucket="hour")
    total = sum(r.count for r in rows)
    previous_total = sum(r.count for r in previous)
    sectors: Counter[str | None] = Counter()
    territories: Counter[str | None] = Counter()
    days: Counter[date] = Counter()
    for row in rows:
        sectors[row.sector] += row.count
        territories[row.territory] += row.count
        days[row.bucket.astimezone(tz).date()] += row.count
    change = total - previous_total
    return VolumeIndicators(
        total=total,
        previous_total=previous_total,
        change=change,
        change_pct=round(100.0 * change / previous_total, 1) if previous_total else None,
        by_sector=_ranked(sectors),
        by_territory=_ranked(territories),
        by_day=[DayCount(day=d, count=days.get(d, 0)) for d in local_days(since, until, tz)],
    )


def incidents_created(store: Store, since: datetime, until: datetime) -> Iterator[Incident]:
    """Yield every incident created in [since, until), reading the store page by page."""
    offset = 0
    while True:
        page = store.query_incidents(
            IncidentQuery(since=since, until=until, limit=_INCIDENT_BATCH, offset=offset)
        )
        yield from page.items
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return


def answered_on_time(incident: Incident) -> bool:
    """Return whether the first answer came no later than its deadline (no deadline: any answer)."""
    if incident.first_answered_at is None:
        return False
    due = incident.first_answer_due
    return due is None or incident.first_answered_at <= due


def incident_counts(store: Store, since: datetime, until: datetime, now: datetime) -> IncidentIndicators:
    """Return counts over incidents created in [since, until): answered, on time, overdue, open at `now`."""
    opened = answered = on_time = overdue = still_open = 0
    for incident in incidents_created(store, since, until):
        opened += 1
        answered += incident.first_answered_at is not None
        on_time += answered_on_time(incident)
        overdue += is_overdue(incident, now)
        still_open += incident.status in OPEN_STATUSES
    return IncidentIndicators(
        opened=opened,
        answered=answered,
        answered_on_time=on_time,
        overdue=overdue,
        open=still_open,
        share_answered_on_time=round(on_time / opened, 4) if opened else None,
    )


def compute_indicators(
    store: Store, since: datetime, until: datetime, now: datetime, tz: tzinfo
) -> IndicatorsPublic:
    """Return every indicator for [since, until) widened to whole hours, as seen at `now`."""
    since, until = whole_hours(since, until)
    return IndicatorsPublic(
        since=since,
        until=until,
        previous_since=since - (until - since),
        now=now,
        timezone=str(tz),
        volume=volume(store, since, until, tz),
        incidents=incident_counts(store, since, until, now),
    )
