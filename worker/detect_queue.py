"""Posts waiting for detection, kept in Redis, so one detection run covers many ingest messages.

Detection's cost is mostly per run (spike baselines over the store's hourly counts), not per post, so
`ingest` does not queue a detection per message: it appends its post ids to a Redis list and schedules
one delayed run unless one is scheduled already. A run (one at a time, under a lock) reads a prefix of
the list, detects on it, and only then trims exactly that prefix: a run killed midway leaves its ids
pending for the next one (detection is idempotent: alerts are stored once by id, incidents by post).
"""

from __future__ import annotations

from collections.abc import Sequence

from redis import Redis

#: The list of post ids stored but not yet through detection (RPUSH by ingest, trimmed by a run).
PENDING_KEY = "infopole:detect:pending"
#: Set while a detection run is scheduled and has not started yet.
SCHEDULED_KEY = "infopole:detect:scheduled"
#: Name of the lock a detection run holds (one run at a time across workers).
RUN_LOCK = "detect-run"
#: Delay of a scheduled run (ms): ingest messages arriving meanwhile join it.
RUN_DELAY_MS = 1_000
#: How long the "scheduled" mark lives (ms) should the run never start (a lost message).
SCHEDULED_TTL_MS = 1_500
#: Post ids one run detects on at most.
RUN_LIMIT = 2_000
#: Failures of runs starting at the same waiting id after which the run looks for the posts that fail
#: (a post detection always fails on must not stop detection for everyone behind it).
MAX_RUN_FAILURES = 3
#: Prefix of the counters of failed runs, per first waiting id (they expire after FAILURES_TTL_S).
FAILURES_PREFIX = "infopole:detect:failures:"
FAILURES_TTL_S = 86_400

# Trim the list's prefix only if it still is the ids given (a run whose lock lapsed trims nothing).
_TRIM_PREFIX_LUA = """
local n = #ARGV
local head = redis.call('LRANGE', KEYS[1], 0, n - 1)
if #head ~= n then return 0 end
for i = 1, n do
  if head[i] ~= ARGV[i] then return 0 end
end
redis.call('LTRIM', KEYS[1], n, -1)
return 1
"""


def add_pending(client: Redis, post_ids: Sequence[str]) -> None:
    """Append stored post ids to the ones waiting for detection."""
    if post_ids:
        client.rpush(PENDING_KEY, *post_ids)


def claim_schedule(client: Redis, ttl_ms: int = SCHEDULED_TTL_MS) -> bool:
    """Mark a run as scheduled; return False if one is scheduled already (the caller sends nothing)."""
    return bool(client.set(SCHEDULED_KEY, "1", nx=True, px=ttl_ms))


def run_started(client: Redis) -> None:
    """Clear the scheduled mark: ids added from now on need a run of their own."""
    client.delete(SCHEDULED_KEY)


def read_pending(client: Redis, limit: int = RUN_LIMIT) -> list[str]:
    """Return the first `limit` waiting post ids, in arrival order (duplicates kept, for the trim)."""
    raw = client.lrange(PENDING_KEY, 0, limit - 1)
    return [x.decode() if isinstance(x, bytes) else str(x) for x in raw]


def drop_done(client: Redis, done: Sequence[str]) -> bool:
    """Remove `done` from the head of the waiting ids; return False if the head is no longer them."""
    if not done:
        return True
    return bool(client.eval(_TRIM_PREFIX_LUA, 1, PENDING_KEY, *done))


def pending_count(client: Redis) -> int:
    """Return how many post ids wait for detection."""
    return int(client.llen(PENDING_KEY))


def note_failure(client: Redis, first_id: str) -> int:
    """Count one more failed run starting at `first_id`; return how many there were."""
    key = FAILURES_PREFIX + first_id
    pipe = client.pipeline()
    pipe.incr(key)
    pipe.expire(key, FAILURES_TTL_S)
    count, _ = pipe.execute()
    return int(count)


def clear_failures(client: Redis, first_id: str) -> None:
    """Forget the failed runs starting at `first_id` (its run went through)."""
    client.delete(FAILURES_PREFIX + first_id)
