"""The Telegram collector: public channels and chats of the profile, and the comments under posts.

How it reads:
- each target (a profile page with network "tg", or an entry of `sources.tg_channels`) is resolved once
  (`get_entity`) and kept in the cursor as (id, access_hash), so later polls never resolve usernames
  again (ResolveUsername has harsh flood limits);
- messages are read oldest → newest from the saved `min_id` (`iter_messages(reverse=True)`); the very
  first poll of a chat reads only the last BACKFILL_DAYS; the cursor (max id per chat) moves with each
  Batch, so a collector killed midway resumes without gaps or duplicates;
- a broadcast channel's linked discussion chat (`GetFullChannelRequest().full_chat.linked_chat_id`) is
  read the same way: its auto-forwarded copies of channel posts give the copy → post link, and each
  comment (reply_to.reply_to_top_id or reply_to_msg_id = the copy) is attached to the channel post;
- FloodWait up to FLOOD_SLEEP_MAX_S is slept and the call retried; a longer one ends the poll with
  TransientSourceError(retry_after_s) so the worker reschedules through the queue;
- a private, banned or unknown chat is counted (`tg/private`, ...), skipped, and retried after
  PERMANENT_RETRY_HOURS; an unusable session raises CredentialsError.

One process per session: Telegram drops a session used from two places at once. The worker runs this
source on its own dramatiq queue (QUEUE_NAME) with one process and one thread, guarded across hosts by
`ConcurrentRateLimiter(limit=1)` on `client.session_mutex_key(session)`; on one host `session_lock`
(a file lock under the data directory) refuses a second process.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from crawlers.base import (
    Batch,
    CredentialsError,
    PermanentSourceError,
    SourceError,
    SourceNotConfigured,
    register_source,
)
from crawlers.telegram import constants as c
from crawlers.telegram.client import (
    TelegramClientLike,
    message_to_raw,
    open_client,
    parse_target,
    session_lock,
)
from crawlers.telegram.errors import ChatUnavailable, flood_wait_s, load_telethon, translate
from crawlers.telegram.mapping import marked_peer_id
from index.models import SourceState, as_utc, utcnow
from index.profile import Profile

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Target:
    """One chat to read: its profile key (username or marked id) and the official page it is."""

    key: str | int
    page_id: str | None = None

    @property
    def name(self) -> str:
        """Return the key as the cursor stores it."""
        return str(self.key)


def targets_from_profile(profile: Profile) -> list[Target]:
    """Return the chats to read: official pages of network "tg" first, then sources.tg_channels.

    Entries that are not public channels (invite links, garbage) are logged and skipped.
    """
    targets: dict[str | int, Target] = {}
    for page in profile.pages:
        if page.network != c.SOURCE_NAME:
            continue
        for value in (page.owner_id, page.url):
            if not value:
                continue
            try:
                key = parse_target(value)
            except ValueError as exc:
                log.warning("страница %s пропущена: %s", page.id, exc)
                continue
            targets.setdefault(key, Target(key, page.id))
            break
    for value in profile.sources.tg_channels:
        try:
            key = parse_target(value)
        except ValueError as exc:
            log.warning("канал Telegram пропущен: %s", exc)
            continue
        targets.setdefault(key, Target(key))
    return list(targets.values())


class TelegramSource:
    """Polls the profile's Telegram chats through one client session (see the module docstring)."""

    name: ClassVar[str] = c.SOURCE_NAME

    def __init__(
        self,
        targets: list[Target],
        client_factory: Callable[[], TelegramClientLike],
        *,
        lock: Callable[[], Any] | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = c.BATCH_SIZE,
        max_messages_per_chat: int = c.MAX_MESSAGES_PER_CHAT,
        backfill_days: float = c.BACKFILL_DAYS,
        flood_sleep_max_s: float = c.FLOOD_SLEEP_MAX_S,
    ) -> None:
        self.targets = targets
        self._client_factory = client_factory
        self._lock = lock
        self._sleep = sleep
        self._clock = clock
        self.batch_size = batch_size
        self.max_messages_per_chat = max_messages_per_chat
        self.backfill_days = backfill_days
        self.flood_sleep_max_s = flood_sleep_max_s

    # The synchronous Source surface ---------------------------------------------------------------

    def poll(self, state: SourceState) -> Generator[Batch, None, None]:
        """Yield batches of new messages and comments from `state.cursor` on (see the module docstring)."""
        lock = self._lock() if self._lock is not None else None
        if lock is not None:
            lock.__enter__()
        loop = asyncio.new_event_loop()
        agen = _Poll(self, copy.deepcopy(state.cursor)).run()
        try:
            while True:
                try:
                    batch = loop.run_until_complete(agen.__anext__())
                except StopAsyncIteration:
                    return
                yield batch
        finally:
            loop.run_until_complete(agen.aclose())
            loop.close()
            if lock is not None:
                lock.__exit__(None, None, None)


class _Poll:
    """One poll over every target: holds the client and the cursor being advanced."""

    def __init__(self, source: TelegramSource, cursor: dict[str, Any]) -> None:
        self.src = source
        self.cursor = cursor
        self.client: TelegramClientLike | None = None
        for key in ("peers", "max_id", "copies", "failed", "polled"):
            if not isinstance(cursor.get(key), dict):
                cursor[key] = {}

    async def run(self) -> AsyncGenerator[Batch, None]:
        """Connect, read every due target in least-recently-polled order, disconnect."""
        client = self.src._client_factory()
        self.client = client
        try:
            await self._call(client.connect, "подключение")
            if not await self._call(client.is_user_authorized, "авторизация"):
                raise CredentialsError(
                    "сессия Telegram не авторизована: войдите заново и обновите TELEGRAM__SESSION"
                )
            saved: dict[str, Any] | None = None
            for target in self._due_targets():
                async for batch in self._read_target(target):
                    saved = batch.cursor
                    yield batch
            if saved != self.cursor:
                yield Batch(c.SOURCE_NAME, [], self._snapshot())  # the cursor alone (polled times)
        finally:
            result = client.disconnect()
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                await result

    def _due_targets(self) -> list[Target]:
        now = self.src._clock()
        due: list[Target] = []
        for target in self.src.targets:
            failed = self.cursor["failed"].get(target.name)
            if isinstance(failed, dict) and isinstance(failed.get("at"), str):
                since = now - as_utc(datetime.fromisoformat(failed["at"]))
                if since < timedelta(hours=c.PERMANENT_RETRY_HOURS):
                    continue
            due.append(target)
        return sorted(due, key=lambda t: str(self.cursor["polled"].get(t.name, "")))

    async def _read_target(self, target: Target) -> AsyncIterator[Batch]:
        """Read one target and its discussion chat; count and skip it when it fails permanently."""
        try:
            peer = await self._resolve(target)
            async for batch in self._read_chat(peer, target, thread_of=None):
                yield batch
            if peer.get("broadcast") and self._discussion_due(peer):
                try:
                    linked = await self._discussion(peer, target)
                    if linked is not None:
                        async for batch in self._read_chat(linked, target, thread_of=peer):
                            yield batch
                    peer.pop("linked_failed", None)
                except PermanentSourceError as exc:
                    # A closed discussion chat does not make the channel itself unreadable.
                    kind = exc.kind if isinstance(exc, ChatUnavailable) else "tg/other"
                    log.warning("Telegram: комментарии %s пропущены: %s", target.name, exc)
                    peer["linked_failed"] = {"kind": kind, "reason": str(exc), "at": self._now()}
                    yield Batch(c.SOURCE_NAME, [], self._snapshot(), {kind: 1})
        except PermanentSourceError as exc:
            kind = exc.kind if isinstance(exc, ChatUnavailable) else "tg/other"
            log.warning("Telegram: %s пропущен: %s", target.name, exc)
            self.cursor["failed"][target.name] = {"kind": kind, "reason": str(exc), "at": self._now()}
            self.cursor["polled"][target.name] = self._now()
            yield Batch(c.SOURCE_NAME, [], self._snapshot(), {kind: 1})
            return
        self.cursor["failed"].pop(target.name, None)
        self.cursor["polled"][target.name] = self._now()

    def _discussion_due(self, peer: dict[str, Any]) -> bool:
        """Return False while a channel's discussion chat is in its retry pause after a failure."""
        failed = peer.get("linked_failed")
        if not isinstance(failed, dict) or not isinstance(failed.get("at"), str):
            return True
        since = self.src._clock() - as_utc(datetime.fromisoformat(failed["at"]))
        return since >= timedelta(hours=c.PERMANENT_RETRY_HOURS)

    # Calls with flood handling --------------------------------------------------------------------

    async def _call(self, fn: Callable[..., Awaitable[T]], what: str, *args: Any) -> T:
        """Await `fn(*args)`, sleeping short flood waits and translating every other error."""
        attempts = 0
        while True:
            try:
                return await fn(*args)
            except SourceError:
                raise
            except Exception as exc:
                if await self._flood_slept(exc, attempts):
                    attempts += 1
                    continue
                raise translate(exc, what) from exc

    async def _flood_slept(self, exc: BaseException, attempts: int) -> bool:
        """Sleep a short flood wait and return True; return False for anything else."""
        wait_s = flood_wait_s(exc)
        if wait_s is None or wait_s > self.src.flood_sleep_max_s or attempts >= c.FLOOD_RETRIES:
            return False
        log.info("Telegram FloodWait %.0f s: sleeping", wait_s)
        await self.src._sleep(wait_s)
        return True

    # Resolution -----------------------------------------------------------------------------------

    async def _resolve(self, target: Target) -> dict[str, Any]:
        """Return the cached peer of a target, resolving its username once."""
        cached = self.cursor["peers"].get(target.name)
        if isinstance(cached, dict) and isinstance(cached.get("id"), int):
            return cached
        assert self.client is not None
        entity = await self._call(self.client.get_entity, target.name, target.key)
        peer = _peer_of(entity, target.name)
        self.cursor["peers"][target.name] = peer
        return peer

    async def _discussion(self, peer: dict[str, Any], target: Target) -> dict[str, Any] | None:
        """Return the linked discussion chat of a broadcast channel (looked up once), or None."""
        if peer.get("linked_checked"):
            known = peer.get("linked")
            return known if isinstance(known, dict) else None
        from telethon.tl.functions.channels import GetFullChannelRequest
        from telethon.tl.types import InputChannel

        assert self.client is not None
        request = GetFullChannelRequest(InputChannel(peer["id"], peer.get("access_hash") or 0))
        full = await self._call(self.client, target.name, request)
        linked_id = getattr(full.full_chat, "linked_chat_id", None)
        linked: dict[str, Any] | None = None
        if linked_id:
            entity = next((ch for ch in getattr(full, "chats", []) if ch.id == linked_id), None)
            if entity is not None:
                linked = _peer_of(entity, f"{target.name} (обсуждение)")
        peer["linked"] = linked
        peer["linked_checked"] = True
        return linked

    # Reading --------------------------------------------------------------------------------------

    async def _read_chat(
        self, peer: dict[str, Any], target: Target, thread_of: dict[str, Any] | None
    ) -> AsyncIterator[Batch]:
        """Yield batches of a chat's messages after the saved max id (comments when `thread_of`)."""
        assert self.client is not None
        marked = peer["marked"]
        key = str(marked)
        last: int | None = self.cursor["max_id"].get(key)
        remaining = self.src.max_messages_per_chat
        attempts = 0
        buffer: list[Any] = []
        label = target.name if thread_of is None else f"{target.name} (комментарии)"
        while remaining > 0:
            kwargs: dict[str, Any] = {"reverse": True, "limit": remaining}
            if last is None:
                kwargs["offset_date"] = self.src._clock() - timedelta(days=self.src.backfill_days)
            else:
                kwargs["min_id"] = last
            try:
                async for message in self.client.iter_messages(_input_peer(peer), **kwargs):
                    remaining -= 1
                    last = max(last or 0, int(message.id))
                    if _is_content(message):
                        buffer.append(message)
                    if len(buffer) >= self.src.batch_size:
                        yield await self._flush(buffer, peer, target, thread_of, key, last)
                        buffer = []
                break
            except Exception as exc:
                if await self._flood_slept(exc, attempts):
                    attempts += 1
                    continue
                if buffer or (last is not None and self.cursor["max_id"].get(key) != last):
                    yield await self._flush(buffer, peer, target, thread_of, key, last)
                raise translate(exc, label) from exc
        if buffer or (last is not None and self.cursor["max_id"].get(key) != last):
            yield await self._flush(buffer, peer, target, thread_of, key, last)

    async def _flush(
        self,
        messages: list[Any],
        peer: dict[str, Any],
        target: Target,
        thread_of: dict[str, Any] | None,
        key: str,
        last: int | None,
    ) -> Batch:
        """Turn buffered messages into raw items, move the chat's cursor to `last`, return the Batch."""
        chat = {
            "id": peer["marked"],
            "username": peer.get("username"),
            "title": peer.get("title"),
            "broadcast": bool(peer.get("broadcast")),
        }
        raws = [message_to_raw(m) for m in messages]
        items: list[dict[str, Any]] = []
        threads: dict[int, dict[str, Any] | None] = {}
        if thread_of is not None:
            threads = await self._threads(raws, peer, thread_of)
        for raw in raws:
            thread = None
            if thread_of is not None:
                if _copy_post_id(raw, thread_of) is not None:
                    continue  # the discussion chat's copy of a channel post: the post itself is stored
                thread = threads.get(_top_id(raw) or 0)
            items.append({"message": raw, "chat": chat, "thread": thread, "page_id": target.page_id})
        if last is not None:
            self.cursor["max_id"][key] = last
        return Batch(c.SOURCE_NAME, items, self._snapshot())

    async def _threads(
        self, raws: list[dict[str, Any]], peer: dict[str, Any], channel: dict[str, Any]
    ) -> dict[int, dict[str, Any] | None]:
        """Return the thread context (channel post) of every discussion-chat top id in `raws`."""
        copies: dict[str, Any] = self.cursor["copies"].setdefault(str(peer["marked"]), {})
        for raw in raws:
            post_id = _copy_post_id(raw, channel)
            if post_id is not None:
                copies[str(raw["id"])] = post_id
        wanted = {top for raw in raws if (top := _top_id(raw)) is not None and str(top) not in copies}
        if wanted:
            await self._learn_copies(sorted(wanted), peer, channel, copies)
        if len(copies) > c.MAX_REMEMBERED_COPIES:
            for old in sorted(copies, key=int)[: len(copies) - c.MAX_REMEMBERED_COPIES]:
                del copies[old]
        out: dict[int, dict[str, Any] | None] = {}
        for raw in raws:
            top = _top_id(raw)
            if top is None or top in out:
                continue
            post_id = copies.get(str(top))
            out[top] = (
                None
                if post_id is None
                else {
                    "chat_id": channel["marked"],
                    "post_id": int(post_id),
                    "copy_id": top,
                    "username": channel.get("username"),
                }
            )
        return out

    async def _learn_copies(
        self, ids: list[int], peer: dict[str, Any], channel: dict[str, Any], copies: dict[str, Any]
    ) -> None:
        """Fetch discussion-chat messages by id (one request) to learn which channel posts they copy."""
        assert self.client is not None
        client = self.client

        async def fetch() -> list[Any]:
            return [m async for m in client.iter_messages(_input_peer(peer), ids=ids) if m is not None]

        try:
            found = await self._call(fetch, f"{channel.get('username') or channel['marked']} (обсуждение)")
        except PermanentSourceError:
            return
        for message in found:
            raw = message_to_raw(message)
            post_id = _copy_post_id(raw, channel)
            if post_id is not None:
                copies[str(raw["id"])] = post_id

    def _snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self.cursor)

    def _now(self) -> str:
        return as_utc(self.src._clock()).isoformat()


def _peer_of(entity: Any, label: str) -> dict[str, Any]:
    """Return the JSON peer we cache for a resolved Channel or Chat; users are refused."""
    kind = type(entity).__name__
    if kind in ("Channel", "ChannelForbidden"):
        if kind == "ChannelForbidden":
            raise ChatUnavailable(f"Telegram: {label}: канал закрыт", "tg/private")
        return {
            "type": "channel",
            "id": int(entity.id),
            "access_hash": getattr(entity, "access_hash", None),
            "marked": marked_peer_id({"_": "PeerChannel", "channel_id": int(entity.id)}),
            "broadcast": bool(getattr(entity, "broadcast", False)),
            "megagroup": bool(getattr(entity, "megagroup", False)),
            "username": getattr(entity, "username", None),
            "title": getattr(entity, "title", None),
        }
    if kind == "Chat":
        return {
            "type": "chat",
            "id": int(entity.id),
            "access_hash": None,
            "marked": marked_peer_id({"_": "PeerChat", "chat_id": int(entity.id)}),
            "broadcast": False,
            "megagroup": False,
            "username": None,
            "title": getattr(entity, "title", None),
        }
    raise ChatUnavailable(f"Telegram: {label} — это не канал и не чат ({kind})", "tg/invalid")


def _input_peer(peer: dict[str, Any]) -> Any:
    """Return the InputPeer for a cached peer (no username resolution needed)."""
    from telethon.tl.types import InputPeerChannel, InputPeerChat

    if peer["type"] == "channel":
        return InputPeerChannel(peer["id"], peer.get("access_hash") or 0)
    return InputPeerChat(peer["id"])


def _is_content(message: Any) -> bool:
    """Return whether a message is a publication (not a service message or an empty slot)."""
    if message is None or type(message).__name__ in ("MessageService", "MessageEmpty"):
        return False
    return getattr(message, "action", None) is None


def _top_id(raw: dict[str, Any]) -> int | None:
    """Return the discussion-chat message a comment hangs under (top of its reply chain)."""
    reply_to = raw.get("reply_to")
    if not isinstance(reply_to, dict):
        return None
    top = reply_to.get("reply_to_top_id") or reply_to.get("reply_to_msg_id")
    return top if isinstance(top, int) else None


def _copy_post_id(raw: dict[str, Any], channel: dict[str, Any]) -> int | None:
    """Return the channel post id when `raw` is the discussion chat's auto-forwarded copy of it."""
    fwd = raw.get("fwd_from")
    if not isinstance(fwd, dict):
        return None
    for peer_key, id_key in (("saved_from_peer", "saved_from_msg_id"), ("from_id", "channel_post")):
        peer, post_id = fwd.get(peer_key), fwd.get(id_key)
        if isinstance(peer, dict) and isinstance(post_id, int):
            try:
                if marked_peer_id(peer) == channel["marked"]:
                    return post_id
            except (TypeError, ValueError):
                continue
    return None


@register_source(c.SOURCE_NAME)
def build_telegram_source(settings: Any, profile: Profile) -> TelegramSource:
    """Build the Telegram source; raise SourceNotConfigured (Russian) without credentials or chats."""
    tg = settings.telegram
    values = {
        "TELEGRAM__API_ID": tg.api_id,
        "TELEGRAM__API_HASH": tg.api_hash.get_secret_value(),
        "TELEGRAM__SESSION": tg.session.get_secret_value(),
    }
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise SourceNotConfigured(f"Telegram отключён: не задан(ы) {', '.join(missing)}")
    targets = targets_from_profile(profile)
    if not targets:
        raise SourceNotConfigured(
            "Telegram отключён: в профиле нет каналов (sources.tg_channels) и страниц сети tg"
        )
    load_telethon()  # configured: its client library loads with the source, not at the first poll
    session = values["TELEGRAM__SESSION"]
    lock_dir = Path(settings.data_dir)

    def factory() -> TelegramClientLike:
        return open_client(values["TELEGRAM__API_ID"], values["TELEGRAM__API_HASH"], session)

    return TelegramSource(targets, factory, lock=lambda: session_lock(lock_dir, session))
