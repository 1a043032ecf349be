"""The OK source against the loopback server: feeds by anchor, incremental comments, pages, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crawlers.base import Batch, CredentialsError
from crawlers.ok.mapping import map_ok_item
from crawlers.ok.source import OkSource, parse_group_ref
from index.models import SourceState
from tests.crawlers.ok.conftest import NOW, ok_profile
from tests.crawlers.ok.fake_ok import GROUP, OkWorld

KEY = b"test-key"
NOW_MS = int(NOW.timestamp() * 1000)


def run(source: OkSource, state: SourceState) -> list[Batch]:
    batches = list(source.poll(state))
    if batches:
        state.cursor = batches[-1].cursor
    return batches


def items(batches: list[Batch], kind: str) -> list[dict[str, Any]]:
    return [i for b in batches for i in b.items if i["_kind"] == kind]


def test_parse_group_ref() -> None:
    assert parse_group_ref(GROUP) == GROUP
    assert parse_group_ref(f"https://ok.ru/group/{GROUP}/") == GROUP
    assert parse_group_ref("https://ok.ru/testovsk.adm") == "testovsk.adm"


def test_first_run_reads_recent_topics_and_their_comments(make_ok_source: Callable[..., OkSource]) -> None:
    state = SourceState(name="ok")
    batches = run(make_ok_source(), state)
    topics = items(batches, "topic")
    comments = items(batches, "comment")
    assert [t["id"] for t in topics] == [
        "155000000000003",
        "155000000000002",
    ]  # the third is before the backfill
    assert all(t["_page_id"] == "ok-adm" and t["_relevance"] == "source" for t in topics)
    assert topics[0]["_author_name"] == "Администрация города Тестовска"
    assert [c["_topic_id"] for c in comments] == ["155000000000003"] * 3
    posts = [map_ok_item(i, KEY) for b in batches for i in b.items]
    assert {p.thread_id for p in posts} == {f"ok:{GROUP}_155000000000003", f"ok:{GROUP}_155000000000002"}
    assert state.cursor["groups"][GROUP] == 1709715600000
    assert state.cursor["topics"][f"{GROUP}_155000000000003"] == [3, 1709715600, "c:3"]


def test_rerun_reads_nothing_new_and_new_comments_come_from_the_anchor(
    make_ok_source: Callable[..., OkSource], ok_world: OkWorld
) -> None:
    state = SourceState(name="ok")
    run(make_ok_source(), state)
    again = run(make_ok_source(), state)
    assert not [i for b in again for i in b.items]
    assert len(ok_world.calls("discussions.getComments")) == 1  # counters unchanged: no comment reads
    ok_world.comments["155000000000003"].append(
        {
            "id": "NEW",
            "author_id": "580000000299",
            "author_type": "USER",
            "text": "Уже дали воду?",
            "date": "2024-03-06 12:59:00",
        }
    )
    ok_world.topics[GROUP][0]["discussion_summary"]["comments_count"] = 4
    fresh = run(make_ok_source(), state)
    assert [c["id"] for c in items(fresh, "comment")] == ["NEW"]
    assert ok_world.calls("discussions.getComments")[-1]["anchor"] == "c:3"


def test_long_feed_is_paged_by_anchor(make_ok_source: Callable[..., OkSource], ok_world: OkWorld) -> None:
    state = SourceState(name="ok")
    run(make_ok_source(), state)
    new = [
        {
            "id": f"1560000000{i:05d}",
            "created_ms": NOW_MS - i * 20_000,
            "owner_ref": f"group:{GROUP}",
            "author_ref": f"group:{GROUP}",
            "media": [{"type": "text", "text": f"Объявление {i}"}],
        }
        for i in range(120)
    ]
    ok_world.topics[GROUP] = new + ok_world.topics[GROUP]
    topics = items(run(make_ok_source(), state), "topic")
    assert len(topics) == 120 and len({t["id"] for t in topics}) == 120
    anchors = [p.get("anchor") for p in ok_world.calls("mediatopic.getTopics")[-3:]]
    assert anchors == [None, "t:50", "t:100"]
    assert state.cursor["groups"][GROUP] == NOW_MS


def test_short_names_are_resolved_once_and_unknown_ones_counted(
    make_ok_source: Callable[..., OkSource], ok_world: OkWorld
) -> None:
    profile = ok_profile(["https://ok.ru/testovsk.adm", "https://ok.ru/no.such.group"])
    state = SourceState(name="ok")
    batches = run(make_ok_source(profile), state)
    assert sum(b.errors.get("ok/300", 0) for b in batches) == 1
    assert state.cursor["resolved"] == {"testovsk.adm": GROUP}
    assert len(ok_world.calls("mediatopic.getTopics")) == 1  # the page and the listed group are one group
    run(make_ok_source(profile), state)
    assert len(ok_world.calls("url.getInfo")) == 3  # the known name is not asked again


def test_pages_metadata(make_ok_source: Callable[..., OkSource]) -> None:
    pages = make_ok_source().fetch_pages()
    assert [(p.id, p.followers) for p in pages] == [("ok-adm", 5120)]
    assert pages[0].contacts == "+7 (800) 000-00-01; https://adm.testovsk.example"
    assert pages[0].description == "Официальная группа администрации города Тестовска"


def test_wrong_secret_stops_the_run_with_a_credentials_error(make_ok_source: Callable[..., OkSource]) -> None:
    with pytest.raises(CredentialsError, match="PARAM_SIGNATURE"):
        run(make_ok_source(app_secret="wrong"), SourceState(name="ok"))
