"""Map a collected Telegram item to a Post: pure, no clock, no I/O.

A raw item is what TelegramSource emits (plain JSON):

    {"message": <Message.to_dict() as JSON>,
     "chat": {"id": <marked chat id>, "username": str | None, "title": str | None, "broadcast": bool},
     "thread": {"chat_id": <marked channel id>, "post_id": int, "copy_id": int, "username": str | None}
               | None,    # set for comments read from a channel's linked discussion chat
     "page_id": str | None}  # the profile's official page the chat is, if any

Ids are `tg:{marked chat id}:{message id}`: message ids are unique only within a chat.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crawlers.registry import register_mapper
from crawlers.telegram.constants import SOURCE_NAME, TME_URL
from index.models import Metrics, Post
from index.pseudonym import pseudonymise

#: Offset Telegram's "marked" ids add to channel ids (Telethon's utils.get_peer_id: -100…).
_CHANNEL_MARK = 1_000_000_000_000


def _fail(raw: Any, reason: str) -> ValueError:
    message = raw.get("message") if isinstance(raw, dict) else None
    msg_id = message.get("id") if isinstance(message, dict) else None
    return ValueError(f"сообщение Telegram {msg_id!r} отклонено: {reason}")


def marked_peer_id(peer: Any) -> int:
    """Return Telegram's marked id for a peer dict (channels -100…, basic groups -…, users +…)."""
    if not isinstance(peer, dict):
        raise TypeError(f"peer must be a dict, not {type(peer).__name__}")
    kind = peer.get("_")
    if kind == "PeerChannel":
        return -(_CHANNEL_MARK + _int(peer.get("channel_id")))
    if kind == "PeerChat":
        return -_int(peer.get("chat_id"))
    if kind == "PeerUser":
        return _int(peer.get("user_id"))
    raise ValueError(f"unknown peer type {kind!r}")


def channel_id_of(marked: int) -> int | None:
    """Return the bare channel id of a marked channel id, or None when it is not a channel."""
    bare = -marked - _CHANNEL_MARK
    return bare if bare > 0 else None


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"ожидалось целое число, а не {value!r}")
    return value


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _date(value: Any) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value).astimezone()
    raise ValueError(f"дата должна быть строкой ISO, а не {value!r}")


def _reactions(message: dict[str, Any]) -> int | None:
    reactions = message.get("reactions")
    if not isinstance(reactions, dict):
        return None
    results = reactions.get("results")
    if not isinstance(results, list):
        return None
    return sum(_count(r.get("count")) or 0 for r in results if isinstance(r, dict))


def _author(message: dict[str, Any], chat_id: int) -> tuple[str, bool]:
    """Return (raw author key, whether the author is the chat itself)."""
    from_id = message.get("from_id")
    if from_id is None:
        return f"chat:{chat_id}", True
    marked = marked_peer_id(from_id)
    if marked == chat_id:
        return f"chat:{chat_id}", True
    if from_id.get("_") == "PeerUser":
        return f"user:{marked}", False
    return f"chat:{marked}", False


def _links(
    message: dict[str, Any], chat_id: int, post_id: str, thread: dict[str, Any] | None
) -> tuple[str | None, str]:
    """Return (parent_id, thread_id) for a message."""
    reply_to = message.get("reply_to")
    reply_msg = reply_top = None
    # A reply into another chat (reply_to_peer_id set) is not a thread link.
    if (
        isinstance(reply_to, dict)
        and reply_to.get("_") == "MessageReplyHeader"
        and reply_to.get("reply_to_peer_id") is None
    ):
        reply_msg = reply_to.get("reply_to_msg_id")
        reply_top = reply_to.get("reply_to_top_id")
    if thread is not None:
        root = f"{SOURCE_NAME}:{_int(thread.get('chat_id'))}:{_int(thread.get('post_id'))}"
        copy_id = thread.get("copy_id")
        if reply_msg is None or reply_msg == copy_id:
            return root, root
        return f"{SOURCE_NAME}:{chat_id}:{_int(reply_msg)}", root
    if reply_msg is None:
        return None, post_id
    parent = f"{SOURCE_NAME}:{chat_id}:{_int(reply_msg)}"
    top = reply_top if reply_top is not None else reply_msg
    return parent, f"{SOURCE_NAME}:{chat_id}:{_int(top)}"


def _url(chat: dict[str, Any], chat_id: int, msg_id: int, thread: dict[str, Any] | None) -> str | None:
    if thread is not None and isinstance(thread.get("username"), str):
        return f"{TME_URL}/{thread['username']}/{thread['post_id']}?comment={msg_id}"
    username = chat.get("username")
    if isinstance(username, str) and username:
        return f"{TME_URL}/{username}/{msg_id}"
    bare = channel_id_of(chat_id)
    return f"{TME_URL}/c/{bare}/{msg_id}" if bare else None


@register_mapper(SOURCE_NAME)
def map_tg_item(raw: dict[str, Any], pseudonym_key: bytes) -> Post:
    """Return the Post for a collected Telegram item; raise ValueError (Russian) when it is malformed."""
    if not isinstance(raw, dict):
        raise ValueError(f"элемент Telegram должен быть словарём, а не {type(raw).__name__}")
    message = raw.get("message")
    if not isinstance(message, dict):
        raise _fail(raw, "нет объекта message")
    if message.get("_") != "Message" or message.get("action") is not None:
        raise _fail(raw, f"служебное сообщение {message.get('_')!r} не является публикацией")
    chat_value, thread_value = raw.get("chat"), raw.get("thread")
    chat: dict[str, Any] = chat_value if isinstance(chat_value, dict) else {}
    thread: dict[str, Any] | None = thread_value if isinstance(thread_value, dict) else None
    try:
        msg_id = _int(message.get("id"))
        chat_id = marked_peer_id(message.get("peer_id"))
        if chat.get("id") is not None and _int(chat.get("id")) != chat_id:
            raise ValueError(f"чат {chat.get('id')} не совпадает с peer_id {chat_id}")
        published_at = _date(message.get("date"))
        author_key, by_chat = _author(message, chat_id)
    except (TypeError, ValueError) as exc:
        raise _fail(raw, str(exc)) from exc
    text = message.get("message") or ""
    if not isinstance(text, str):
        raise _fail(raw, "текст сообщения должен быть строкой")
    post_id = f"{SOURCE_NAME}:{chat_id}:{msg_id}"
    try:
        parent_id, thread_id = _links(message, chat_id, post_id, thread)
    except ValueError as exc:
        raise _fail(raw, f"неверная ссылка на ответ: {exc}") from exc
    page_id = raw.get("page_id") if isinstance(raw.get("page_id"), str) else None
    is_official = page_id is not None and by_chat
    if thread is not None and page_id is not None and not by_chat:
        # In a discussion chat the channel itself answers as PeerChannel(channel).
        from_id = message.get("from_id")
        is_official = isinstance(from_id, dict) and marked_peer_id(from_id) == thread.get("chat_id")
    replies_value = message.get("replies")
    replies: dict[str, Any] = replies_value if isinstance(replies_value, dict) else {}
    post_author = message.get("post_author")
    title = chat.get("title") if isinstance(chat.get("title"), str) else None
    return Post(
        id=post_id,
        source=SOURCE_NAME,
        source_id=f"{chat_id}:{msg_id}",
        url=_url(chat, chat_id, msg_id, thread),
        author_id=pseudonymise(f"tg:{author_key}", pseudonym_key),
        author_name=post_author if isinstance(post_author, str) else (title if by_chat else None),
        published_at=published_at,
        text=text,
        raw=raw,
        parent_id=parent_id,
        thread_id=thread_id,
        page_id=page_id,
        is_official=is_official,
        metrics=Metrics(
            views=_count(message.get("views")),
            reposts=_count(message.get("forwards")),
            comments=_count(replies.get("replies")),
            likes=_reactions(message),
        ),
    )
