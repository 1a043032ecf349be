"""A small OK REST client (httpx): signed requests, a shared rate limiter, typed errors.

Signature (apiok.ru/dev/methods, "Расчет подписи запроса"): drop session_key/access_token and sig,
sort the other parameters by name, join them as "name=value" without separators, append the session
secret and take the lower-case MD5. The session secret is `session_secret_key` when the application
has one, otherwise MD5(access_token + application_secret_key) in lower case.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from crawlers.base import TransientSourceError
from crawlers.ok.constants import API_URL, BACKOFF_S, CALL_ATTEMPTS
from crawlers.ok.errors import from_error_object
from crawlers.ratelimit import RateLimiter

log = logging.getLogger(__name__)

#: Seconds to wait for OK to answer one request.
HTTP_TIMEOUT_S = 30.0
#: Parameters never signed.
UNSIGNED = frozenset({"sig", "access_token", "session_key"})


def md5_hex(text: str) -> str:
    """Return the lower-case hex MD5 of a UTF-8 string."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def session_secret(access_token: str, application_secret_key: str) -> str:
    """Return the session secret of an OAuth session: md5(access_token + application_secret_key)."""
    return md5_hex(access_token + application_secret_key)


def encode_value(value: object) -> str:
    """Return a parameter value as OK expects it in the query and in the signature."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def sign(params: Mapping[str, object], secret: str) -> str:
    """Return `sig` for request parameters (unsigned ones are left out) and the session secret."""
    pairs = sorted((k, encode_value(v)) for k, v in params.items() if k not in UNSIGNED)
    return md5_hex("".join(f"{k}={v}" for k, v in pairs) + secret)


class OkClient:
    """Calls OK REST methods with one application session under a rate limiter."""

    def __init__(
        self,
        application_key: str,
        access_token: str,
        secret: str,
        limiter: RateLimiter,
        api_url: str = API_URL,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Build a client; `secret` is the session secret used for signing."""
        self._application_key = application_key
        self._access_token = access_token
        self._secret = secret
        self._limiter = limiter
        self._api_url = api_url
        self._http = http or httpx.Client(timeout=HTTP_TIMEOUT_S)
        self._sleep = sleep
        self.requests_made = 0

    @property
    def credential_id(self) -> str:
        """Return a short fingerprint of the session (to pause and alert without leaking it)."""
        return hashlib.sha256(f"{self._application_key}:{self._access_token}".encode()).hexdigest()[:12]

    def signed_params(self, method: str, params: Mapping[str, object]) -> dict[str, str]:
        """Return the full form of one request: common parameters, the signature, the token."""
        values: dict[str, object] = {
            **params,
            "application_key": self._application_key,
            "format": "json",
            "method": method,
        }
        form = {k: encode_value(v) for k, v in values.items()}
        form["sig"] = sign(form, self._secret)
        form["access_token"] = self._access_token
        return form

    def call(self, method: str, params: Mapping[str, object] | None = None) -> Any:
        """Call one method and return its JSON answer; raise a collector exception on error."""
        form = self.signed_params(method, params or {})
        backoff = BACKOFF_S
        for attempt in range(1, CALL_ATTEMPTS + 1):
            self._limiter.acquire()
            self.requests_made += 1
            try:
                response = self._http.post(self._api_url, data=form)
                if response.status_code >= 500:
                    raise httpx.HTTPStatusError("server error", request=response.request, response=response)
                answer = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                if attempt == CALL_ATTEMPTS:
                    raise TransientSourceError(
                        f"OK {method}: сеть или сервер недоступны ({exc})", 60.0
                    ) from exc
                log.warning("OK %s: %s, retry %d in %.1f s", method, exc, attempt, backoff)
                self._sleep(backoff)
                backoff *= 2
                continue
            if isinstance(answer, dict) and "error_code" in answer:
                raise from_error_object(answer)
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()
