"""What the spider yields for an article page (a dataclass item: scrapy handles it via itemadapter)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class ArticleItem:
    """One article page, ready to be mapped to a Post by crawlers.web.mapping."""

    url_key: str  # sha1 of the canonical URL: the post id is `web:{url_key}`
    canonical_url: str
    fetched_url: str
    site: str  # the profile domain the page belongs to
    title: str
    text: str
    fetched_at: str  # ISO, UTC
    published_at: str | None = None  # ISO, UTC, from the page, else from the feed or sitemap
    date_source: str = "none"  # page | feed | sitemap | none
    author: str | None = None
    site_name: str | None = None
    language: str | None = None
    discovered_by: str = "feed"  # feed | sitemap

    def to_dict(self) -> dict[str, Any]:
        """Return the item as a JSON-ready dict."""
        return asdict(self)
