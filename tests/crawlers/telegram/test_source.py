"""TelegramSource against a fake client with Telethon's async surface and real TL objects."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from telethon.errors import ChannelPrivateError, FloodWaitError

from crawlers.base import (
    SOURCES,
    CredentialsError,
    SourceNotConfigured,
    TransientSourceError,
)
from crawlers.telegram.client import session_lock
from crawlers.telegram.mapping import map_tg_item
from crawlers.telegram.source import Target, TelegramSource, build_telegram_source, targets_from_profile
from index.models import OfficialPage, SourceState
from index.profile import Profile, SourceList
from infopole.settings import Settings, TelegramSettings
from tests.crawlers.telegram.fakes import T0, FakeTelegram, channel, comment, copy_of, post, service

KEY = b"k"
NEWS, DISC, CHAT_ID, PRIVATE = 1111, 2222, 3333, 4444
NOW = T0 + timedelta(hours=2)


def world() -> FakeTelegram:
    """A news channel with a discussion chat, a public town chat, and a private channel."""
    fake = FakeTelegram()
    fake.add_channel(
        channel(NEWS, "gorod_news", "Новости города"),
        [
            post(NEWS, 1, "Старый пост", minutes=-60 * 24 * 10),  # before the backfill window
            post(NEWS, 10, "Ремонт дороги на Садовой", minutes=1, comments=3, discussion=DISC),
            service(NEWS, 11),
            post(NEWS, 12, "График вывоза мусора", minutes=5, comments=1, discussion=DISC),
        ],
        linked=DISC,
    )
    fake.add_channel(
        channel(DISC, None, "Обсуждение новостей", broadcast=False, megagroup=True),
        [
            copy_of(DISC, 500, NEWS, 10, minutes=1),
            comment(DISC, 501, "Когда закончат?", reply_to=500, minutes=2),
            comment(DISC, 502, "Никогда", reply_to=501, top=500, user=5002, minutes=3),
            copy_of(DISC, 503, NEWS, 12, minutes=5),
            comment(DISC, 504, "Спасибо", reply_to=503, minutes=6),
            comment(DISC, 505, "Опять яма", reply_to=500, user=5003, minutes=7),
        ],
    )
    fake.add_channel(
        channel(CHAT_ID, "gorod_chat", "Чат города", broadcast=False, megagroup=True),
        [
            post(CHAT_ID, 70 + i, f"Сообщение {i}", minutes=10 + i, views=None, forwards=None)
            for i in range(5)
        ],
    )
    fake.entities["secret_chan"] = ChannelPrivateError(request=None)
    return fake


TARGETS = [Target("gorod_news", "tg-news"), Target("gorod_chat"), Target("secret_chan")]


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make_source(fake: FakeTelegram, sleep: Sleeps | None = None, **kwargs) -> TelegramSource:
    return TelegramSource(TARGETS, lambda: fake, sleep=sleep or Sleeps(), clock=lambda: NOW, **kwargs)


def run(source: TelegramSource, cursor: dict[str, Any] | None = None):
    """Poll to the end; return (batches, final cursor)."""
    batches = list(source.poll(SourceState(name="tg", cursor=cursor or {})))
    return batches, (batches[-1].cursor if batches else cursor)


def posts_of(batches):
    return [map_tg_item(item, KEY) for b in batches for item in b.items]


def test_first_poll_reads_channels_comments_and_chats():
    fake = world()
    batches, cursor = run(make_source(fake))
    posts = {p.id: p for p in posts_of(batches)}
    assert sorted(posts) == sorted(
        [
            "tg:-1000000001111:10",
            "tg:-1000000001111:12",
            "tg:-1000000002222:501",
            "tg:-1000000002222:502",
            "tg:-1000000002222:504",
            "tg:-1000000002222:505",
        ]
        + [f"tg:-1000000003333:{70 + i}" for i in range(5)]
    )  # the 10-day-old post is outside the backfill, the service message and the copies are dropped
    assert posts["tg:-1000000002222:501"].parent_id == "tg:-1000000001111:10"
    assert posts["tg:-1000000002222:502"].parent_id == "tg:-1000000002222:501"
    assert posts["tg:-1000000002222:502"].thread_id == "tg:-1000000001111:10"
    assert posts["tg:-1000000002222:504"].thread_id == "tg:-1000000001111:12"
    assert posts["tg:-1000000001111:10"].page_id == "tg-news" and posts["tg:-1000000001111:10"].is_official
    assert posts["tg:-1000000001111:10"].metrics.comments == 3
    assert posts["tg:-1000000003333:70"].page_id is None
    errors = [b.errors for b in batches if b.errors]
    assert errors == [{"tg/private": 1}]
    assert cursor["max_id"] == {"-1000000001111": 12, "-1000000002222": 505, "-1000000003333": 74}
    assert "secret_chan" in cursor["failed"]
    assert cursor["peers"]["gorod_news"]["linked"]["id"] == DISC


def test_second_poll_adds_nothing_and_resolves_nothing_again(sqlite_store):
    fake = world()
    first, cursor = run(make_source(fake))
    assert sqlite_store.upsert_posts(posts_of(first)) == 11
    calls_before = len([c for c in fake.calls if c[0] in ("get_entity", "GetFullChannelRequest")])
    second, cursor2 = run(make_source(fake), cursor)
    assert posts_of(second) == []
    assert sqlite_store.upsert_posts(posts_of(first)) == 0  # re-ingesting the same data adds nothing
    calls_after = len([c for c in fake.calls if c[0] in ("get_entity", "GetFullChannelRequest")])
    assert calls_after == calls_before  # usernames and the linked chat were resolved once
    # the private channel is not retried within a day
    assert fake.calls.count(("get_entity", "secret_chan")) == 1
    assert cursor2["max_id"] == cursor["max_id"]


def test_new_messages_are_read_from_min_id():
    fake = world()
    _, cursor = run(make_source(fake))
    fake.history[NEWS].append(post(NEWS, 13, "Новый пост", minutes=30, comments=1, discussion=DISC))
    fake.history[DISC] += [
        copy_of(DISC, 506, NEWS, 13, minutes=30),
        comment(DISC, 507, "Первый!", reply_to=506, minutes=31),
        comment(DISC, 508, "Старая тема", reply_to=500, minutes=32),
    ]
    batches, _ = run(make_source(fake), cursor)
    got = {p.id: p for p in posts_of(batches)}
    assert sorted(got) == ["tg:-1000000001111:13", "tg:-1000000002222:507", "tg:-1000000002222:508"]
    assert got["tg:-1000000002222:508"].thread_id == "tg:-1000000001111:10"  # copy link kept in the cursor
    min_ids = [c[1][2].get("min_id") for c in fake.calls if c[0] == "iter_messages" and "ids" not in c[1][2]]
    assert min_ids[-3:] == [12, 505, 74]


def test_unknown_copy_is_fetched_by_id_once():
    fake = world()
    _, cursor = run(make_source(fake))
    cursor["copies"] = {}  # as if the copy link was forgotten (old post)
    fake.history[DISC].append(comment(DISC, 509, "Вспомнил старое", reply_to=500, minutes=40))
    batches, _ = run(make_source(fake), cursor)
    [p] = posts_of(batches)
    assert p.thread_id == "tg:-1000000001111:10"
    assert [c[1][2]["ids"] for c in fake.calls if c[0] == "iter_messages" and "ids" in c[1][2]] == [[500]]


def test_short_flood_wait_is_slept_and_nothing_is_lost():
    fake = world()
    fake.fail(CHAT_ID, 2, FloodWaitError(request=None, capture=5))
    sleeps = Sleeps()
    batches, _ = run(make_source(fake, sleeps, batch_size=2))
    ids = [p.id for p in posts_of(batches) if p.id.startswith("tg:-1000000003333:")]
    assert ids == [f"tg:-1000000003333:{70 + i}" for i in range(5)]
    assert sleeps.calls == [5.0]


def test_long_flood_wait_reschedules_and_restart_resumes_without_gaps():
    fake = world()
    fake.fail(CHAT_ID, 3, FloodWaitError(request=None, capture=3600))
    sleeps = Sleeps()
    source = make_source(fake, sleeps, batch_size=2)
    delivered = []
    cursor: dict[str, Any] = {}
    with pytest.raises(TransientSourceError) as info:
        for batch in source.poll(SourceState(name="tg", cursor={})):
            delivered.append(batch)
            cursor = batch.cursor  # the worker saves the cursor after each ingested batch
    assert info.value.retry_after_s == 3600
    assert sleeps.calls == []  # an hour is not slept in place
    rest, _ = run(make_source(fake), cursor)
    ids = [p.id for p in posts_of(delivered + rest)]
    assert len(ids) == len(set(ids)) == 11


def test_killed_midway_resumes_from_the_cursor_without_gaps_or_duplicates():
    fake = world()
    source = make_source(fake, batch_size=2)
    stream = source.poll(SourceState(name="tg", cursor={}))
    first = next(stream)
    second = next(stream)
    stream.close()  # the worker process dies here
    assert fake.connected is False
    rest, _ = run(make_source(fake, batch_size=2), second.cursor)
    ids = [p.id for p in posts_of([first, second, *rest])]
    assert len(ids) == len(set(ids)) == 11


def test_unauthorised_session_is_a_credentials_error():
    fake = world()
    fake.authorized = False
    with pytest.raises(CredentialsError, match="TELEGRAM__SESSION"):
        run(make_source(fake))


def test_factory_is_off_loudly_without_credentials_and_reads_the_profile(tmp_path: Path):
    profile = Profile(
        name="Город",
        pages=[
            OfficialPage(id="tg-admin", network="tg", name="Администрация", url="https://t.me/gorod_admin"),
            OfficialPage(id="vk-admin", network="vk", name="ВК", url="https://vk.com/gorod"),
        ],
        sources=SourceList(tg_channels=["@gorod_news", "https://t.me/+invite", "gorod_admin"]),
    )
    with pytest.raises(SourceNotConfigured, match="TELEGRAM__API_ID"):
        build_telegram_source(Settings(INFOPOLE_DATA_DIR=tmp_path), profile)
    assert SOURCES["tg"] is build_telegram_source
    settings = Settings(
        INFOPOLE_DATA_DIR=tmp_path,
        telegram=TelegramSettings(api_id="12345", api_hash=SecretStr("abc"), session=SecretStr("1xyz")),
    )
    source = build_telegram_source(settings, profile)
    assert isinstance(source, TelegramSource)
    assert [(t.key, t.page_id) for t in source.targets] == [("gorod_admin", "tg-admin"), ("gorod_news", None)]
    with pytest.raises(SourceNotConfigured, match="каналов"):
        build_telegram_source(settings, Profile(name="Пусто"))
    assert targets_from_profile(Profile(name="Пусто")) == []


def test_one_process_per_session(tmp_path: Path):
    with (
        session_lock(tmp_path, "session-a"),
        pytest.raises(TransientSourceError, match="другим процессом"),
        session_lock(tmp_path, "session-a"),
    ):
        pass
    with session_lock(tmp_path, "session-a"), session_lock(tmp_path, "session-b"):
        pass  # different sessions do not block each other


def test_private_channel_is_retried_after_a_day():
    fake = world()
    _, cursor = run(make_source(fake))
    later = TelegramSource(TARGETS, lambda: fake, sleep=Sleeps(), clock=lambda: NOW + timedelta(hours=25))
    batches, _ = run(later, cursor)
    assert fake.calls.count(("get_entity", "secret_chan")) == 2
    assert [b.errors for b in batches if b.errors] == [{"tg/private": 1}]


def test_real_client_is_built_from_a_string_session_without_auto_flood_sleep():
    from telethon import TelegramClient

    from crawlers.telegram.client import open_client

    client = open_client("12345", "hash", "")
    assert isinstance(client, TelegramClient)
    assert client.flood_sleep_threshold == 0  # every FloodWait reaches the collector
    with pytest.raises(SourceNotConfigured, match="TELEGRAM__API_ID"):
        open_client("not-a-number", "hash", "")
    with pytest.raises(SourceNotConfigured, match="TELEGRAM__SESSION"):
        open_client("12345", "hash", "1broken")


def test_closed_discussion_chat_does_not_stop_the_channel():
    fake = world()
    fake.fail(DISC, 0, ChannelPrivateError(request=None))
    batches, cursor = run(make_source(fake))
    ids = {p.id for p in posts_of(batches)}
    assert {"tg:-1000000001111:10", "tg:-1000000001111:12"} <= ids
    assert not any(i.startswith("tg:-1000000002222:") for i in ids)
    assert [b.errors for b in batches if b.errors] == [{"tg/private": 1}, {"tg/private": 1}]
    assert "gorod_news" not in cursor["failed"]
    fake.history[NEWS].append(post(NEWS, 13, "Новый пост", minutes=30))
    before = len(fake.calls)
    again, _ = run(make_source(fake), cursor)
    assert [p.id for p in posts_of(again)] == ["tg:-1000000001111:13"]
    disc_reads = [c for c in fake.calls[before:] if c[0] == "iter_messages" and c[1][0].channel_id == DISC]
    assert disc_reads == []  # the discussion chat waits for its retry pause


def test_batches_go_through_the_ingest_path(tmp_path, sqlite_store):
    from crawlers.demo import DEMO_PROFILE_PATH
    from index.profile import load_profile
    from risk.understand import Understander
    from worker.pipeline import ingest_items
    from worker.runtime import Runtime

    profile = load_profile(DEMO_PROFILE_PATH)
    rt = Runtime(
        Settings(INFOPOLE_DATA_DIR=tmp_path), sqlite_store, profile, Understander(profile), lambda: NOW
    )
    batches, _ = run(make_source(world()))
    results = [ingest_items(rt, b.mapper, b.items) for b in batches]
    assert sum(r.new for r in results) == 11 and not any(r.rejected for r in results)
    again = [ingest_items(rt, b.mapper, b.items) for b in batches]
    assert sum(r.new for r in again) == 0
    assert sqlite_store.get_post("tg:-1000000002222:502").thread_id == "tg:-1000000001111:10"
    assert "дорога" in sqlite_store.get_post("tg:-1000000001111:10").lemmas.split()  # understood
