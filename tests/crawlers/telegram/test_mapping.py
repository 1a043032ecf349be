"""Telegram mapping: real Telethon TL messages → JSON raw items → Posts."""

from __future__ import annotations

import json

import pytest
from telethon.tl import types

from crawlers.registry import get_mapper
from crawlers.telegram.client import message_to_raw, parse_target
from crawlers.telegram.mapping import map_tg_item, marked_peer_id
from tests.crawlers.telegram.fakes import T0, comment, post, service

KEY = b"test-key"
CHANNEL = 1234567
DISC = 7654321
CHAT = {"id": -1000001234567, "username": "gorod_news", "title": "Новости города", "broadcast": True}


def item(message, chat=CHAT, thread=None, page_id=None):
    return {"message": message_to_raw(message), "chat": chat, "thread": thread, "page_id": page_id}


def test_channel_post_maps_ids_metrics_and_url():
    msg = post(CHANNEL, 77, "Отключение воды на улице Ленина", views=1500, forwards=12, comments=4, likes=30)
    raw = item(msg, page_id="tg-admin")
    json.dumps(raw)  # the raw item travels through the queue as JSON
    p = get_mapper("tg")(raw, KEY)
    assert p.id == "tg:-1000001234567:77"
    assert p.source == "tg" and p.source_id == "-1000001234567:77"
    assert p.url == "https://t.me/gorod_news/77"
    assert p.published_at == T0
    assert p.text == "Отключение воды на улице Ленина"
    assert (p.metrics.views, p.metrics.reposts, p.metrics.comments, p.metrics.likes) == (1500, 12, 4, 30)
    assert p.parent_id is None and p.thread_id == p.id
    assert p.page_id == "tg-admin" and p.is_official
    assert p.author_name == "Новости города"
    assert p.author_id and str(CHANNEL) not in p.author_id
    assert p.raw["message"]["id"] == 77


def test_forwarded_post_keeps_its_header_and_counts():
    msg = types.Message(
        id=5,
        peer_id=types.PeerChannel(CHANNEL),
        date=T0,
        message="Репост новости",
        post=True,
        views=None,
        forwards=None,
        fwd_from=types.MessageFwdHeader(date=T0, from_id=types.PeerChannel(42), channel_post=9),
    )
    p = map_tg_item(item(msg), KEY)
    assert p.raw["message"]["fwd_from"]["channel_post"] == 9
    assert p.metrics.views is None and p.metrics.likes is None
    assert not p.is_official  # no page in the profile for this chat


def test_comment_in_discussion_chat_hangs_under_the_channel_post():
    disc_chat = {"id": -1000007654321, "username": None, "title": "Обсуждение", "broadcast": False}
    thread = {"chat_id": -1000001234567, "post_id": 77, "copy_id": 300, "username": "gorod_news"}
    direct = map_tg_item(item(comment(DISC, 301, "Опять!", reply_to=300), disc_chat, thread, "tg-admin"), KEY)
    assert direct.id == "tg:-1000007654321:301"
    assert direct.parent_id == "tg:-1000001234567:77"
    assert direct.thread_id == "tg:-1000001234567:77"
    assert direct.url == "https://t.me/gorod_news/77?comment=301"
    assert direct.page_id == "tg-admin" and not direct.is_official
    reply = comment(DISC, 302, "Согласен", reply_to=301, top=300, user=5002)
    nested = map_tg_item(item(reply, disc_chat, thread, "tg-admin"), KEY)
    assert nested.parent_id == "tg:-1000007654321:301"
    assert nested.thread_id == "tg:-1000001234567:77"
    assert nested.author_id != direct.author_id
    answer = comment(DISC, 303, "Ответ администрации", reply_to=301, top=300, from_channel=CHANNEL)
    assert map_tg_item(item(answer, disc_chat, thread, "tg-admin"), KEY).is_official


def test_reply_in_a_public_chat_links_parent_and_top():
    chat = {"id": -1000000005555, "username": "gorod_chat", "title": "Чат города", "broadcast": False}
    msg = comment(5555, 12, "А у нас тоже", reply_to=11, top=10)
    p = map_tg_item(item(msg, chat), KEY)
    assert p.parent_id == "tg:-1000000005555:11" and p.thread_id == "tg:-1000000005555:10"
    assert p.url == "https://t.me/gorod_chat/12"


def test_private_chat_without_username_gets_a_c_link():
    chat = {"id": -1000001234567, "username": None, "title": "Закрытый", "broadcast": True}
    assert map_tg_item(item(post(CHANNEL, 3, "x"), chat), KEY).url == "https://t.me/c/1234567/3"


def test_service_and_broken_messages_are_rejected_in_russian():
    with pytest.raises(ValueError, match="служебное"):
        map_tg_item(item(service(CHANNEL, 9)), KEY)
    raw = item(post(CHANNEL, 10, "текст"))
    raw["message"]["peer_id"] = None
    with pytest.raises(ValueError, match="отклонено"):
        map_tg_item(raw, KEY)
    raw = item(post(CHANNEL, 11, "текст"))
    raw["chat"] = dict(CHAT, id=-100999)
    with pytest.raises(ValueError, match="не совпадает"):
        map_tg_item(raw, KEY)
    with pytest.raises(ValueError):
        map_tg_item({"message": "нет"}, KEY)


def test_marked_ids_match_telethon():
    from telethon import utils

    for peer in (types.PeerChannel(1234567), types.PeerChat(42), types.PeerUser(7)):
        assert marked_peer_id(peer.to_dict()) == utils.get_peer_id(peer)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("@Gorod_News", "gorod_news"),
        ("gorod_news", "gorod_news"),
        ("https://t.me/gorod_news", "gorod_news"),
        ("t.me/s/gorod_news", "gorod_news"),
        ("-1001234567", -1001234567),
    ],
)
def test_parse_target_accepts_public_forms(value, expected):
    assert parse_target(value) == expected


@pytest.mark.parametrize("value", ["https://t.me/+AbCdEf", "https://t.me/joinchat/AbC", "две слова", "ab"])
def test_parse_target_refuses_invites_and_garbage(value):
    with pytest.raises(ValueError):
        parse_target(value)
