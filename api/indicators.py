"""Indicators for the API and the web UI: the computation lives in risk.indicators; hourly helpers here."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, tzinfo

from index.profile import Profile
from index.store import CountRow, Store
from risk.indicators import Indicators, Slice, local_days, whole_hours
from risk.indicators import compute_indicators as compute

__all__ = ["by_day_and_sector", "compute_indicators", "hourly_rows", "local_days", "whole_hours"]


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


def compute_indicators(
    store: Store,
    since: datetime,
    until: datetime,
    now: datetime,
    tz: tzinfo,
    profile: Profile | None = None,
    sl: Slice | None = None,
) -> Indicators:
    """Return every indicator for [since, until) widened to whole hours and the slice, as seen at `now`."""
    return compute(store, profile or Profile(name="—"), since, until, now, tz, sl)
