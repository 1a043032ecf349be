"""Configured news sites as the worker sees them, without scrapy (the crawl itself runs in a subprocess)."""

from __future__ import annotations

from urllib.parse import urlsplit

#: Default number of article pages fetched per site per crawl.
MAX_ARTICLES_PER_SITE = 200


def site_base(value: str) -> str:
    """Return the base URL (scheme://host[:port]/) of a configured site: a domain or a URL."""
    text = value.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if not parts.hostname:
        raise ValueError(f"не похоже на адрес сайта: {value!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}/"


def site_domain(value: str) -> str:
    """Return the host name of a configured site, without a leading www."""
    host = urlsplit(site_base(value)).hostname or ""
    return host[4:] if host.startswith("www.") else host
