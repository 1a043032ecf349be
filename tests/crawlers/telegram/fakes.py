"""A fake Telegram client with Telethon's async surface, serving real TL objects built offline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from telethon.tl import types
from telethon.tl.functions.channels import GetFullChannelRequest

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def channel(
    cid: int, username: str | None, title: str, *, broadcast: bool = True, megagroup: bool = False
) -> types.Channel:
    """Return a real Channel TL object."""
    return types.Channel(
        id=cid,
        title=title,
        photo=types.ChatPhotoEmpty(),
        date=T0 - timedelta(days=365),
        broadcast=broadcast or None,
        megagroup=megagroup or None,
        username=username,
        access_hash=cid * 7 + 1,
    )


def post(
    cid: int,
    mid: int,
    text: str,
    *,
    minutes: int = 0,
    views: int | None = 100,
    forwards: int | None = 3,
    comments: int | None = None,
    discussion: int | None = None,
    likes: int | None = None,
) -> types.Message:
    """Return a channel post (Message with views, forwards, replies and reactions)."""
    replies = None
    if comments is not None:
        replies = types.MessageReplies(
            replies=comments, replies_pts=1, comments=True, channel_id=discussion, max_id=None
        )
    reactions = None
    if likes is not None:
        reactions = types.MessageReactions(
            results=[
                types.ReactionCount(reaction=types.ReactionEmoji("👍"), count=likes - 1),
                types.ReactionCount(reaction=types.ReactionEmoji("😡"), count=1),
            ]
        )
    return types.Message(
        id=mid,
        peer_id=types.PeerChannel(cid),
        date=T0 + timedelta(minutes=minutes),
        message=text,
        post=True,
        views=views,
        forwards=forwards,
        replies=replies,
        reactions=reactions,
    )


def copy_of(disc: int, mid: int, channel_id: int, post_id: int, *, minutes: int = 0) -> types.Message:
    """Return the discussion chat's auto-forwarded copy of a channel post."""
    return types.Message(
        id=mid,
        peer_id=types.PeerChannel(disc),
        date=T0 + timedelta(minutes=minutes),
        message="(копия поста)",
        from_id=types.PeerChannel(channel_id),
        fwd_from=types.MessageFwdHeader(
            date=T0,
            from_id=types.PeerChannel(channel_id),
            channel_post=post_id,
            saved_from_peer=types.PeerChannel(channel_id),
            saved_from_msg_id=post_id,
        ),
    )


def comment(
    disc: int,
    mid: int,
    text: str,
    *,
    reply_to: int,
    top: int | None = None,
    user: int = 5001,
    minutes: int = 0,
    from_channel: int | None = None,
) -> types.Message:
    """Return a comment in a discussion chat replying to `reply_to` (under top message `top`)."""
    author = types.PeerChannel(from_channel) if from_channel else types.PeerUser(user)
    return types.Message(
        id=mid,
        peer_id=types.PeerChannel(disc),
        date=T0 + timedelta(minutes=minutes),
        message=text,
        from_id=author,
        reply_to=types.MessageReplyHeader(reply_to_msg_id=reply_to, reply_to_top_id=top),
    )


def service(cid: int, mid: int) -> types.MessageService:
    """Return a service message (pinned message notice)."""
    return types.MessageService(
        id=mid,
        peer_id=types.PeerChannel(cid),
        date=T0,
        action=types.MessageActionPinMessage(),
    )


class FakeTelegram:
    """Telethon's client surface over in-memory chats; scripted errors are raised once each."""

    def __init__(self) -> None:
        self.entities: dict[str | int, Any] = {}  # username or marked id → entity (or exception)
        self.by_id: dict[int, types.Channel] = {}
        self.history: dict[int, list[Any]] = {}
        self.linked: dict[int, int] = {}
        self.authorized = True
        self.calls: list[tuple[str, Any]] = []
        self.fail_after: dict[int, list[tuple[int, BaseException]]] = {}
        self.connected = False

    def add_channel(self, entity: types.Channel, messages: list[Any], linked: int | None = None) -> None:
        """Register a channel, its messages and its linked discussion chat id."""
        self.by_id[entity.id] = entity
        if entity.username:
            self.entities[entity.username.lower()] = entity
        self.history.setdefault(entity.id, []).extend(messages)
        if linked is not None:
            self.linked[entity.id] = linked

    def fail(self, cid: int, after: int, exc: BaseException) -> None:
        """Raise `exc` once while iterating chat `cid`, after yielding `after` messages."""
        self.fail_after.setdefault(cid, []).append((after, exc))

    async def connect(self) -> None:
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False

    async def is_user_authorized(self) -> bool:
        return self.authorized

    async def get_entity(self, entity: Any) -> Any:
        self.calls.append(("get_entity", entity))
        found = self.entities.get(entity.lower() if isinstance(entity, str) else entity)
        if isinstance(found, BaseException):
            raise found
        if found is None:
            raise ValueError(f'No user has "{entity}" as username')
        return found

    async def __call__(self, request: Any) -> Any:
        self.calls.append((type(request).__name__, request))
        if isinstance(request, GetFullChannelRequest):
            cid = request.channel.channel_id
            linked = self.linked.get(cid)
            full = types.ChannelFull(
                id=cid,
                about="",
                read_inbox_max_id=0,
                read_outbox_max_id=0,
                unread_count=0,
                chat_photo=types.PhotoEmpty(id=0),
                notify_settings=types.PeerNotifySettings(),
                bot_info=[],
                pts=1,
                linked_chat_id=linked,
            )
            chats = [self.by_id[cid]] + ([self.by_id[linked]] if linked in self.by_id else [])
            return types.messages.ChatFull(full_chat=full, chats=chats, users=[])
        raise NotImplementedError(type(request).__name__)

    def iter_messages(self, entity: Any, limit: float | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        self.calls.append(("iter_messages", (entity, limit, kwargs)))
        return self._iter(entity, limit, **kwargs)

    async def _iter(
        self,
        entity: Any,
        limit: float | None = None,
        *,
        min_id: int = 0,
        reverse: bool = False,
        offset_date: datetime | None = None,
        ids: list[int] | None = None,
        **_: Any,
    ) -> AsyncIterator[Any]:
        cid = entity.channel_id
        if cid not in self.by_id:
            from telethon.errors import ChannelPrivateError

            raise ChannelPrivateError(request=None)
        messages = sorted(self.history.get(cid, []), key=lambda m: m.id, reverse=not reverse)
        if ids is not None:
            wanted = {m.id: m for m in messages}
            for mid in ids:
                yield wanted.get(mid)
            return
        count = 0
        for message in messages:
            if message.id <= min_id:
                continue
            if offset_date is not None:
                if reverse and message.date <= offset_date:
                    continue
                if not reverse and message.date >= offset_date:
                    continue
            if limit is not None and count >= limit:
                return
            pending = self.fail_after.get(cid)
            if pending and pending[0][0] <= count:
                exc = pending.pop(0)[1]
                raise exc
            count += 1
            yield message
