"""Map a raw VK object (a wall post or a comment, as the API returned it) to a Post: pure, no I/O.

The collector adds a few keys starting with "_" to the API object before it is queued:
`_kind` ("post" or "comment"), `_owner_id` and `_post_id` (the wall post a comment belongs to),
`_thread_root` (the top-level comment a reply belongs to, when VK left out `parents_stack`),
`_page_id` (the profile's official page the wall belongs to), `_author_name` (a community author's
name) and `_relevance` (the rule that kept the item, see crawlers.relevance). The whole object,
these keys included, is kept in Post.raw.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

from crawlers.registry import register_mapper
from index.models import Metrics, Post
from index.pseudonym import pseudonymise

_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_MENTION = re.compile(r"\[(?:id|club|public|event)\d{1,20}\|([^\]\[]{0,200})\]")
#: Separates a repost's own text from the reposted texts.
REPOST_SEPARATOR = "\n\n"


def display_text(text: str) -> str:
    """Return VK text as people read it: entities decoded, <br> as newlines, mentions as names."""
    if not text:
        return ""
    if "<" in text:
        text = _BR.sub("\n", text)
    if "&" in text:
        text = html.unescape(text)
    if "[" in text:
        text = _MENTION.sub(r"\1", text)
    return text.strip()


def _int(raw: dict[str, Any], key: str, what: str) -> int:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"у {what} VK нет целого поля {key!r} (получено {value!r})")
    return value


def _count(raw: dict[str, Any], key: str) -> int | None:
    value = raw.get(key)
    if isinstance(value, dict):
        value = value.get("count")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _published(raw: dict[str, Any], what: str) -> datetime:
    date = _int(raw, "date", what)
    try:
        return datetime.fromtimestamp(date, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"дата {what} VK вне диапазона: {date!r}") from exc


def _full_text(raw: dict[str, Any]) -> str:
    """Return the post's own text followed by the texts it reposts (copy_history)."""
    parts = [display_text(str(raw.get("text") or ""))]
    history = raw.get("copy_history")
    if isinstance(history, list):
        parts += [display_text(str(h.get("text") or "")) for h in history if isinstance(h, dict)]
    return REPOST_SEPARATOR.join(p for p in parts if p)


def post_id(owner_id: int, item_id: int) -> str:
    """Return the Post id of a wall post."""
    return f"vk:{owner_id}_{item_id}"


def comment_id(owner_id: int, item_id: int, cid: int) -> str:
    """Return the Post id of a comment under a wall post."""
    return f"vk:{owner_id}_{item_id}:c{cid}"


def _author(raw: dict[str, Any], from_id: int, key: bytes) -> tuple[str, str | None]:
    """Return the pseudonymised author id and a name (communities only; people stay unnamed)."""
    name = raw.get("_author_name") if from_id < 0 else None
    return pseudonymise(f"vk:{from_id}", key), name if isinstance(name, str) and name else None


def _page(raw: dict[str, Any]) -> str | None:
    page = raw.get("_page_id")
    return page if isinstance(page, str) and page else None


def map_vk_post(raw: dict[str, Any], pseudonym_key: bytes) -> Post:
    """Return the Post of a wall post object (wall.get / newsfeed.search item)."""
    owner_id = _int(raw, "owner_id", "записи")
    item_id = _int(raw, "id", "записи")
    from_id = raw.get("from_id", owner_id)
    if isinstance(from_id, bool) or not isinstance(from_id, int):
        raise ValueError(f"у записи VK {owner_id}_{item_id} непонятный автор {from_id!r}")
    page_id = _page(raw)
    author_id, author_name = _author(raw, from_id, pseudonym_key)
    pid = post_id(owner_id, item_id)
    return Post(
        id=pid,
        source="vk",
        source_id=f"{owner_id}_{item_id}",
        url=f"https://vk.com/wall{owner_id}_{item_id}",
        author_id=author_id,
        author_name=author_name,
        published_at=_published(raw, "записи"),
        text=_full_text(raw),
        raw=raw,
        thread_id=pid,
        page_id=page_id,
        is_official=page_id is not None and from_id == owner_id,
        metrics=Metrics(
            views=_count(raw, "views"),
            likes=_count(raw, "likes"),
            reposts=_count(raw, "reposts"),
            comments=_count(raw, "comments"),
        ),
    )


def map_vk_comment(raw: dict[str, Any], pseudonym_key: bytes) -> Post:
    """Return the Post of a comment object (wall.getComments item, a thread reply included)."""
    if raw.get("deleted"):
        raise ValueError(f"комментарий VK {raw.get('id')!r} удалён")
    owner_id = raw.get("_owner_id", raw.get("owner_id"))
    parent_post = raw.get("_post_id", raw.get("post_id"))
    if not isinstance(owner_id, int) or not isinstance(parent_post, int):
        raise ValueError(f"у комментария VK {raw.get('id')!r} нет записи, к которой он относится")
    cid = _int(raw, "id", "комментария")
    from_id = _int(raw, "from_id", "комментария")
    root = post_id(owner_id, parent_post)
    reply_to = raw.get("reply_to_comment")
    stack = raw.get("parents_stack")
    thread_root = stack[0] if isinstance(stack, list) and stack and isinstance(stack[0], int) else None
    if thread_root is None and isinstance(raw.get("_thread_root"), int):
        thread_root = raw["_thread_root"]
    if isinstance(reply_to, int) and reply_to > 0:
        parent = comment_id(owner_id, parent_post, reply_to)
    elif thread_root is not None:
        parent = comment_id(owner_id, parent_post, thread_root)
    else:
        parent = root
    url = f"https://vk.com/wall{owner_id}_{parent_post}?reply={cid}"
    if thread_root is not None:
        url += f"&thread={thread_root}"
    page_id = _page(raw)
    author_id, author_name = _author(raw, from_id, pseudonym_key)
    return Post(
        id=comment_id(owner_id, parent_post, cid),
        source="vk",
        source_id=f"{owner_id}_{parent_post}:c{cid}",
        url=url,
        author_id=author_id,
        author_name=author_name,
        published_at=_published(raw, "комментария"),
        text=display_text(str(raw.get("text") or "")),
        raw=raw,
        parent_id=parent,
        thread_id=root,
        page_id=page_id,
        is_official=page_id is not None and from_id == owner_id,
        metrics=Metrics(likes=_count(raw, "likes")),
    )


@register_mapper("vk")
def map_vk_item(raw: dict[str, Any], pseudonym_key: bytes) -> Post:
    """Return the Post of a raw VK item; raise ValueError (Russian message) when it is malformed."""
    if not isinstance(raw, dict):
        raise ValueError(f"элемент VK должен быть словарём, а не {type(raw).__name__}")
    kind = raw.get("_kind", "post")
    if kind == "comment":
        return map_vk_comment(raw, pseudonym_key)
    if kind == "post":
        return map_vk_post(raw, pseudonym_key)
    raise ValueError(f"неизвестный вид элемента VK {kind!r} (нужен post или comment)")
