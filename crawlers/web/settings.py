"""Scrapy settings of the news crawler: polite by default (robots.txt, AutoThrottle, one site at a time).

`crawl_settings(overrides)` returns the dict the run script hands to CrawlerProcess; tests override
timeouts and delays only, never robots.txt or the domain restriction.
"""

from __future__ import annotations

from typing import Any

BOT_NAME = "infopole"

#: Identify ourselves honestly; site owners can find out who crawls and why.
USER_AGENT = "InfopoleBot/0.1 (municipal information monitoring; obeys robots.txt)"

DEFAULTS: dict[str, Any] = {
    "BOT_NAME": BOT_NAME,
    "USER_AGENT": USER_AGENT,
    "ROBOTSTXT_OBEY": True,
    "ROBOTSTXT_USER_AGENT": "InfopoleBot",
    # AutoThrottle adapts the delay to each site's latency; start slow, never hammer a small site.
    "AUTOTHROTTLE_ENABLED": True,
    "AUTOTHROTTLE_START_DELAY": 1.0,
    "AUTOTHROTTLE_MAX_DELAY": 30.0,
    "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
    "DOWNLOAD_DELAY": 0.5,
    "CONCURRENT_REQUESTS": 8,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
    "DOWNLOAD_TIMEOUT": 20,
    "DOWNLOAD_MAXSIZE": 10 * 1024 * 1024,
    "DNS_TIMEOUT": 10,
    "RETRY_ENABLED": True,
    "RETRY_TIMES": 1,
    # No cookies: news pages do not need them, and the cookie middleware would look up the public
    # suffix list online (tldextract) on first use.
    "COOKIES_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "DEPTH_LIMIT": 3,  # sitemap index → sitemap → article
    "CLOSESPIDER_TIMEOUT": 1800,  # one crawl never runs longer than 30 minutes
    "LOG_LEVEL": "INFO",
    "ITEM_PIPELINES": {
        "crawlers.web.pipeline.DropDuplicatesPipeline": 100,
        "crawlers.web.pipeline.JsonLinesPipeline": 900,
    },
}


def crawl_settings(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the crawler settings with `overrides` applied (robots.txt obedience cannot be turned off)."""
    settings = dict(DEFAULTS)
    settings.update(overrides or {})
    settings["ROBOTSTXT_OBEY"] = True
    return settings
