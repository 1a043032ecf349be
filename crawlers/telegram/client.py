"""The Telegram client boundary: the async surface we use, session handling and TL → JSON conversion.

Only this module and source.py touch Telethon objects; everything handed on is plain JSON.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import re
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from crawlers.base import SourceNotConfigured, TransientSourceError
from crawlers.telegram.constants import SESSION_MUTEX_PREFIX

#: Message fields that are bulky and useless downstream (media bodies are summarised instead).
_DROPPED_FIELDS = frozenset({"reply_markup", "restriction_reason", "entities", "quote_entities"})

_TME = re.compile(r"^(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me)/(?:s/)?(?P<name>[^/?#]+)", re.I)
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_MARKED_ID = re.compile(r"^-?\d+$")


class TelegramClientLike(Protocol):
    """The part of Telethon's TelegramClient the collector uses (a fake implements it in tests)."""

    async def connect(self) -> None:
        """Open the connection."""
        ...

    def disconnect(self) -> Any:
        """Close the connection (Telethon returns an awaitable)."""
        ...

    async def is_user_authorized(self) -> bool:
        """Return whether the session is logged in."""
        ...

    async def get_entity(self, entity: Any) -> Any:
        """Resolve a username, id or peer into a User/Chat/Channel."""
        ...

    def iter_messages(self, entity: Any, limit: float | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        """Iterate a chat's messages (min_id, reverse, offset_date, ids, reply_to as in Telethon)."""
        ...

    async def __call__(self, request: Any) -> Any:
        """Invoke a raw MTProto request."""
        ...


def parse_target(value: str) -> str | int:
    """Return a username (lower case, no @) or a marked numeric id for a profile entry.

    Accepts `@name`, `name`, `https://t.me/name`, `t.me/s/name` and `-100…` ids; raises ValueError
    (Russian message) for anything else, e.g. a private invite link.
    """
    text = value.strip()
    match = _TME.match(text)
    if match:
        text = match.group("name")
        if text.startswith("+") or text.lower() == "joinchat":
            raise ValueError(f"ссылка-приглашение {value!r} не поддерживается: нужен публичный канал")
    text = text.lstrip("@")
    if _MARKED_ID.match(text):
        return int(text)
    if _USERNAME.match(text):
        return text.lower()
    raise ValueError(f"не похоже на канал Telegram: {value!r} (нужно @имя, ссылка t.me или числовой id)")


def jsonable(value: Any) -> Any:
    """Return `value` (a TL object's `to_dict()` or part of it) as JSON-compatible data.

    datetimes become ISO strings, bytes become base64, media bodies are reduced to their type and,
    for web pages, the URL and title.
    """
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in _DROPPED_FIELDS:
                continue
            if key == "media" and isinstance(item, dict):
                out[key] = _media_summary(item)
                continue
            out[str(key)] = jsonable(item)
        return out
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "to_dict"):
        return jsonable(value.to_dict())
    return str(value)


def _media_summary(media: dict[str, Any]) -> dict[str, Any]:
    """Return what we keep of a message's media: its type and a web page's URL and title."""
    summary: dict[str, Any] = {"_": media.get("_")}
    webpage = media.get("webpage")
    if isinstance(webpage, dict):
        for key in ("url", "title", "site_name"):
            if isinstance(webpage.get(key), str):
                summary[key] = webpage[key]
    return summary


def message_to_raw(message: Any) -> dict[str, Any]:
    """Return a Telethon Message as a JSON dict (the `to_dict()` shape, media summarised)."""
    data = jsonable(message.to_dict())
    if not isinstance(data, dict):
        raise TypeError(f"unexpected TL message {type(message).__name__}")
    return data


def open_client(api_id: str, api_hash: str, session: str) -> TelegramClientLike:
    """Build a Telethon client from a StringSession; raise SourceNotConfigured when values are bad.

    Telethon's automatic flood sleeping is off (threshold 0) so that every FloodWait reaches the
    collector, which sleeps short waits and reschedules long ones through the queue.
    """
    from telethon import TelegramClient
    from telethon.sessions import StringSession

    try:
        api_id_int = int(api_id)
    except ValueError:
        raise SourceNotConfigured(
            f"Telegram отключён: TELEGRAM__API_ID должен быть числом, а не {api_id!r}"
        ) from None
    try:
        string_session = StringSession(session)
    except ValueError as exc:
        raise SourceNotConfigured(f"Telegram отключён: TELEGRAM__SESSION не читается ({exc})") from None
    client: TelegramClientLike = TelegramClient(
        string_session,
        api_id_int,
        api_hash,
        flood_sleep_threshold=0,
        request_retries=3,
        connection_retries=3,
        receive_updates=False,
    )
    return client


def session_fingerprint(session: str) -> str:
    """Return a short stable fingerprint of a session string (never the secret itself)."""
    return hashlib.sha256(session.encode("utf-8")).hexdigest()[:12]


def session_mutex_key(session: str) -> str:
    """Return the rate-limiter key that lets one worker at a time use this session."""
    return SESSION_MUTEX_PREFIX + session_fingerprint(session)


@contextlib.contextmanager
def session_lock(lock_dir: Path, session: str) -> Iterator[None]:
    """Hold an exclusive per-session file lock; raise TransientSourceError if another process has it.

    Telegram invalidates a session used from two places at once (AUTH_KEY_DUPLICATED), so one
    process per session is enforced here on one host; across hosts the worker's
    ConcurrentRateLimiter(limit=1) on `session_mutex_key` does the same.
    """
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / f"telegram-{session_fingerprint(session)}.lock"
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TransientSourceError(
                "сессия Telegram уже используется другим процессом; повтор позже", retry_after_s=30.0
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
