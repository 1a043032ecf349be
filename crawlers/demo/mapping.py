"""Map a raw demo item (the generator's collector-shaped dict) to a Post: pure, no clock, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from index.models import Metrics, Post
from index.pseudonym import pseudonymise

#: Networks the demo stream uses.
NETWORKS = frozenset({"vk", "tg", "ok", "web"})
_TYPES = frozenset({"post", "comment"})
_METRICS = ("views", "likes", "reposts", "comments", "followers")


def _fail(raw: dict[str, Any], reason: str) -> ValueError:
    item = raw.get("item_id") if isinstance(raw, dict) else None
    return ValueError(f"демо-элемент {item!r} отклонён: {reason}")


def _text_field(raw: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise _fail(raw, f"нет поля {key!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _fail(raw, f"поле {key!r} должно быть строкой, а не {type(value).__name__}")
    text = str(value)
    if required and not text:
        raise _fail(raw, f"пустое поле {key!r}")
    return text


def _count(raw: dict[str, Any], key: str) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(raw, f"счётчик {key!r} должен быть неотрицательным целым, а не {value!r}")
    return value


def map_demo_item(raw: dict[str, Any], pseudonym_key: bytes) -> Post:
    """Return the Post for a raw demo item; raise ValueError (Russian message) when it is malformed."""
    if not isinstance(raw, dict):
        raise ValueError(f"демо-элемент должен быть словарём, а не {type(raw).__name__}")
    network = _text_field(raw, "network", required=True)
    if network not in NETWORKS:
        raise _fail(raw, f"неизвестная сеть {network!r}")
    item_id = _text_field(raw, "item_id", required=True)
    kind = raw.get("type", "post")
    if not isinstance(kind, str) or kind not in _TYPES:
        raise _fail(raw, f"неизвестный тип {kind!r} (нужен post или comment)")
    date = raw.get("date")
    if isinstance(date, bool) or not isinstance(date, int | float):
        raise _fail(raw, f"дата должна быть числом секунд эпохи, а не {date!r}")
    try:
        published_at = datetime.fromtimestamp(date, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise _fail(raw, f"дата вне допустимого диапазона: {date!r}") from exc
    text = raw.get("text", "")
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise _fail(raw, "текст должен быть строкой")
    official = raw.get("official", False)
    if not isinstance(official, bool):
        raise _fail(raw, "поле 'official' должно быть true или false")
    from_id = _text_field(raw, "from_id", required=False)
    parent = _text_field(raw, "parent_item_id", required=False)
    thread = _text_field(raw, "thread_item_id", required=False)
    if kind == "comment" and parent is None:
        raise _fail(raw, "у комментария нет parent_item_id")
    prefix = f"demo:{network}:"
    post_id = prefix + str(item_id)
    metrics = Metrics(**{key: _count(raw, key) for key in _METRICS})
    return Post(
        id=post_id,
        source=network,
        source_id=str(item_id),
        url=_text_field(raw, "url", required=False),
        author_id=None if from_id is None else pseudonymise(f"{network}:{from_id}", pseudonym_key),
        author_name=_text_field(raw, "author_name", required=False),
        published_at=published_at,
        collected_at=published_at,
        text=text,
        raw=dict(raw),
        parent_id=None if parent is None else prefix + parent,
        thread_id=post_id if thread is None else prefix + thread,
        page_id=_text_field(raw, "page_id", required=False),
        is_official=official,
        metrics=metrics,
    )
