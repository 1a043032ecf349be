"""API rate limits per key and per client address (moving window in memory, the `limits` library).

Every request counts against its client address; a request that carries a key (header or login cookie)
also counts against that key, whether or not the key is valid, so rotating made-up keys gains nothing.
Over a limit the answer is 429 with `Retry-After` (whole seconds) and a Russian message. The limits are
per process: with several API processes each one counts on its own.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie

from fastapi import FastAPI
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import API_KEY_COOKIE, API_KEY_HEADER

#: Paths never limited: liveness probes of the orchestrator.
EXEMPT_PATHS = frozenset({"/healthz"})
#: The message of a 429 answer; {seconds} is the wait.
TOO_MANY_MESSAGE = "слишком много запросов: повторите через {seconds} с"


class RateLimitConfigError(ValueError):
    """A configured limit cannot be parsed (message in Russian)."""


def parse_limits(spec: str, setting: str) -> list[RateLimitItem]:
    """Return the limits of `spec` ("100/minute;2000/hour"; empty: none); raise RateLimitConfigError."""
    spec = spec.strip()
    if not spec:
        return []
    try:
        return list(parse_many(spec))
    except ValueError as exc:
        raise RateLimitConfigError(
            f"неверный лимит запросов {setting}={spec!r}: "
            "ожидается вида «600/minute» или «10/second;500/hour»"
        ) from exc


def _key_of(scope: Scope) -> str | None:
    """Return the SHA-256 hex of the API key the request carries (header first, then cookie), or None."""
    header_name = API_KEY_HEADER.lower().encode("latin-1")
    cookie_header = b""
    for name, value in scope.get("headers", []):
        if name == header_name and value:
            return hashlib.sha256(value).hexdigest()
        if name == b"cookie":
            cookie_header = value
    if cookie_header:
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(cookie_header.decode("latin-1"))
        except Exception:  # a malformed Cookie header is not ours to judge
            return None
        morsel = cookie.get(API_KEY_COOKIE)
        if morsel is not None and morsel.value:
            return hashlib.sha256(morsel.value.encode("utf-8")).hexdigest()
    return None


@dataclass(frozen=True)
class _Rule:
    """Limits of one kind of identity."""

    name: str
    items: list[RateLimitItem]


class RateLimitMiddleware:
    """ASGI middleware answering 429 with Retry-After when a key or an address goes over its limits."""

    def __init__(
        self,
        app: ASGIApp,
        per_key: list[RateLimitItem],
        per_ip: list[RateLimitItem],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Wrap `app` with the given limits (empty lists: no limit of that kind)."""
        self.app = app
        self.rules = (_Rule("key", per_key), _Rule("ip", per_ip))
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.clock = clock

    def _retry_after_s(self, item: RateLimitItem, *identifiers: str) -> int:
        """Return whole seconds until `item` admits another request for `identifiers` (at least 1)."""
        stats = self.limiter.get_window_stats(item, *identifiers)
        return max(1, math.ceil(stats.reset_time - self.clock()))

    def check(self, key_digest: str | None, address: str | None) -> int | None:
        """Count one request; return the seconds to wait when a limit is exceeded, else None."""
        identities = {"key": key_digest, "ip": address}
        for rule in self.rules:
            identity = identities[rule.name]
            if identity is None:
                continue
            for item in rule.items:
                if not self.limiter.hit(item, rule.name, identity):
                    return self._retry_after_s(item, rule.name, identity)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request with 429 when over a limit, else pass it on."""
        if scope["type"] != "http" or scope.get("path") in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        wait_s = self.check(_key_of(scope), address)
        if wait_s is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": TOO_MANY_MESSAGE.format(seconds=wait_s)}, ensure_ascii=False).encode()
        start: Message = {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(wait_s).encode()),
            ],
        }
        await send(start)
        await send({"type": "http.response.body", "body": body})


def install_rate_limits(app: FastAPI, per_key: str, per_ip: str) -> None:
    """Add the rate-limit middleware to `app` unless both limits are empty; raise RateLimitConfigError."""
    key_items = parse_limits(per_key, "API__RATE_LIMIT_PER_KEY")
    ip_items = parse_limits(per_ip, "API__RATE_LIMIT_PER_IP")
    if key_items or ip_items:
        app.add_middleware(RateLimitMiddleware, per_key=key_items, per_ip=ip_items)
