"""The detection step's incidents over a real store: a batch is attached as its posts one by one would be,
with one read and one write per incident; reposts and replies find incidents opened in the same batch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from crawlers.demo import DEMO_PROFILE_PATH
from index.models import Incident, Kind, Metrics, Post, Priority, Tone
from index.profile import load_profile
from index.sqlite import SqliteStore
from index.store import Page, PostQuery
from infopole.settings import Settings
from risk.incidents import PriorityTally, attach_post, incident_id_for
from risk.understand import Understander
from tests.factories import make_incident, make_post
from worker.pipeline import update_incidents
from worker.runtime import Runtime

NOW = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)


def runtime(path: Path) -> Runtime:
    return Runtime(
        Settings(env="development"),
        SqliteStore(path),
        load_profile(DEMO_PROFILE_PATH),
        cast(Understander, None),
        lambda: NOW,
    )


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    built = runtime(tmp_path / "incidents.sqlite3")
    yield built
    built.store.close()


def complaint(n: int, **extra: Any) -> Post:
    """Return complaint n about no hot water on the same street (one incident), from its own author."""
    values: dict[str, Any] = {
        "id": f"vk:-1_{n}",
        "author_id": f"author{n}",
        "published_at": NOW - timedelta(hours=3) + timedelta(minutes=2 * n),
        "text": "Третий день нет горячей воды на Ленина, когда дадут?",
        "sector": "ЖКХ",
        "topic": "Отсутствие горячей воды",
        "kind": Kind.complaint,
        "tone": Tone.negative,
        "territory": "centr",
        "metrics": Metrics(views=40 * n, likes=n),
    }
    values.update(extra)
    return make_post(**values)


def comparable(incident: Incident | None) -> dict[str, Any]:
    assert incident is not None
    return incident.model_dump(exclude={"version"})


def test_a_batch_is_attached_as_its_posts_one_by_one_with_one_write(tmp_path: Path) -> None:
    posts = [complaint(n) for n in range(60)]
    # A repost of a complaint of the same batch, published after it, goes to the same incident.
    posts.append(
        complaint(60, kind=Kind.information, duplicate_of=posts[3].id, published_at=posts[3].published_at)
    )
    target = incident_id_for(posts[0])
    one_by_one, batched = runtime(tmp_path / "a.sqlite3"), runtime(tmp_path / "b.sqlite3")
    writes: list[str] = []
    save = batched.store.save_incident

    def counting_save(incident: Incident, expected_version: int | None = None) -> Incident:
        writes.append(incident.id)
        return save(incident, expected_version)

    batched.store.save_incident = counting_save  # type: ignore[method-assign]
    alerts_one: list[str] = []
    for runtime_ in (one_by_one, batched):
        runtime_.store.upsert_posts(posts)
    for post in sorted(posts, key=lambda p: p.published_at):
        alerts_one += [a.id for a in update_incidents(one_by_one, [post], NOW)]
    alerts_batch = [a.id for a in update_incidents(batched, posts, NOW)]

    assert writes == [target]
    expected = one_by_one.store.get_incident(target)
    assert expected is not None and len(expected.post_ids) == 61
    assert comparable(batched.store.get_incident(target)) == comparable(expected)
    assert set(alerts_batch) == set(alerts_one)
    assert batched.store.find_incident_for_post(posts[60].id) is not None
    # A redelivered batch changes nothing and writes nothing.
    update_incidents(batched, posts, NOW)
    assert writes == [target]
    for runtime_ in (one_by_one, batched):
        runtime_.store.close()


def test_a_reply_in_the_batch_follows_an_answered_incident_its_parent_joins(rt: Runtime) -> None:
    opener = complaint(0)
    rt.store.upsert_posts([opener])
    update_incidents(rt, [opener], NOW)
    target = incident_id_for(opener)
    current = rt.store.get_incident(target)
    assert current is not None
    answered_at = opener.published_at + timedelta(minutes=5)
    rt.store.save_incident(
        current.model_copy(update={"first_answered_at": answered_at}), expected_version=current.version
    )
    again = complaint(10)  # after the answer: joins the answered incident
    reply = complaint(
        11, kind=Kind.information, tone=Tone.negative, parent_id=again.id, thread_id=again.id, sector=None
    )
    rt.store.upsert_posts([again, reply])
    update_incidents(rt, [reply, again], NOW)
    incident = rt.store.get_incident(target)
    assert incident is not None and incident.post_ids == [opener.id, again.id, reply.id]
    assert [r.post_id for r in incident.reactions][-1] == reply.id


def test_a_post_dropped_from_an_incident_is_no_longer_found_in_it(rt: Runtime) -> None:
    incident = rt.store.save_incident(make_incident(post_ids=["p1", "p2", "p3"]))
    rt.store.save_incident(
        incident.model_copy(update={"post_ids": ["p1", "p3", "p4"]}), expected_version=incident.version
    )
    assert rt.store.find_incident_for_post("p2") is None
    assert {rt.store.find_incident_for_post(p).id for p in ("p1", "p3", "p4")} == {incident.id}  # type: ignore[union-attr]


def test_a_critical_incident_takes_a_message_without_reading_its_messages(rt: Runtime) -> None:
    posts = [complaint(n) for n in range(12)]
    rt.store.upsert_posts(posts)
    update_incidents(rt, posts, NOW)
    current = rt.store.get_incident(incident_id_for(posts[0]))
    assert current is not None and current.priority == Priority.critical
    late = complaint(40)
    rt.store.upsert_posts([late])
    reads: list[PostQuery] = []
    query_posts = rt.store.query_posts

    def counting_query(query: PostQuery) -> Page[Post]:
        reads.append(query)
        return query_posts(query)

    rt.store.query_posts = counting_query  # type: ignore[method-assign]
    update_incidents(rt, [late], NOW)
    assert reads == []
    # The same as judging it over every attached message: a priority is only ever raised.
    judged = attach_post(current, late, rt.profile, NOW, tally=PriorityTally.of(posts))
    assert comparable(rt.store.get_incident(current.id)) == comparable(judged)
    assert judged.priority_basis is None  # a critical incident keeps none


def test_a_message_is_judged_on_the_incident_s_basis_not_on_every_message(rt: Runtime) -> None:
    posts = [complaint(n, author_id=f"a{n % 2}", metrics=Metrics()) for n in range(40)]
    rt.store.upsert_posts(posts)
    update_incidents(rt, posts, NOW)
    current = rt.store.get_incident(incident_id_for(posts[0]))
    assert current is not None and current.priority == Priority.normal
    basis = current.current_priority_basis()
    assert basis is not None and basis.author_posts == [posts[0].id, posts[1].id]
    reads: list[PostQuery] = []
    query_posts = rt.store.query_posts

    def counting_query(query: PostQuery) -> Page[Post]:
        reads.append(query)
        return query_posts(query)

    rt.store.query_posts = counting_query  # type: ignore[method-assign]
    late = complaint(41, author_id="a2", metrics=Metrics())
    rt.store.upsert_posts([late])
    update_incidents(rt, [late], NOW)
    # Only the two authors' messages were read, not the forty attached.
    assert [sorted(q.ids or []) for q in reads] == [sorted(basis.author_posts)]
    stored = rt.store.get_incident(current.id)
    assert stored is not None and stored.priority == Priority.high  # three authors
    assert stored.current_priority_basis() is not None
    # A basis that no longer describes the messages (changed elsewhere): the latest messages are read.
    rt.store.save_incident(
        stored.model_copy(update={"post_ids": stored.post_ids[1:]}), expected_version=stored.version
    )
    reads.clear()
    again = complaint(42, author_id="a0", metrics=Metrics())
    rt.store.upsert_posts([again])
    update_incidents(rt, [again], NOW)
    assert len(reads) == 1 and len(reads[0].ids or []) == 40
