"""Validate and default the [since, until) periods the API receives."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import HTTPException, status

from index.models import as_utc

#: Default length of the indicators period.
DEFAULT_PERIOD = timedelta(days=7)
#: Longest period a request may ask for (indicators compare with the previous period of the same length).
MAX_PERIOD = timedelta(days=731)
#: Dates outside these years are refused (far dates overflow the comparison period and cost minutes).
MIN_YEAR, MAX_YEAR = 2000, 2100


def _check_bounds(*moments: datetime | None) -> None:
    """Raise HTTP 422 with a Russian message for a date outside MIN_YEAR..MAX_YEAR."""
    for moment in moments:
        if moment is not None and not MIN_YEAR <= moment.year <= MAX_YEAR:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=f"дата {moment.date().isoformat()} вне допустимых лет {MIN_YEAR}–{MAX_YEAR}",
            )


def _check_length(start: datetime, end: datetime) -> None:
    """Raise HTTP 422 with a Russian message for a period longer than MAX_PERIOD."""
    if end - start > MAX_PERIOD:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"период длиннее {MAX_PERIOD.days} дней: сузьте since и until",
        )


def resolve_period(
    since: datetime | None, until: datetime | None, now: datetime, default: timedelta = DEFAULT_PERIOD
) -> tuple[datetime, datetime]:
    """Return an aware UTC [since, until): until defaults to `now`, since to `until - default`.

    Raises HTTP 422 with a Russian message when since is not before until, a date is outside
    MIN_YEAR..MAX_YEAR or the period is longer than MAX_PERIOD.
    """
    _check_bounds(since, until)
    end = as_utc(until) if until is not None else as_utc(now)
    start = as_utc(since) if since is not None else end - default
    if start >= end:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="начало периода (since) должно быть раньше конца (until)",
        )
    _check_length(start, end)
    return start, end


def check_order(since: datetime | None, until: datetime | None) -> None:
    """Raise HTTP 422 with a Russian message when both bounds are given and since ≥ until, or a date
    is outside MIN_YEAR..MAX_YEAR (a filter may be as long as it likes: it only selects)."""
    _check_bounds(since, until)
    if since is not None and until is not None and as_utc(since) >= as_utc(until):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="начало периода (since) должно быть раньше конца (until)",
        )
