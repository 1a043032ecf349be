"""Scrapy crawls the loopback fixture site through the "web" source's subprocess."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import pytest

from crawlers.base import SOURCES, SourceNotConfigured, TransientSourceError
from crawlers.web.mapping import map_web_item
from crawlers.web.settings import crawl_settings
from crawlers.web.source import JOB_DIR_PREFIX, WebSource, build_web_source, sweep_job_dirs
from index.models import SourceState
from index.profile import Profile, SourceList
from index.store import PostQuery
from tests.crawlers.web.server import SLOW_S, FixtureSite, serve_site

NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)  # the first crawl reads 3 days back: from 2 March
#: Test speed-ups only: a short download timeout (below the slow page), no retries, tiny delays.
FAST: dict[str, Any] = {
    "DOWNLOAD_TIMEOUT": 1,
    "RETRY_TIMES": 0,
    "AUTOTHROTTLE_START_DELAY": 0.01,
    "AUTOTHROTTLE_MAX_DELAY": 0.2,
    "DOWNLOAD_DELAY": 0,
    "LOG_LEVEL": "INFO",
}
assert FAST["DOWNLOAD_TIMEOUT"] < SLOW_S


def source(site: FixtureSite, **kwargs: Any) -> WebSource:
    return WebSource([site.base], scrapy_settings=FAST, clock=lambda: NOW, timeout_s=120, **kwargs)


@pytest.fixture(scope="module")
def crawled():
    """One full crawl of the fixture site: (site, batches)."""
    with serve_site() as site:
        batches = list(source(site).poll(SourceState(name="web")))
        yield site, batches


def test_articles_are_discovered_and_extracted(crawled):
    site, batches = crawled
    items = {i["canonical_url"].removeprefix(site.base): i for b in batches for i in b.items}
    assert sorted(items) == ["/news/remont-dorogi.html", "/news/shkola.html", "/news/vyvoz-musora.html"]
    road = items["/news/remont-dorogi.html"]
    assert road["title"] == "На Садовой начали ремонт дороги"
    assert road["author"] == "Анна Смирнова"
    assert road["published_at"] == "2024-03-04T07:15:00+00:00" and road["date_source"] == "page"
    assert "проезжей части на улице Садовой" in road["text"]
    trash = items["/news/vyvoz-musora.html"]
    assert trash["discovered_by"] == "feed"  # the Atom entry, reached through a tracking link
    school = items["/news/shkola.html"]
    assert school["discovered_by"] == "sitemap" and school["date_source"] == "sitemap"
    assert school["published_at"] == "2024-03-04T13:00:00+00:00"  # the page has no date: lastmod
    posts = [map_web_item(i, b"k") for i in items.values()]
    assert len({p.id for p in posts}) == 3 and all(p.id.startswith("web:") for p in posts)


def test_what_is_not_fetched(crawled):
    site, batches = crawled
    assert site.hits("/private/secret.html") == 0  # forbidden by robots.txt
    assert site.hits("/news/old.html") == 0  # older than the crawl window (feed date)
    assert site.hits("/sitemap-archive.xml") == 0 and site.hits("/news/arhiv.html") == 0  # old lastmod
    assert site.hits("/news/offsite.html") == 0  # another host: outside allowed_domains
    assert site.hits("/news/remont-dorogi.html") == 1  # in the feed and the sitemap: fetched once
    assert site.hits("/broken") == 1 and site.hits("/slow") == 1  # tried once each (no retries here)
    errors = batches[-1].errors
    assert errors["web/http/500"] == 1
    assert errors["web/timeout"] == 1
    assert errors["web/robots_forbidden"] == 1
    assert errors["web/offsite"] == 1
    assert errors["web/no_text"] == 1  # the listing page from the sitemap


def test_cursor_moves_since_and_remembers_what_was_stored(crawled):
    _, batches = crawled
    cursor = batches[-1].cursor
    assert cursor["since"] == "2024-03-05T11:00:00+00:00"  # crawl start minus one hour of overlap
    assert len(cursor["seen"]) == 3


def test_second_crawl_adds_nothing_and_refetches_no_article():
    with serve_site() as site:
        first = list(source(site).poll(SourceState(name="web")))
        fetched = {p: site.hits(p) for p in ("/news/remont-dorogi.html", "/news/shkola.html")}
        again = list(source(site).poll(SourceState(name="web", cursor=first[-1].cursor)))
        assert [i for b in again for i in b.items] == []
        assert {p: site.hits(p) for p in fetched} == fetched  # feeds re-read, stored pages not refetched
        assert site.hits("/rss.xml") == 2


def test_killed_midway_resumes_without_duplicates():
    with serve_site() as site:
        stream = source(site, batch_size=1).poll(SourceState(name="web"))
        first = next(stream)
        stream.close()  # the worker dies: the crawl subprocess is killed
        assert len(first.items) == 1 and len(first.cursor["seen"]) == 1
        rest = list(source(site, batch_size=1).poll(SourceState(name="web", cursor=first.cursor)))
        urls = [i["canonical_url"] for b in [first, *rest] for i in b.items]
        assert len(urls) == len(set(urls)) == 3


def test_failed_crawl_is_transient_and_reported_in_russian():
    bad = WebSource([], scrapy_settings=FAST, clock=lambda: NOW, timeout_s=60)
    with pytest.raises(TransientSourceError, match="не завершился") as info:
        list(bad.poll(SourceState(name="web")))
    assert "нет сайтов" in str(info.value)


def test_polite_settings_cannot_be_switched_off():
    settings = crawl_settings({"ROBOTSTXT_OBEY": False})
    assert settings["ROBOTSTXT_OBEY"] is True
    assert settings["AUTOTHROTTLE_ENABLED"] is True
    assert settings["COOKIES_ENABLED"] is False


def test_factory_needs_sites_in_the_profile():
    assert SOURCES["web"] is build_web_source
    with pytest.raises(SourceNotConfigured, match="web_sites"):
        build_web_source(None, Profile(name="Город"))
    profile = Profile(
        name="Город", sources=SourceList(web_sites=["zarechye-news.ru", "https://forum.zarechye.ru/"])
    )
    built = build_web_source(None, profile)
    assert isinstance(built, WebSource)
    assert built.sites == ["https://zarechye-news.ru/", "https://forum.zarechye.ru/"]


def test_batches_go_through_the_ingest_path(crawled, tmp_path, sqlite_store):
    from crawlers.demo import DEMO_PROFILE_PATH
    from index.profile import load_profile
    from infopole.settings import Settings
    from risk.understand import Understander
    from worker.pipeline import ingest_items
    from worker.runtime import Runtime

    _, batches = crawled
    profile = load_profile(DEMO_PROFILE_PATH)
    rt = Runtime(
        Settings(INFOPOLE_DATA_DIR=tmp_path), sqlite_store, profile, Understander(profile), lambda: NOW
    )
    assert sum(ingest_items(rt, b.mapper, b.items).new for b in batches) == 3
    assert sum(ingest_items(rt, b.mapper, b.items).new for b in batches) == 0
    [road] = [p for p in sqlite_store.query_posts(PostQuery(source="web")).items if "Садовой" in p.text]
    assert road.text.startswith("На Садовой начали ремонт дороги\n\n") and road.lemmas


def test_stale_job_folders_of_killed_crawls_are_swept(tmp_path):
    now = 1_000_000.0
    stale, running = tmp_path / f"{JOB_DIR_PREFIX}a", tmp_path / f"{JOB_DIR_PREFIX}b"
    other = tmp_path / "keep-me"
    for folder in (stale, running, other):
        folder.mkdir()
        (folder / "crawl.log").write_text("x", encoding="utf-8")
        os.utime(folder, (now - 7200, now - 7200))
    os.utime(stale / "crawl.log", (now - 7200, now - 7200))
    os.utime(running / "crawl.log", (now - 60, now - 60))  # a crawl still writing its log
    os.utime(other / "crawl.log", (now - 7200, now - 7200))

    assert sweep_job_dirs(tmp_path, older_than_s=3600, now=now) == 1
    assert not stale.exists()
    assert running.exists() and other.exists()
