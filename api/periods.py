"""Validate and default the [since, until) periods the API receives."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import HTTPException, status

from index.models import as_utc

#: Default length of the indicators period.
DEFAULT_PERIOD = timedelta(days=7)


def resolve_period(
    since: datetime | None, until: datetime | None, now: datetime, default: timedelta = DEFAULT_PERIOD
) -> tuple[datetime, datetime]:
    """Return an aware UTC [since, until): until defaults to `now`, since to `until - default`.

    Raises HTTP 422 with a Russian message when since is not before until.
    """
    end = as_utc(until) if until is not None else as_utc(now)
    start = as_utc(since) if since is not None else end - default
    if start >= end:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="начало периода (since) должно быть раньше конца (until)",
        )
    return start, end


def check_order(since: datetime | None, until: datetime | None) -> None:
    """Raise HTTP 422 with a Russian message when both bounds are given and since ≥ until."""
    if since is not None and until is not None and as_utc(since) >= as_utc(until):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="начало периода (since) должно быть раньше конца (until)",
        )
