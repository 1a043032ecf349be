"""The news spider: discover articles through RSS/Atom feeds and sitemaps, extract them with trafilatura.

For each configured site it reads
- the home page, for `<link rel="alternate" type="application/rss+xml|atom+xml">` feeds, plus any feed
  URLs given explicitly;
- robots.txt `Sitemap:` lines (or /sitemap.xml when there are none), following sitemap indexes.
Entries older than `since` (from the feed date or the sitemap lastmod) and pages whose canonical URL is
in `seen` (already stored) are not fetched. `allowed_domains` is the set of configured domains, so a
feed pointing elsewhere is filtered by scrapy's offsite middleware; robots.txt is obeyed by scrapy's
RobotsTxtMiddleware (ROBOTSTXT_OBEY is forced on in crawlers.web.settings).
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import scrapy
from parsel import Selector
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from twisted.python.failure import Failure

from crawlers.web.extract import canonical_url, extract_article, parse_date, url_key
from crawlers.web.items import ArticleItem
from crawlers.web.sites import MAX_ARTICLES_PER_SITE, site_base, site_domain

#: Feed content types announced in <link rel="alternate">.
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")


def feed_entries(body: bytes | str, base_url: str) -> Iterator[tuple[str, datetime | None, str | None]]:
    """Yield (url, published date, title) for every entry of an RSS 1/2 or Atom feed."""
    selector = Selector(text=body if isinstance(body, str) else body.decode("utf-8", "replace"), type="xml")
    selector.remove_namespaces()
    for entry in selector.xpath("//item | //entry"):
        link = (
            entry.xpath("link[@rel='alternate']/@href").get()
            or entry.xpath("link[not(@rel)]/@href").get()
            or entry.xpath("link/text()").get()
            or entry.xpath("guid[not(@isPermaLink='false')]/text()").get()
        )
        if not link or not link.strip():
            continue
        raw_date = (
            entry.xpath("pubDate/text()").get()
            or entry.xpath("published/text()").get()
            or entry.xpath("updated/text()").get()
            or entry.xpath("date/text()").get()
        )
        title = entry.xpath("title/text()").get()
        yield urljoin(base_url, link.strip()), _feed_date(raw_date), title.strip() if title else None


def _feed_date(value: str | None) -> datetime | None:
    """Read an RFC 822 (RSS) or ISO 8601 (Atom) date as aware UTC; None when unreadable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return parse_date(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class NewsSpider(scrapy.Spider):
    """Discover and extract articles of the configured news sites and forums."""

    name = "infopole_news"

    def __init__(
        self,
        sites: Iterable[str] = (),
        feeds: Iterable[str] = (),
        since: str | None = None,
        seen: Iterable[str] = (),
        max_articles_per_site: int = MAX_ARTICLES_PER_SITE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sites = [site_base(s) for s in sites]
        self.feeds = list(feeds)
        self.since = parse_date(since) if since else None
        self.seen = set(seen)
        self.max_articles_per_site = max_articles_per_site
        self.allowed_domains = sorted({site_domain(s) for s in self.sites})
        self.scheduled: Counter[str] = Counter()

    async def start(self) -> AsyncIterator[Any]:
        """Request each site's home page (feeds), robots.txt (sitemaps) and the explicit feeds."""
        for base in self.sites:
            yield scrapy.Request(
                base, callback=self.parse_home, errback=self.on_error, cb_kwargs={"base": base}
            )
            yield scrapy.Request(
                urljoin(base, "/robots.txt"),
                callback=self.parse_robots,
                errback=self.robots_failed,
                cb_kwargs={"base": base},
            )
        for feed in self.feeds:
            yield scrapy.Request(feed, callback=self.parse_feed, errback=self.on_error)

    # Discovery ----------------------------------------------------------------------------------

    def parse_home(self, response: Response, base: str) -> Iterator[scrapy.Request]:
        """Follow the feeds a home page announces."""
        if not hasattr(response, "xpath"):
            return
        for link in response.xpath("//link[@rel='alternate'][@href]"):
            kind = (link.attrib.get("type") or "").lower()
            if kind in FEED_TYPES:
                yield response.follow(link.attrib["href"], callback=self.parse_feed, errback=self.on_error)

    def parse_robots(self, response: Response, base: str) -> Iterator[scrapy.Request]:
        """Follow the sitemaps robots.txt lists, or /sitemap.xml when it lists none."""
        urls = list(sitemap_urls_from_robots(response.text, base_url=response.url))
        if not urls:
            urls = [urljoin(base, "/sitemap.xml")]
        for url in urls:
            yield scrapy.Request(url, callback=self.parse_sitemap, errback=self.on_error)

    def robots_failed(self, failure: Failure) -> Iterator[scrapy.Request]:
        """Without a readable robots.txt, try /sitemap.xml."""
        request = getattr(failure, "request", None)
        base = request.cb_kwargs.get("base") if request is not None else None
        if base:
            yield scrapy.Request(
                urljoin(base, "/sitemap.xml"), callback=self.parse_sitemap, errback=self.on_error
            )

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request]:
        """Request the fresh, unseen articles of an RSS/Atom feed."""
        for url, published, _ in feed_entries(response.body, response.url):
            request = self._article_request(url, published, "feed")
            if request is not None:
                yield request

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        """Follow a sitemap index, or request the fresh, unseen pages of a sitemap."""
        body = response.body
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        try:
            sitemap = Sitemap(body)
        except (ValueError, StopIteration, SyntaxError):
            self._count("web/bad_sitemap")
            return
        for entry in sitemap:
            loc = entry.get("loc")
            if not loc:
                continue
            modified = parse_date(entry.get("lastmod"))
            if sitemap.type == "sitemapindex":
                if self.since is None or modified is None or modified >= self.since:
                    yield scrapy.Request(loc, callback=self.parse_sitemap, errback=self.on_error)
                continue
            request = self._article_request(loc, modified, "sitemap")
            if request is not None:
                yield request

    def _article_request(self, url: str, dated: datetime | None, how: str) -> scrapy.Request | None:
        """Return the request for an article, or None when it is old, seen or over the site's quota."""
        if self.since is not None and dated is not None and dated < self.since:
            return None
        if url_key(url) in self.seen:
            return None
        host = site_domain(url)
        if self.scheduled[host] >= self.max_articles_per_site:
            self._count("web/over_quota")
            return None
        self.scheduled[host] += 1
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.on_error,
            cb_kwargs={"listed_at": dated.isoformat() if dated else None, "how": how},
        )

    # Extraction ---------------------------------------------------------------------------------

    def parse_article(self, response: Response, listed_at: str | None, how: str) -> Iterator[ArticleItem]:
        """Extract the article of a page (nothing when the page has no article text)."""
        content_type = (response.headers.get(b"Content-Type") or b"text/html").decode("latin-1").lower()
        if "html" not in content_type or not hasattr(response, "text"):
            self._count("web/not_html")
            return
        article = extract_article(response.text, response.url)
        if article is None:
            self._count("web/no_text")
            return
        key = url_key(article.url)
        if key in self.seen:
            return
        published, source = article.published_at, "page"
        if published is None and listed_at:
            published, source = parse_date(listed_at), how
        self._count("web/articles")
        yield ArticleItem(
            url_key=key,
            canonical_url=article.url,
            fetched_url=canonical_url(response.url),
            site=site_domain(response.url),
            title=article.title,
            text=article.text,
            fetched_at=datetime.now(UTC).isoformat(),
            published_at=published.isoformat() if published else None,
            date_source=source if published else "none",
            author=article.author,
            site_name=article.site_name,
            language=article.language,
            discovered_by=how,
        )

    def on_error(self, failure: Failure) -> None:
        """Count a failed request by kind (HTTP status, timeout, DNS, other); never stop the crawl."""
        error = failure.value
        if isinstance(error, HttpError):
            self._count(f"web/http/{error.response.status}")
        elif isinstance(error, TimeoutError) or "Timeout" in type(error).__name__:
            self._count("web/timeout")
        elif "DNS" in type(error).__name__:
            self._count("web/dns")
        elif "IgnoreRequest" in type(error).__name__:
            return  # robots.txt or offsite: counted by scrapy itself
        else:
            self._count(f"web/error/{type(error).__name__}")
        self.logger.info("request failed: %s", failure.getErrorMessage())

    def _count(self, key: str) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"infopole/{key}")
