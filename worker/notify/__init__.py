"""Alert delivery: Telegram bot, e-mail and signed webhooks, per-person subscriptions, quiet hours and
digests, and a delivery log with retries (see worker.notify.delivery)."""

from __future__ import annotations

from worker.notify.delivery import FlushReport, Notifier, Senders, delivery_id, redis_lock, thread_lock
from worker.notify.errors import DeliveryError, PermanentDeliveryError
from worker.notify.render import Message, render_alert, render_digest
from worker.notify.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, sign

__all__ = [
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "DeliveryError",
    "FlushReport",
    "Message",
    "Notifier",
    "PermanentDeliveryError",
    "Senders",
    "delivery_id",
    "redis_lock",
    "render_alert",
    "render_digest",
    "sign",
    "thread_lock",
]
