"""Retention of posts on any backend: delete what is older than STORE__RETENTION_DAYS."""

from __future__ import annotations

from datetime import datetime, timedelta

from index.models import as_utc
from index.store import Store


def retention_cutoff(now: datetime, retention_days: int) -> datetime:
    """Return the publication time before which posts are deleted."""
    return as_utc(now) - timedelta(days=retention_days)


def apply_retention(store: Store, retention_days: int, now: datetime) -> int:
    """Delete every post older than `retention_days` at `now`; return how many were deleted.

    On Elasticsearch the lifecycle policy deletes whole months on its own; this also removes the
    remainder of the oldest month, so both backends keep exactly the same posts.
    """
    if retention_days <= 0:
        raise ValueError("срок хранения должен быть положительным числом дней")
    return store.delete_posts_before(retention_cutoff(now, retention_days))
