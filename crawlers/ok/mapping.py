"""Map a raw OK object (a group topic or a comment, as the API returned it) to a Post: pure, no I/O.

The collector adds keys starting with "_": `_kind` ("topic" or "comment"), `_group_id`, `_topic_id`
(the topic a comment belongs to), `_page_id` (the profile's official page), `_author_name` (the
group's name when the group itself is the author) and `_relevance`. Post.raw keeps the whole object.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from crawlers.ok.constants import COMMENT_DATE_TZ
from crawlers.registry import register_mapper
from index.models import Metrics, Post
from index.pseudonym import pseudonymise

_COMMENT_TZ = ZoneInfo(COMMENT_DATE_TZ)


def _str_id(raw: dict[str, Any], key: str, what: str) -> str:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise ValueError(f"у {what} OK нет поля {key!r} (получено {value!r})")
    return str(value).strip()


def _summary(raw: dict[str, Any], key: str, field: str) -> int | None:
    value = raw.get(key)
    count = value.get(field) if isinstance(value, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None


def _from_ms(value: object, what: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"у {what} OK нет времени создания (получено {value!r})")
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"время {what} OK вне диапазона: {value!r}") from exc


def topic_text(raw: dict[str, Any]) -> str:
    """Return the text blocks of a media topic joined by blank lines."""
    parts: list[str] = []
    media = raw.get("media") or []
    if not isinstance(media, list):
        raise ValueError(f"поле media темы OK должно быть списком, а не {type(media).__name__}")
    for block in media:
        if isinstance(block, dict) and block.get("type") == "text" and block.get("text"):
            parts.append(html.unescape(str(block["text"])).strip())
    return "\n\n".join(p for p in parts if p)


def topic_post_id(group_id: str, topic_id: str) -> str:
    """Return the Post id of a group topic."""
    return f"ok:{group_id}_{topic_id}"


def _author(ref: str, group_id: str, raw: dict[str, Any], key: bytes) -> tuple[str, str | None, bool]:
    """Return (pseudonymised author id, name, written by the group itself) from an author ref."""
    by_group = ref == f"group:{group_id}"
    name = raw.get("_author_name") if by_group else None
    return pseudonymise(f"ok:{ref}", key), name if isinstance(name, str) and name else None, by_group


def map_ok_topic(raw: dict[str, Any], pseudonym_key: bytes) -> Post:
    """Return the Post of a group topic (mediatopic.getTopics item)."""
    topic_id = _str_id(raw, "id", "топика")
    group_id = str(raw.get("_group_id") or str(raw.get("owner_ref", "")).removeprefix("group:"))
    if not group_id:
        raise ValueError(f"у топика OK {topic_id} не указана группа")
    ref = str(raw.get("author_ref") or raw.get("owner_ref") or "")
    author_id, author_name, by_group = _author(ref, group_id, raw, pseudonym_key)
    page_id = raw.get("_page_id") if isinstance(raw.get("_page_id"), str) else None
    pid = topic_post_id(group_id, topic_id)
    return Post(
        id=pid,
        source="ok",
        source_id=f"{group_id}_{topic_id}",
        url=f"https://ok.ru/group/{group_id}/topic/{topic_id}",
        author_id=author_id,
        author_name=author_name,
        published_at=_from_ms(raw.get("created_ms"), "топика"),
        text=topic_text(raw),
        raw=raw,
        thread_id=pid,
        page_id=page_id,
        is_official=page_id is not None and by_group,
        metrics=Metrics(
            likes=_summary(raw, "like_summary", "count"),
            reposts=_summary(raw, "reshare_summary", "count"),
            comments=_summary(raw, "discussion_summary", "comments_count"),
        ),
    )


def _comment_time(raw: dict[str, Any]) -> datetime:
    """Return a comment's time from date_ms, else from its Moscow-time "date" string."""
    if raw.get("date_ms") is not None:
        return _from_ms(raw.get("date_ms"), "комментария")
    text = raw.get("date")
    if not isinstance(text, str):
        raise ValueError(f"у комментария OK нет даты (получено {text!r})")
    try:
        local = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError as exc:
        raise ValueError(f"дата комментария OK не распознана: {text!r}") from exc
    return local.replace(tzinfo=_COMMENT_TZ).astimezone(UTC)


def map_ok_comment(raw: dict[str, Any], pseudonym_key: bytes) -> Post:
    """Return the Post of a comment (discussions.getComments item)."""
    cid = _str_id(raw, "id", "комментария")
    group_id = _str_id(raw, "_group_id", "комментария")
    topic_id = _str_id(raw, "_topic_id", "комментария")
    author_type = str(raw.get("author_type") or "USER").lower()
    ref = f"{'group' if author_type == 'group' else 'user'}:{_str_id(raw, 'author_id', 'комментария')}"
    author_id, author_name, by_group = _author(ref, group_id, raw, pseudonym_key)
    root = topic_post_id(group_id, topic_id)
    reply_to = raw.get("reply_to_comment_id")
    parent = f"{root}:c{reply_to}" if isinstance(reply_to, str | int) and str(reply_to) else root
    page_id = raw.get("_page_id") if isinstance(raw.get("_page_id"), str) else None
    likes = raw.get("like_count")
    return Post(
        id=f"{root}:c{cid}",
        source="ok",
        source_id=f"{group_id}_{topic_id}:c{cid}",
        url=f"https://ok.ru/group/{group_id}/topic/{topic_id}",
        author_id=author_id,
        author_name=author_name,
        published_at=_comment_time(raw),
        text=html.unescape(str(raw.get("text") or "")).strip(),
        raw=raw,
        parent_id=parent,
        thread_id=root,
        page_id=page_id,
        is_official=page_id is not None and by_group,
        metrics=Metrics(likes=likes if isinstance(likes, int) and not isinstance(likes, bool) else None),
    )


@register_mapper("ok")
def map_ok_item(raw: dict[str, Any], pseudonym_key: bytes) -> Post:
    """Return the Post of a raw OK item; raise ValueError (Russian message) when it is malformed."""
    if not isinstance(raw, dict):
        raise ValueError(f"элемент OK должен быть словарём, а не {type(raw).__name__}")
    kind = raw.get("_kind", "topic")
    if kind == "comment":
        return map_ok_comment(raw, pseudonym_key)
    if kind == "topic":
        return map_ok_topic(raw, pseudonym_key)
    raise ValueError(f"неизвестный вид элемента OK {kind!r} (нужен topic или comment)")
