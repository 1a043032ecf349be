"""Map an extracted article (crawlers.web.items.ArticleItem as JSON) to a Post: pure, no I/O.

The identity of a web page is its canonical URL: `web:{sha1(canonical_url)}`, so the same article
reached through a feed, a sitemap or a tracking link is one post.
"""

from __future__ import annotations

from typing import Any

from crawlers.registry import register_mapper
from crawlers.web.extract import canonical_url, parse_date, url_key
from index.models import Post
from index.pseudonym import pseudonymise

SOURCE_NAME = "web"


def _text(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"поле {key!r} должно быть строкой, а не {type(value).__name__}")
    return value.strip() or None


@register_mapper(SOURCE_NAME)
def map_web_item(raw: dict[str, Any], pseudonym_key: bytes) -> Post:
    """Return the Post for an extracted article; raise ValueError (Russian) when it is malformed."""
    if not isinstance(raw, dict):
        raise ValueError(f"статья должна быть словарём, а не {type(raw).__name__}")
    url = _text(raw, "canonical_url")
    if url is None or not url.startswith(("http://", "https://")):
        raise ValueError(f"у статьи нет канонического адреса: {raw.get('canonical_url')!r}")
    canonical = canonical_url(url)
    key = url_key(canonical)
    title = _text(raw, "title")
    body = _text(raw, "text")
    if body is None:
        raise ValueError(f"у статьи {canonical} нет текста")
    published_at = parse_date(_text(raw, "published_at")) or parse_date(_text(raw, "fetched_at"))
    if published_at is None:
        raise ValueError(f"у статьи {canonical} нет даты публикации и даты загрузки")
    author = _text(raw, "author")
    site = _text(raw, "site") or ""
    post_id = f"{SOURCE_NAME}:{key}"
    return Post(
        id=post_id,
        source=SOURCE_NAME,
        source_id=key,
        url=canonical,
        author_id=pseudonymise(f"web:{site}:{author}", pseudonym_key) if author else None,
        author_name=author or _text(raw, "site_name") or site or None,
        published_at=published_at,
        text=f"{title}\n\n{body}" if title else body,
        raw=raw,
        thread_id=post_id,
    )
