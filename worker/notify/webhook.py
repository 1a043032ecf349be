"""The generic webhook channel: the alert as JSON, signed with HMAC-SHA256 of the body."""

from __future__ import annotations

import hashlib
import hmac

import httpx

from worker.notify.errors import DeliveryError, PermanentDeliveryError
from worker.notify.tls import tls_context

#: Header carrying the hex HMAC-SHA256 of the body under the subscription's secret.
SIGNATURE_HEADER = "X-Infopole-Signature"
#: Header carrying the delivery id: a receiver that sees it twice can drop the repeat.
DELIVERY_HEADER = "X-Infopole-Delivery"
#: Client errors that trying again will not fix (the rest of 4xx and every 5xx are retried).
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 410, 413, 422})


def sign(body: bytes, secret: str) -> str:
    """Return the hex HMAC-SHA256 signature of `body` under `secret`."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def send_webhook(
    url: str,
    body: bytes,
    *,
    secret: str | None = None,
    delivery_id: str | None = None,
    timeout_s: float = 10.0,
) -> None:
    """POST `body` (JSON) to `url`, signed when a secret is given.

    Raises DeliveryError when the receiver is unreachable or answers 5xx/429, PermanentDeliveryError
    for a client error that retrying will not fix.
    """
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    if delivery_id:
        headers[DELIVERY_HEADER] = delivery_id
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout_s, verify=tls_context())
    except httpx.HTTPError as exc:
        raise DeliveryError(f"вебхук недоступен: {exc.__class__.__name__}: {exc}") from exc
    if response.is_success:
        return
    if response.status_code in PERMANENT_STATUSES:
        raise PermanentDeliveryError(f"вебхук отклонил уведомление: HTTP {response.status_code}")
    retry_after = _retry_after(response.headers.get("Retry-After"))
    raise DeliveryError(f"вебхук ответил HTTP {response.status_code}", retry_after_s=retry_after)


def _retry_after(value: str | None) -> float | None:
    """Return a Retry-After header in seconds, or None when absent or not a number."""
    try:
        return float(value) if value else None
    except ValueError:
        return None
