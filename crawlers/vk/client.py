"""A thin VK API client on vk-api: version 5.199, a shared rate limiter, execute batches, typed errors.

Every HTTP request first takes a slot from the token's rate limiter (shared by all workers through
Redis). vk_api's own pacing and its silent retry of error 6 are switched off so that the limiter and
the error mapping here are the only policy: 6 and 10 are retried in place a few times with back-off,
then every code becomes a collector exception (crawlers.vk.errors).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests
import vk_api
from jconfig.memory import MemoryConfig
from vk_api.exceptions import TOO_MANY_RPS_CODE, ApiError, ApiHttpError, Captcha

from crawlers.base import SourceError, TransientSourceError
from crawlers.ratelimit import RateLimiter
from crawlers.vk.constants import (
    API_VERSION,
    BACKOFF_S,
    CALL_ATTEMPTS,
    ERROR_CAPTCHA,
    EXECUTE_MAX_CALLS,
    RETRY_IN_PLACE_CODES,
)
from crawlers.vk.errors import VkCredentialsError, VkObjectError, from_code, from_error_object

log = logging.getLogger(__name__)

#: Seconds to wait for VK to answer one request.
HTTP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Call:
    """One API method call inside an `execute` batch."""

    method: str
    params: dict[str, Any]


@dataclass
class CallResult:
    """The answer to one call of a batch: its response, or the per-object error that skipped it."""

    call: Call
    response: Any = None
    error: VkObjectError | None = None


def vkscript(calls: Sequence[Call]) -> str:
    """Return the VKScript that runs `calls` in order and returns their results as an array."""
    parts = [
        f"API.{c.method}({json.dumps(c.params, ensure_ascii=False, separators=(',', ':'))})" for c in calls
    ]
    return f"return [{','.join(parts)}];"


def strip_bom(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """Drop a UTF-8 byte order mark some VK answers start with (json.loads rejects it)."""
    if response.content[:3] == codecs.BOM_UTF8:
        response._content = response.content[3:]
    return response


class _TimeoutSession(requests.Session):
    """A requests session with a default timeout (vk_api passes none)."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
        return super().request(*args, **kwargs)


class VkClient:
    """Calls VK methods with one token under a rate limiter and maps every error to a typed exception."""

    def __init__(
        self,
        token: str,
        limiter: RateLimiter,
        api_version: str = API_VERSION,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Build a client for `token`; `session` lets tests mount a loopback adapter."""
        self._token = token
        self._limiter = limiter
        self._sleep = sleep
        self.requests_made = 0
        self._vk = vk_api.VkApi(
            token=token, api_version=api_version, session=session or _TimeoutSession(), config=MemoryConfig
        )
        self._vk.RPS_DELAY = 0  # the shared limiter paces requests
        self._vk.error_handlers.pop(TOO_MANY_RPS_CODE, None)  # no unbounded silent retry of error 6
        self.http.hooks["response"].append(strip_bom)

    @property
    def http(self) -> requests.Session:
        """Return the underlying requests session."""
        session: requests.Session = self._vk.http
        return session

    @property
    def credential_id(self) -> str:
        """Return a short fingerprint of the token (to pause and alert per token without leaking it)."""
        return hashlib.sha256(self._token.encode("utf-8")).hexdigest()[:12]

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Call one method and return its `response`; raise a collector exception on error."""
        return self._request(method, dict(params or {}), raw=False)

    def execute(self, calls: Sequence[Call]) -> list[CallResult]:
        """Run calls in `execute` batches of 25; per-object errors are returned, the rest raised."""
        results: list[CallResult] = []
        for start in range(0, len(calls), EXECUTE_MAX_CALLS):
            chunk = list(calls[start : start + EXECUTE_MAX_CALLS])
            raw = self._request("execute", {"code": vkscript(chunk)}, raw=True)
            results.extend(self._split(chunk, raw))
        return results

    def _split(self, chunk: list[Call], raw: Any) -> list[CallResult]:
        """Pair each call with its result; `false` results take the next `execute_errors` entry."""
        if not isinstance(raw, dict) or not isinstance(raw.get("response"), list):
            raise TransientSourceError(f"VK execute: неожиданный ответ {str(raw)[:200]}", 30.0)
        responses: list[Any] = raw["response"]
        errors = iter(raw.get("execute_errors") or [])
        out: list[CallResult] = []
        for index, call in enumerate(chunk):
            response = responses[index] if index < len(responses) else False
            if response is not False:
                out.append(CallResult(call, response=response))
                continue
            error = from_error_object(next(errors, {"error_code": 0, "error_msg": "нет ответа"}))
            if not isinstance(error, VkObjectError):
                raise error  # a rate limit or a token problem stops the whole run
            out.append(CallResult(call, error=error))
        return out

    def _request(self, method: str, params: dict[str, Any], raw: bool) -> Any:
        """Send one request with in-place retries of 6/10/5xx; map failures to collector exceptions."""
        backoff = BACKOFF_S
        for attempt in range(1, CALL_ATTEMPTS + 1):
            self._limiter.acquire()
            self.requests_made += 1
            try:
                return self._vk.method(method, params, raw=raw)
            except Captcha as exc:
                raise VkCredentialsError(ERROR_CAPTCHA) from exc
            except ApiError as exc:
                error: SourceError = from_code(int(exc.code), str(exc.error.get("error_msg", "")))
                if exc.code not in RETRY_IN_PLACE_CODES or attempt == CALL_ATTEMPTS:
                    raise error from exc
                log.warning("VK %s: error %s, retry %d in %.1f s", method, exc.code, attempt, backoff)
            except ApiHttpError as exc:
                status = exc.response.status_code
                if status < 500 or attempt == CALL_ATTEMPTS:
                    raise TransientSourceError(f"VK {method}: HTTP {status}", 60.0) from exc
                log.warning("VK %s: HTTP %s, retry %d in %.1f s", method, status, attempt, backoff)
            except (requests.RequestException, ValueError) as exc:
                # ValueError: the body is not JSON (a proxy page, a cut connection).
                if attempt == CALL_ATTEMPTS:
                    raise TransientSourceError(f"VK {method}: сеть недоступна ({exc})", 60.0) from exc
                log.warning("VK %s: %s, retry %d in %.1f s", method, exc, attempt, backoff)
            self._sleep(backoff)
            backoff *= 2
        raise AssertionError("unreachable")  # pragma: no cover
