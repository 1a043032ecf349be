"""Time slots of periodic jobs, claimed once in Redis so a restarted scheduler never runs a slot twice."""

from __future__ import annotations

from datetime import datetime

from redis import Redis

#: How long a claimed slot is remembered (s).
SLOT_TTL_S = 7 * 24 * 3600


def slot_id(at: datetime, period_s: int) -> str:
    """Return the id of the slot of length `period_s` seconds that contains `at`."""
    return f"{int(at.timestamp()) // period_s * period_s}"


def claim_slot(client: Redis, job: str, slot: str) -> bool:
    """Return True if this (job, slot) was not claimed before, by any scheduler (Redis SET NX)."""
    return bool(client.set(f"infopole:slot:{job}:{slot}", "1", nx=True, ex=SLOT_TTL_S))
