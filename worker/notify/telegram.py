"""The Telegram channel: the bot sends a message through the Bot API over HTTPS (sendMessage)."""

from __future__ import annotations

from typing import Any

import httpx

from worker.notify.errors import DeliveryError, PermanentDeliveryError
from worker.notify.tls import tls_context

#: The longest message text the Bot API accepts, in characters.
TELEGRAM_TEXT_LIMIT = 4096
#: Answers that retrying will not fix: bad request (chat not found, bad button), unauthorized, blocked.
PERMANENT_STATUSES = frozenset({400, 401, 403, 404})


def send_telegram(
    base_url: str,
    token: str,
    chat_id: str,
    text: str,
    *,
    buttons: list[tuple[str, str]] | None = None,
    timeout_s: float = 10.0,
) -> int | None:
    """Send `text` to `chat_id` with optional URL buttons [(label, url)]; return the message id.

    Raises DeliveryError when the Bot API is unreachable, answers 5xx or asks to wait (429, with its
    retry_after), and PermanentDeliveryError when it refuses the message (unknown chat, blocked bot).
    """
    if not token:
        raise PermanentDeliveryError("Telegram не настроен: задайте TELEGRAM__BOT_TOKEN")
    if len(text) > TELEGRAM_TEXT_LIMIT:
        text = text[: TELEGRAM_TEXT_LIMIT - 1] + "…"
    payload: dict[str, Any] = {"chat_id": chat_id, "text": text, "disable_web_page_preview": True}
    if buttons:
        payload["reply_markup"] = {
            "inline_keyboard": [[{"text": label, "url": url} for label, url in buttons]]
        }
    url = f"{base_url.rstrip('/')}/bot{token}/sendMessage"
    try:
        response = httpx.post(url, json=payload, timeout=timeout_s, verify=tls_context())
    except httpx.HTTPError as exc:
        raise DeliveryError(f"Telegram недоступен: {exc.__class__.__name__}") from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.is_success and body.get("ok"):
        result = body.get("result") or {}
        return int(result["message_id"]) if "message_id" in result else None
    description = str(body.get("description") or f"HTTP {response.status_code}")
    if response.status_code == 429:
        retry_after = (body.get("parameters") or {}).get("retry_after")
        raise DeliveryError(
            f"Telegram просит подождать: {description}",
            retry_after_s=float(retry_after) if isinstance(retry_after, int | float) else None,
        )
    if response.status_code in PERMANENT_STATUSES:
        raise PermanentDeliveryError(f"Telegram отклонил сообщение: {description}")
    raise DeliveryError(f"Telegram ответил ошибкой: {description}")
