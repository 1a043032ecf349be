"""Article extraction with trafilatura (title, text, date, author, canonical URL) and URL identity.

trafilatura works on the HTML we already downloaded: no network access here (its `fetch_url` is never
used). Dates are returned with their time and offset when the page gives them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import trafilatura
from w3lib.url import canonicalize_url

#: Query parameters that only track a click and never change what the page shows.
TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]+|yclid|ysclid|gclid|fbclid|_openstat|from|ref|rss|share)$", re.IGNORECASE
)
#: Shortest body text (characters) that counts as an article rather than a listing or a stub.
MIN_TEXT_CHARS = 80
#: How trafilatura (htmldate) prints dates: keep the time and the offset.
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


@dataclass(frozen=True)
class Article:
    """What an article page says about itself."""

    url: str  # canonical URL (the page's <link rel=canonical>/og:url when on the same site)
    title: str
    text: str  # body text without the title line
    published_at: datetime | None
    author: str | None
    site_name: str | None
    language: str | None


def canonical_url(url: str) -> str:
    """Return the identity form of a URL: lower-case host, no fragment, no tracking, sorted query."""
    parts = urlsplit(url.strip())
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)
    ]
    host = (parts.hostname or "").lower()
    if parts.port and not (
        (parts.scheme == "http" and parts.port == 80) or (parts.scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}"
    path = parts.path or "/"
    rebuilt = urlunsplit((parts.scheme.lower(), host, path, urlencode(query), ""))
    return canonicalize_url(rebuilt, keep_fragments=False)


def url_key(url: str) -> str:
    """Return sha1 of the canonical URL: the id of a web page (`web:{url_key}`)."""
    return hashlib.sha1(canonical_url(url).encode("utf-8")).hexdigest()


def same_site(url: str, other: str) -> bool:
    """Return whether two URLs are on the same host (ignoring a leading www.)."""

    def host(value: str) -> str:
        name = (urlsplit(value).hostname or "").lower()
        return name[4:] if name.startswith("www.") else name

    return host(url) == host(other) != ""


def parse_date(value: str | None) -> datetime | None:
    """Return an aware UTC datetime from an ISO-like date string, or None when it cannot be read."""
    if not value:
        return None
    text = value.strip()
    for candidate in (text, text.replace("Z", "+00:00")):
        try:
            parsed = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    try:
        parsed = datetime.strptime(text, _DATE_FORMAT)
    except ValueError:
        return None
    return parsed.astimezone(UTC)


def extract_article(html: str | bytes, url: str) -> Article | None:
    """Return the article on a page, or None when the page has no article text (a listing, a stub)."""
    document = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        date_extraction_params={
            "extensive_search": True,
            "original_date": True,
            "outputformat": _DATE_FORMAT,
        },
    )
    if document is None or isinstance(document, dict):
        return None
    title = (document.title or "").strip()
    text = _without_title((document.text or "").strip(), title)
    if len(text) < MIN_TEXT_CHARS:
        return None
    canonical = document.url if document.url and same_site(document.url, url) else url
    return Article(
        url=canonical_url(canonical),
        title=title,
        text=text,
        published_at=parse_date(document.date),
        author=(document.author or "").strip() or None,
        site_name=(document.sitename or "").strip() or None,
        language=document.language,
    )


def _without_title(text: str, title: str) -> str:
    """Drop the title when the body text starts with it (the page's <h1>)."""
    if title and text.startswith(title):
        return text[len(title) :].lstrip()
    return text
