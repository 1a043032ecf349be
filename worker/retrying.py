"""Retry policy of the actors: an outage of the store or the broker is waited out, a bug is not.

dramatiq's `retry_when(retries, exception)` replaces `max_retries` when given. An actor's own limit
applies to ordinary failures (a bug, a bad answer); while the store is unavailable (locked, disk full,
Elasticsearch down) or Redis is unreachable, the message keeps being retried with the actor's backoff
for up to OUTAGE_RETRIES attempts (about two hours at a 60 s maximum backoff), so nothing goes to the
dead letters just because a dependency was down for a while.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import redis

from index.store import StoreUnavailable

#: Attempts while a dependency is down; the environment may change it (INFOPOLE_OUTAGE_RETRIES).
OUTAGE_RETRIES = int(os.environ.get("INFOPOLE_OUTAGE_RETRIES", "120"))
#: Exceptions that mean "a dependency is down, try again later".
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    StoreUnavailable,
    redis.ConnectionError,
    redis.TimeoutError,
)


def is_outage(exc: BaseException) -> bool:
    """Return whether `exc` means the store or the broker is down (retrying later helps)."""
    return isinstance(exc, OUTAGE_ERRORS)


def retry_policy(max_retries: int) -> Callable[[int, BaseException], bool]:
    """Return a `retry_when` that allows `max_retries` for failures and OUTAGE_RETRIES for outages."""

    def retry_when(retries: int, exc: BaseException) -> bool:
        return retries < (OUTAGE_RETRIES if is_outage(exc) else max_retries)

    retry_when.__name__ = f"retry_policy_{max_retries}"
    return retry_when
