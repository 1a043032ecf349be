"""Deliver alerts to the configured channels (the signed JSON webhook in this version)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import httpx

from index.models import Alert
from infopole.settings import NotifySettings

log = logging.getLogger(__name__)

#: Seconds to wait for a webhook receiver.
WEBHOOK_TIMEOUT_S = 10.0
#: Header carrying the HMAC-SHA256 of the body, hex.
SIGNATURE_HEADER = "X-Infopole-Signature"


class DeliveryError(Exception):
    """A channel did not accept an alert; retrying later may help."""


def sign(body: bytes, secret: str) -> str:
    """Return the hex HMAC-SHA256 signature of `body` under `secret`."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def deliver_webhook(alert: Alert, settings: NotifySettings) -> bool:
    """POST the alert as JSON to the webhook; return False if no webhook is configured.

    Raises DeliveryError when the receiver is unreachable or answers with a non-2xx status.
    """
    if not settings.webhook_url:
        return False
    body = alert.model_dump_json().encode("utf-8")
    headers = {"Content-Type": "application/json"}
    secret = settings.webhook_secret.get_secret_value()
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    try:
        response = httpx.post(settings.webhook_url, content=body, headers=headers, timeout=WEBHOOK_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"вебхук недоступен: {exc}") from exc
    if not response.is_success:
        raise DeliveryError(f"вебхук ответил {response.status_code}")
    return True


def deliver(alert: Alert, settings: NotifySettings) -> list[str]:
    """Deliver an alert to every configured channel; return the channels that accepted it."""
    delivered = []
    if deliver_webhook(alert, settings):
        delivered.append("webhook")
    log.info("alert %s (%s) delivered to %s", alert.id, alert.kind, delivered or "the web UI only")
    return delivered


def alert_digest_line(alert: Alert) -> str:
    """Return a one-line JSON summary of an alert for logs."""
    return json.dumps(
        {"id": alert.id, "kind": alert.kind, "severity": alert.severity, "title": alert.title},
        ensure_ascii=False,
    )
