"""Article extraction, URL identity, feed parsing and the web mapping, on the fixture site's files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawlers.registry import get_mapper
from crawlers.web.extract import canonical_url, extract_article, url_key
from crawlers.web.sites import site_base, site_domain
from crawlers.web.spider import feed_entries
from tests.crawlers.web.server import SITE

BASE = "https://zarechye-news.ru"


def page(name: str) -> str:
    return (SITE / name).read_text(encoding="utf-8").replace("{{BASE}}", BASE).replace("{{PORT}}", "8080")


def test_article_with_meta_tags():
    article = extract_article(page("news/remont-dorogi.html"), f"{BASE}/news/remont-dorogi.html")
    assert article is not None
    assert article.title == "На Садовой начали ремонт дороги"
    assert article.author == "Анна Смирнова"
    assert article.published_at == datetime(2024, 3, 4, 7, 15, tzinfo=UTC)
    assert article.text.startswith("В понедельник дорожные службы")
    assert "пешеходный переход" in article.text
    for boilerplate in ("Главная", "Реклама", "Все права защищены"):
        assert boilerplate not in article.text
    assert article.url == f"{BASE}/news/remont-dorogi.html"


def test_article_with_json_ld_and_tracking_link():
    url = f"{BASE}/news/vyvoz-musora.html?utm_source=rss&utm_medium=feed"
    article = extract_article(page("news/vyvoz-musora.html"), url)
    assert article is not None
    assert article.url == f"{BASE}/news/vyvoz-musora.html"  # the canonical link, tracking dropped
    assert article.author == "Пресс-служба администрации"
    assert article.published_at == datetime(2024, 3, 4, 12, 0, tzinfo=UTC)


def test_listing_page_is_not_an_article():
    assert extract_article(page("news/spisok.html"), f"{BASE}/news/spisok.html") is None


def test_canonical_url_drops_tracking_fragment_and_case():
    a = canonical_url("HTTPS://Zarechye-News.RU/news/a.html?utm_source=vk&b=2&a=1#comments")
    b = canonical_url("https://zarechye-news.ru/news/a.html?a=1&b=2&yclid=42")
    assert a == b == "https://zarechye-news.ru/news/a.html?a=1&b=2"
    assert url_key(a) == url_key(b) and len(url_key(a)) == 40
    assert canonical_url("http://h.ru:80/x") == "http://h.ru/x"
    assert canonical_url("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080/x"


def test_feed_entries_rss_and_atom():
    rss = list(feed_entries(page("rss.xml").encode(), BASE + "/rss.xml"))
    assert rss[0] == (
        f"{BASE}/news/remont-dorogi.html",
        datetime(2024, 3, 4, 7, 15, tzinfo=UTC),
        "На Садовой начали ремонт дороги",
    )
    assert len(rss) == 6
    atom = list(feed_entries(page("atom.xml").encode(), BASE + "/atom.xml"))
    assert atom == [
        (
            f"{BASE}/news/vyvoz-musora.html?utm_source=rss&utm_medium=feed",
            datetime(2024, 3, 4, 12, 0, tzinfo=UTC),
            "Новый график вывоза мусора",
        )
    ]


def test_site_forms():
    assert site_base("zarechye-news.ru") == "https://zarechye-news.ru/"
    assert site_base("http://WWW.Zarechye-News.ru/news/") == "http://www.zarechye-news.ru/"
    assert site_domain("https://www.zarechye-news.ru/") == "zarechye-news.ru"
    with pytest.raises(ValueError, match="адрес сайта"):
        site_base("https://")


def test_mapping_uses_the_canonical_url_as_identity():
    raw = {
        "url_key": "ignored",
        "canonical_url": f"{BASE}/news/a.html?utm_source=x",
        "fetched_url": f"{BASE}/news/a.html",
        "site": "zarechye-news.ru",
        "title": "Заголовок",
        "text": "Текст статьи о ремонте.",
        "fetched_at": "2024-03-05T09:00:00+00:00",
        "published_at": None,
        "author": "Анна Смирнова",
    }
    post = get_mapper("web")(raw, b"k")
    assert post.id == f"web:{url_key(BASE + '/news/a.html')}"
    assert post.url == f"{BASE}/news/a.html"
    assert post.text == "Заголовок\n\nТекст статьи о ремонте."
    assert post.published_at == datetime(2024, 3, 5, 9, 0, tzinfo=UTC)  # no date: when it was fetched
    assert post.author_name == "Анна Смирнова" and post.author_id and "Анна" not in post.author_id
    assert post.thread_id == post.id
    for broken in ({**raw, "canonical_url": "ftp://x"}, {**raw, "text": ""}, {**raw, "fetched_at": None}):
        with pytest.raises(ValueError):
            get_mapper("web")(broken, b"k")
