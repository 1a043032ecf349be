"""The Store contract: every backend must pass these, written only against the Store protocol."""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from index.models import (
    AlertKind,
    AuditEntry,
    ChannelKind,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Incident,
    IncidentStatus,
    Kind,
    Metrics,
    NotifyChannel,
    OfficialPage,
    Place,
    PlanAction,
    PlanDecision,
    Post,
    SourceState,
    Subscription,
    Tone,
)
from index.store import (
    FACET_FIELDS,
    AlertingStore,
    AlertQuery,
    CountField,
    CountRow,
    DeliveryQuery,
    FacetField,
    IncidentQuery,
    NotFound,
    PostQuery,
    Store,
    VersionConflict,
)
from tests.factories import BASE_TIME, make_alert, make_incident, make_post

MSK = timezone(timedelta(hours=3))
FIELDS: tuple[CountField, ...] = ("sector", "territory", "source")
#: Every subset of the count fields, from () to all three.
SUBSETS: list[tuple[CountField, ...]] = [
    combo for size in range(4) for combo in itertools.combinations(FIELDS, size)
]


def _open_store(backend: str, tmp_path: Path) -> Store:
    """Return an empty store of `backend` (all backend-specific setup lives here)."""
    if backend == "sqlite":
        from index.sqlite import SqliteStore

        return SqliteStore(tmp_path / "contract.sqlite3")
    if backend == "elastic":
        # osmem-server started by the tests, or a real cluster at INFOPOLE_TEST_ES_URL; a fresh prefix.
        from tests.index.elastic_target import open_elastic_store

        return open_elastic_store()
    raise ValueError(f"unknown backend {backend}")


def _close_store(backend: str, store: Store) -> None:
    """Close a store and drop what a shared server keeps for it."""
    if backend == "elastic":
        from index.elastic import ElasticStore
        from tests.index.elastic_target import drop_store

        assert isinstance(store, ElasticStore)
        drop_store(store)
        return
    store.close()


@pytest.fixture(params=["sqlite", "elastic"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Return an empty store of each backend."""
    opened = _open_store(request.param, tmp_path)
    yield opened
    _close_store(request.param, opened)


def _hour(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _expected_counts(
    posts: list[Post], since: datetime, until: datetime, by: tuple[CountField, ...], bucket: str
) -> list[CountRow]:
    """Count posts the slow way: every hour overlapping [since, until), grouped like counts()."""
    counter: Counter[tuple[datetime, str | None, str | None, str | None]] = Counter()
    for post in posts:
        hour = _hour(post.published_at)
        if not (_hour(since) <= hour < until):
            continue
        start = hour if bucket == "hour" else hour.replace(hour=0)
        key = (
            start,
            post.sector if "sector" in by else None,
            post.territory if "territory" in by else None,
            post.source if "source" in by else None,
        )
        counter[key] += 1
    return [
        CountRow(bucket=b, count=n, sector=s, territory=t, source=src)
        for (b, s, t, src), n in counter.items()
    ]


def _sort_rows(rows: list[CountRow]) -> list[tuple[datetime, str, str, str, int]]:
    return sorted((r.bucket, r.sector or "", r.territory or "", r.source or "", r.count) for r in rows)


def _spread_posts() -> list[Post]:
    """Return 90 posts over three days with every sector/territory/source mix, some unset."""
    sectors = ["жкх", "дороги", None]
    territories = ["centr", "sever", None]
    sources = ["vk", "tg"]
    posts = []
    for i in range(90):
        posts.append(
            make_post(
                published_at=BASE_TIME + timedelta(minutes=47 * i),
                sector=sectors[i % 3],
                territory=territories[(i // 3) % 3],
                source=sources[(i // 9) % 2],
            )
        )
    return posts


# Protocol


def test_backend_implements_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)


# Posts: upsert


def test_upsert_is_idempotent_and_counts_new_ids(store: Store) -> None:
    posts = _spread_posts()
    since, until = BASE_TIME - timedelta(days=1), BASE_TIME + timedelta(days=5)
    assert store.upsert_posts(posts) == 90
    rollups = store.counts(since, until, by=("sector", "territory", "source"))
    assert store.upsert_posts(posts) == 0
    assert store.upsert_posts(posts[:10]) == 0
    assert store.count_posts(PostQuery()) == 90
    assert store.counts(since, until, by=("sector", "territory", "source")) == rollups
    assert sum(row.count for row in rollups) == 90
    assert store.get_post(posts[5].id) == posts[5]
    assert store.get_post("нет-такого") is None


def test_upsert_counts_a_repeated_id_in_one_batch_once(store: Store) -> None:
    post = make_post()
    newer = post.model_copy(update={"text": "Исправленный текст"})
    assert store.upsert_posts([post, newer]) == 1
    assert store.count_posts(PostQuery()) == 1
    assert store.upsert_posts([]) == 0


def test_replacement_moves_rollup_counts_and_full_text(store: Store) -> None:
    # Pinned time: the factory's default moves with every post made before, in any test of the run.
    post = make_post(
        sector="жкх", territory="centr", source="vk", published_at=BASE_TIME, lemmas="горячий вода"
    )
    other = make_post(
        sector="жкх", territory="centr", source="vk", published_at=post.published_at, lemmas="свет"
    )
    store.upsert_posts([post, other])
    since, until = BASE_TIME - timedelta(days=1), BASE_TIME + timedelta(days=3)
    by: tuple[CountField, ...] = ("sector", "territory", "source")
    assert [(r.bucket, r.count) for r in store.counts(since, until, by=by)] == [(_hour(post.published_at), 2)]

    later = post.published_at + timedelta(days=1)
    moved = post.model_copy(
        update={
            "sector": "дороги",
            "territory": "sever",
            "source": "tg",
            "published_at": later,
            "lemmas": "яма на дорога",
        }
    )
    assert store.upsert_posts([moved]) == 0
    rows = _sort_rows(store.counts(since, until, by=by))
    assert rows == [
        (_hour(post.published_at), "жкх", "centr", "vk", 1),
        (_hour(later), "дороги", "sever", "tg", 1),
    ]
    assert store.get_post(post.id) == moved
    assert store.count_posts(PostQuery(text="яма")) == 1
    assert store.count_posts(PostQuery(text="горячий")) == 0

    # Moving the other post away too empties the old cell; it must not show up with count 0.
    store.upsert_posts([other.model_copy(update={"sector": "дороги"})])
    rows = _sort_rows(store.counts(since, until, by=("sector",)))
    assert rows == [(_hour(post.published_at), "дороги", "", "", 1), (_hour(later), "дороги", "", "", 1)]


# Posts: queries


@pytest.fixture
def varied(store: Store) -> list[Post]:
    """Store 12 posts that differ in every filtered field and return them."""
    posts = []
    for i in range(12):
        posts.append(
            make_post(
                published_at=BASE_TIME + timedelta(hours=i),
                sector=["жкх", "дороги", "транспорт"][i % 3],
                territory=["centr", "sever"][i % 2],
                source=["vk", "tg", "ok"][(i // 2) % 3],
                kind=[Kind.complaint, Kind.question][i % 2],
                tone=[Tone.negative, Tone.neutral, Tone.positive][(i // 3) % 3],
                page_id="vk-admin" if i < 4 else None,
                thread_id="thread-a" if i % 4 == 0 else f"thread-{i}",
                story_id="story-1" if i in (2, 3, 5) else None,
            )
        )
    store.upsert_posts(posts)
    return posts


def _ids(posts: list[Post]) -> list[str]:
    return [post.id for post in posts]


def _newest_first(posts: list[Post]) -> list[str]:
    return _ids(sorted(posts, key=lambda p: (p.published_at, p.id), reverse=True))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sector", "жкх"),
        ("territory", "sever"),
        ("source", "tg"),
        ("kind", "question"),
        ("tone", "positive"),
        ("page_id", "vk-admin"),
        ("thread_id", "thread-a"),
        ("story_id", "story-1"),
    ],
)
def test_query_filters_each_field(store: Store, varied: list[Post], field: str, value: str) -> None:
    expected = [p for p in varied if str(getattr(p, field)) == value]
    assert expected, "the fixture must cover the value"
    filters: dict[str, Any] = {field: value}
    page = store.query_posts(PostQuery(**filters, limit=100))
    assert _ids(page.items) == _newest_first(expected)
    assert page.total == len(expected)
    assert store.count_posts(PostQuery(**filters)) == len(expected)


def test_query_time_window_is_since_inclusive_until_exclusive(store: Store, varied: list[Post]) -> None:
    since, until = BASE_TIME + timedelta(hours=3), BASE_TIME + timedelta(hours=7)
    page = store.query_posts(PostQuery(since=since, until=until))
    assert _ids(page.items) == _newest_first(varied[3:7])
    # The same window given in Moscow time selects the same posts.
    page_msk = store.query_posts(PostQuery(since=since.astimezone(MSK), until=until.astimezone(MSK)))
    assert _ids(page_msk.items) == _ids(page.items)


def test_query_combined_filters_and_ids(store: Store, varied: list[Post]) -> None:
    query = PostQuery(sector="жкх", territory="centr", since=BASE_TIME + timedelta(hours=1))
    expected = [
        p
        for p in varied
        if p.sector == "жкх" and p.territory == "centr" and p.published_at >= BASE_TIME + timedelta(hours=1)
    ]
    assert _ids(store.query_posts(query).items) == _newest_first(expected)
    chosen = [varied[1].id, varied[4].id, varied[9].id, "нет-такого"]
    page = store.query_posts(PostQuery(ids=chosen, source="tg"))
    assert _ids(page.items) == _newest_first([p for p in varied if p.id in chosen and p.source == "tg"])


def test_query_paging_order_and_total(store: Store, varied: list[Post]) -> None:
    everything = _newest_first(varied)
    first = store.query_posts(PostQuery(limit=5))
    second = store.query_posts(PostQuery(limit=5, offset=5))
    last = store.query_posts(PostQuery(limit=5, offset=10))
    assert first.total == second.total == last.total == 12
    assert _ids(first.items) + _ids(second.items) + _ids(last.items) == everything
    oldest = store.query_posts(PostQuery(newest_first=False, limit=3))
    assert _ids(oldest.items) == list(reversed(everything))[:3]
    assert store.query_posts(PostQuery(limit=5, offset=50)).items == []
    assert store.count_posts(PostQuery(limit=1, offset=3)) == 12


def _facet_value(post: Post, name: str) -> str | bool | None:
    value = getattr(post, name)
    return value if value is None or isinstance(value, bool) else str(value)


@pytest.mark.parametrize(
    "by",
    [(), ("kind",), ("tone", "sector"), ("sector", "topic"), ("story_id", "is_official"), FACET_FIELDS],
)
def test_post_facets_count_every_combination(
    store: Store, varied: list[Post], by: tuple[FacetField, ...]
) -> None:
    official = make_post(
        published_at=BASE_TIME + timedelta(hours=5, minutes=30),
        sector="жкх",
        is_official=True,
        topic="отопление",
    )
    store.upsert_posts([official])
    posts = [*varied, official]
    since = BASE_TIME + timedelta(hours=1)
    query = PostQuery(since=since, sector="жкх", limit=1, offset=3)
    expected = Counter(
        tuple(_facet_value(p, name) for name in by)
        for p in posts
        if p.published_at >= since and p.sector == "жкх"
    )
    rows = store.post_facets(query, by)
    got = Counter({tuple(row.values[name] for name in by): row.count for row in rows})
    assert got == expected
    assert all(set(row.values) == set(by) for row in rows)
    assert store.post_facets(PostQuery(sector="нет-такого"), by) == []


def test_post_facets_reject_an_unknown_field(store: Store) -> None:
    with pytest.raises(ValueError, match="нельзя группировать"):
        store.post_facets(PostQuery(), ["text"])  # type: ignore[list-item]


def test_full_text_over_russian_lemmas(store: Store) -> None:
    water = make_post(lemmas="нет горячий вода на улица ленин")
    pit = make_post(lemmas="огромный яма на дорога улица советский")
    tree = make_post(lemmas="новогодний ёлка на площадь")
    store.upsert_posts([water, pit, tree])

    def found(text: str) -> set[str]:
        return {p.id for p in store.query_posts(PostQuery(text=text, limit=10)).items}

    assert found("вода") == {water.id}
    assert found("улица") == {water.id, pit.id}
    assert found("улица яма") == {pit.id}  # every word must match
    assert found("Горячий  ВОДА") == {water.id}
    assert found("елка") == {tree.id}  # ё = е
    assert found("ёлка") == {tree.id}
    assert found("вода, яма!") == set()
    assert store.count_posts(PostQuery(text="улица", sector=water.sector)) == 1


def test_full_text_total_is_capped_beyond_total_cap(store: Store) -> None:
    water = [
        make_post(published_at=BASE_TIME + timedelta(minutes=7 * i), lemmas=f"нет вода дом {i}")
        for i in range(12)
    ]
    pits = [make_post(published_at=BASE_TIME + timedelta(minutes=5 * i), lemmas="яма дом") for i in range(3)]
    store.upsert_posts([*water, *pits])
    newest_water = _newest_first(water)

    capped = store.query_posts(PostQuery(text="вода", limit=4, total_cap=5))
    assert (capped.total, capped.total_exact) == (5, False)  # a lower bound: more than 5 match
    assert _ids(capped.items) == newest_water[:4]  # the page itself is exact
    later = store.query_posts(PostQuery(text="вода", limit=4, offset=8, total_cap=5))
    assert _ids(later.items) == newest_water[8:12]
    oldest = store.query_posts(PostQuery(text="вода", limit=3, total_cap=5, newest_first=False))
    assert _ids(oldest.items) == list(reversed(newest_water))[:3]
    sliced = store.query_posts(PostQuery(text="вода", since=water[9].published_at, limit=10, total_cap=5))
    assert (sliced.total, sliced.total_exact) == (3, True)  # fewer than the cap: exact
    assert _ids(sliced.items) == newest_water[:3]
    few = store.query_posts(PostQuery(text="яма", limit=10, total_cap=5))
    assert (few.total, few.total_exact) == (3, True)
    at_cap = store.query_posts(PostQuery(text="яма", limit=10, total_cap=3))
    assert (at_cap.total, at_cap.total_exact) == (3, True)
    exact = store.query_posts(PostQuery(text="вода", limit=4))
    assert (exact.total, exact.total_exact) == (12, True)  # no cap: always exact
    assert store.count_posts(PostQuery(text="вода", total_cap=5)) == 12


@pytest.mark.parametrize(
    "text",
    ['"', "вода OR яма", "вода AND", "NEAR(вода", "вода*", "-вода", "(", "^вода", "вода:1", "col:вода", "'"],
)
def test_full_text_never_fails_on_user_syntax(store: Store, text: str) -> None:
    store.upsert_posts([make_post(lemmas="нет горячий вода")])
    page = store.query_posts(PostQuery(text=text))
    assert page.total == len(page.items) <= 1


def test_text_without_words_filters_nothing(store: Store) -> None:
    store.upsert_posts([make_post(), make_post()])
    assert store.count_posts(PostQuery(text=" !? ")) == 2


# Posts: counts


@pytest.mark.parametrize("by", SUBSETS)
@pytest.mark.parametrize("bucket", ["hour", "day"])
def test_counts_by_every_subset_of_fields(store: Store, by: tuple[CountField, ...], bucket: str) -> None:
    posts = _spread_posts()
    store.upsert_posts(posts)
    since, until = BASE_TIME + timedelta(hours=5, minutes=30), BASE_TIME + timedelta(days=2, hours=3)
    rows = store.counts(since, until, by=by, bucket=bucket)  # type: ignore[arg-type]
    assert _sort_rows(rows) == _sort_rows(_expected_counts(posts, since, until, by, bucket))
    assert [(r.bucket, r.sector or "", r.territory or "", r.source or "") for r in rows] == [
        row[:4] for row in _sort_rows(rows)
    ], "rows come sorted by bucket then fields"
    assert all(r.bucket.tzinfo is not None and r.bucket.utcoffset() == timedelta(0) for r in rows)
    assert all(r.count > 0 for r in rows)


def test_counts_stay_exact_after_replacements(store: Store) -> None:
    posts = _spread_posts()
    store.upsert_posts(posts)
    rng = random.Random(5)
    replaced = [
        post.model_copy(
            update={
                "sector": rng.choice(["жкх", "транспорт", None]),
                "territory": rng.choice(["centr", "yug", None]),
                "source": rng.choice(["vk", "ok"]),
                "published_at": post.published_at + timedelta(minutes=rng.randint(-2000, 2000)),
            }
        )
        for post in posts[::3]
    ]
    assert store.upsert_posts(replaced) == 0
    current = list(({p.id: p for p in posts} | {p.id: p for p in replaced}).values())
    since, until = BASE_TIME - timedelta(days=2), BASE_TIME + timedelta(days=5)
    for by in SUBSETS:
        for bucket in ("hour", "day"):
            rows = store.counts(since, until, by=by, bucket=bucket)
            expected = _expected_counts(current, since, until, by, bucket)
            assert _sort_rows(rows) == _sort_rows(expected), (by, bucket)


def test_counts_accept_non_utc_bounds_and_empty_windows(store: Store) -> None:
    posts = _spread_posts()
    store.upsert_posts(posts)
    since, until = BASE_TIME, BASE_TIME + timedelta(days=1)
    assert store.counts(since.astimezone(MSK), until.astimezone(MSK)) == store.counts(since, until)
    assert store.counts(BASE_TIME - timedelta(days=9), BASE_TIME - timedelta(days=8)) == []


# Retention


def test_delete_posts_before_drops_old_posts_with_their_counts(store: Store) -> None:
    # 90 posts over three days plus posts in two earlier months, so whole months and a partial one go.
    posts = _spread_posts()
    old = [
        make_post(published_at=BASE_TIME - timedelta(days=days), sector="жкх", lemmas="старый пост")
        for days in (70, 40, 35)
    ]
    store.upsert_posts(posts + old)
    cutoff = BASE_TIME + timedelta(days=1, minutes=17)
    kept = [p for p in posts if p.published_at >= cutoff]
    assert store.delete_posts_before(cutoff) == len(posts) - len(kept) + len(old)
    assert store.count_posts(PostQuery()) == len(kept)
    assert store.get_post(old[0].id) is None
    assert store.count_posts(PostQuery(text="старый")) == 0
    since, until = BASE_TIME - timedelta(days=80), BASE_TIME + timedelta(days=5)
    for by in SUBSETS:
        rows = store.counts(since, until, by=by, bucket="hour")
        assert _sort_rows(rows) == _sort_rows(_expected_counts(kept, since, until, by, "hour")), by
    assert store.delete_posts_before(cutoff) == 0
    # Re-collecting a deleted post counts it as new again.
    assert store.upsert_posts([posts[0]]) == 1


# Incidents


def test_incident_create_update_and_conflicts(store: Store) -> None:
    incident = make_incident(post_ids=["p1"])
    created = store.save_incident(incident)
    assert created.version == 1
    assert store.get_incident(incident.id) == created
    with pytest.raises(VersionConflict):
        store.save_incident(incident)

    assigned = created.model_copy(update={"status": IncidentStatus.assigned, "recipient": "uk-2"})
    updated = store.save_incident(assigned, expected_version=1)
    assert updated.version == 2
    assert store.get_incident(incident.id) == updated
    with pytest.raises(VersionConflict):
        store.save_incident(assigned, expected_version=1)
    with pytest.raises(VersionConflict):
        store.save_incident(make_incident(), expected_version=3)
    assert store.get_incident(incident.id) == updated
    assert store.get_incident("нет-такого") is None


def test_two_writers_with_the_same_version_exactly_one_wins(store: Store) -> None:
    created = store.save_incident(make_incident())
    barrier = threading.Barrier(2)
    results: list[str] = []

    def write(actor: str) -> None:
        entry = AuditEntry(at=BASE_TIME, actor=actor, action="назначен")
        changed = created.model_copy(update={"recipient": actor, "audit": [entry]})
        barrier.wait()
        try:
            store.save_incident(changed, expected_version=created.version)
            results.append(actor)
        except VersionConflict:
            results.append("conflict")

    threads = [threading.Thread(target=write, args=(name,)) for name in ("первый", "второй")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results.count("conflict") == 1
    winner = next(r for r in results if r != "conflict")
    stored = store.get_incident(created.id)
    assert stored is not None and stored.version == 2 and stored.recipient == winner


def test_find_incident_for_post_follows_post_ids(store: Store) -> None:
    first = store.save_incident(make_incident(post_ids=["p1", "p2"]))
    assert store.find_incident_for_post("p1") == first
    assert store.find_incident_for_post("p3") is None

    first = store.save_incident(first.model_copy(update={"post_ids": ["p1", "p3"]}), expected_version=1)
    assert store.find_incident_for_post("p3") == first
    assert store.find_incident_for_post("p2") is None

    second = store.save_incident(make_incident(post_ids=["p4"]))
    assert store.find_incident_for_post("p4") == second
    assert store.find_incident_for_post("p1") == first


def test_query_incidents_filters_and_paging(store: Store) -> None:
    a = store.save_incident(make_incident(created_at=BASE_TIME, recipient="uk-1", sector="жкх"))
    b = store.save_incident(
        make_incident(created_at=BASE_TIME + timedelta(hours=1), recipient="uk-2", territory="sever")
    )
    c = store.save_incident(
        make_incident(
            created_at=BASE_TIME + timedelta(hours=2),
            recipient="uk-1",
            sector="дороги",
            status=IncidentStatus.closed,
        )
    )
    page = store.query_incidents(IncidentQuery())
    assert [i.id for i in page.items] == [c.id, b.id, a.id] and page.total == 3
    assert [i.id for i in store.query_incidents(IncidentQuery(recipient="uk-1")).items] == [c.id, a.id]
    assert [i.id for i in store.query_incidents(IncidentQuery(sector="жкх")).items] == [b.id, a.id]
    assert [i.id for i in store.query_incidents(IncidentQuery(territory="sever")).items] == [b.id]
    statuses = [IncidentStatus.new, IncidentStatus.assigned]
    assert [i.id for i in store.query_incidents(IncidentQuery(status=statuses)).items] == [b.id, a.id]
    window = IncidentQuery(since=BASE_TIME + timedelta(hours=1), until=BASE_TIME + timedelta(hours=2))
    assert [i.id for i in store.query_incidents(window).items] == [b.id]
    second = store.query_incidents(IncidentQuery(limit=1, offset=1))
    assert [i.id for i in second.items] == [b.id] and second.total == 3


def test_overdue_filter_uses_the_deadline_of_the_status(store: Store) -> None:
    now = BASE_TIME + timedelta(days=10)
    past, future = now - timedelta(hours=1), now + timedelta(hours=1)

    def save(status: IncidentStatus, first: datetime | None, final: datetime | None) -> str:
        incident = make_incident(status=status, first_answer_due=first, final_answer_due=final)
        return store.save_incident(incident).id

    overdue = {
        save(IncidentStatus.new, past, future),
        save(IncidentStatus.assigned, past, future),
        save(IncidentStatus.interim, future, past),
    }
    save(IncidentStatus.new, future, past)  # first answer not yet due
    save(IncidentStatus.new, None, None)  # no deadline
    save(IncidentStatus.interim, past, future)  # first answer given; final not yet due
    save(IncidentStatus.final, past, past)
    save(IncidentStatus.closed, past, past)
    page = store.query_incidents(IncidentQuery(overdue_at=now, limit=100))
    assert {i.id for i in page.items} == overdue and page.total == 3
    assert store.query_incidents(IncidentQuery(overdue_at=past - timedelta(days=100))).total == 0


def _stepped(incident: Incident, rules: str, at: datetime | None) -> Incident:
    """Return the incident with its next escalation step worked out under `rules` for its present state."""
    return incident.with_step_plan(rules, at)


def test_step_due_filter_reads_only_open_incidents_with_a_step_due_or_not_worked_out(store: Store) -> None:
    now = BASE_TIME + timedelta(days=10)
    past, future = now - timedelta(hours=1), now + timedelta(hours=1)

    def save(incident: Incident) -> str:
        return store.save_incident(incident).id

    due = {
        save(_stepped(make_incident(), "r1", past)),  # due
        save(_stepped(make_incident(), "r1", now)),  # due at this very moment
        save(make_incident()),  # never worked out
        save(_stepped(make_incident(status=IncidentStatus.interim), "r0", future)),  # under other rules
    }
    save(_stepped(make_incident(), "r1", future))  # ahead
    save(_stepped(make_incident(), "r1", None))  # no step left
    save(_stepped(make_incident(status=IncidentStatus.closed), "r1", past))  # closed: never
    save(make_incident(status=IncidentStatus.final))  # answered: never
    # Worked out, then changed by a writer that knows nothing of escalation: not worked out any more.
    ahead = _stepped(make_incident(), "r1", future)
    changed = ahead.model_copy(update={"escalation_level": 2})
    due.add(save(changed))
    query = IncidentQuery(step_due_at=now, step_rules="r1", limit=100)
    page = store.query_incidents(query)
    assert {i.id for i in page.items} == due and page.total == len(due)
    assert [i.next_step_basis for i in page.items if i.id == changed.id] == [changed.next_step_basis]
    # Combined with other filters and paged.
    first = store.query_incidents(IncidentQuery(step_due_at=now, step_rules="r1", limit=2))
    rest = store.query_incidents(IncidentQuery(step_due_at=now, step_rules="r1", limit=10, offset=2))
    assert {i.id for i in [*first.items, *rest.items]} == due and first.total == len(due)
    only_interim = IncidentQuery(step_due_at=now, step_rules="r1", status=[IncidentStatus.interim])
    assert store.query_incidents(only_interim).total == 1
    # Writing the step back (same state) takes the incident out until it falls due.
    stored = store.get_incident(changed.id)
    assert stored is not None
    store.save_incident(_stepped(stored, "r1", future), expected_version=stored.version)
    assert store.query_incidents(query).total == len(due) - 1
    later = IncidentQuery(step_due_at=future, step_rules="r1", limit=100)
    assert changed.id in {i.id for i in store.query_incidents(later).items}


# Alerts


def test_alerts_dedup_by_id(store: Store) -> None:
    alert = make_alert()
    assert store.add_alert(alert) is True
    assert store.add_alert(alert.model_copy(update={"title": "Другой заголовок"})) is False
    assert store.get_alert(alert.id) == alert
    assert store.get_alert("нет-такого") is None


def test_acknowledge_first_wins_and_missing_raises(store: Store) -> None:
    alert = make_alert()
    store.add_alert(alert)
    first = store.acknowledge_alert(alert.id, by="глава", at=BASE_TIME.astimezone(MSK))
    assert first.acknowledged_by == "глава"
    assert first.acknowledged_at == BASE_TIME and first.acknowledged_at.utcoffset() == timedelta(0)
    again = store.acknowledge_alert(alert.id, by="аналитик", at=BASE_TIME + timedelta(hours=1))
    assert again == first
    assert store.get_alert(alert.id) == first
    with pytest.raises(NotFound):
        store.acknowledge_alert("нет-такого", by="глава", at=BASE_TIME)


def test_query_alerts_filters(store: Store) -> None:
    spike = make_alert(kind=AlertKind.spike, created_at=BASE_TIME)
    conflict = make_alert(kind=AlertKind.conflict, created_at=BASE_TIME + timedelta(hours=1))
    overdue = make_alert(kind=AlertKind.overdue, created_at=BASE_TIME + timedelta(hours=2))
    for alert in (spike, conflict, overdue):
        store.add_alert(alert)
    store.acknowledge_alert(conflict.id, by="глава", at=BASE_TIME + timedelta(hours=3))

    def ids(query: AlertQuery) -> list[str]:
        return [a.id for a in store.query_alerts(query).items]

    assert ids(AlertQuery()) == [overdue.id, conflict.id, spike.id]
    assert ids(AlertQuery(kind=[AlertKind.spike, AlertKind.overdue])) == [overdue.id, spike.id]
    assert ids(AlertQuery(acknowledged=True)) == [conflict.id]
    assert ids(AlertQuery(acknowledged=False)) == [overdue.id, spike.id]
    assert ids(AlertQuery(since=BASE_TIME + timedelta(hours=1))) == [overdue.id, conflict.id]
    page = store.query_alerts(AlertQuery(limit=1, offset=1))
    assert [a.id for a in page.items] == [conflict.id] and page.total == 3


# Sources and pages


def test_source_state_round_trip_and_replace(store: Store) -> None:
    assert store.get_source_state("vk:wall:-1") is None
    state = SourceState(
        name="vk:wall:-1",
        cursor={"offset": 100, "last_id": "123"},
        last_success_at=BASE_TIME.astimezone(MSK),
        errors={"timeout": 2},
        items_total=40,
        items_last_run=5,
    )
    store.save_source_state(state)
    got = store.get_source_state(state.name)
    assert got == state
    assert got is not None and got.last_success_at is not None
    assert got.last_success_at == BASE_TIME
    replaced = state.model_copy(update={"items_total": 45, "last_error": "Ошибка 6: слишком много запросов"})
    store.save_source_state(replaced)
    store.save_source_state(SourceState(name="tg:channel:foo"))
    assert store.list_source_states() == [SourceState(name="tg:channel:foo"), replaced]


def test_pages_round_trip_and_replace(store: Store) -> None:
    admin = OfficialPage(id="vk-admin", network="vk", name="Администрация города", url="https://vk.com/adm")
    school = OfficialPage(id="ok-school", network="ok", name="Школа № 1", url="https://ok.ru/school1")
    store.save_pages([admin, school])
    assert sorted(store.list_pages(), key=lambda p: p.id) == [school, admin]
    renamed = admin.model_copy(update={"name": "Администрация округа", "followers": 1200})
    store.save_pages([renamed])
    assert sorted(store.list_pages(), key=lambda p: p.id) == [school, renamed]


def test_plan_decisions_replace_by_slot_and_list_by_week(store: Store) -> None:
    moved = PlanDecision(
        slot_id="slot-b",
        week="2024-03-11",
        page_id="vk-admin",
        action=PlanAction.move,
        moved_to=datetime(2024, 3, 12, 19, 0, tzinfo=MSK),
        by="info_lead#0001",
        at=BASE_TIME,
    )
    accepted = PlanDecision(
        slot_id="slot-a",
        week="2024-03-11",
        page_id="vk-admin",
        action=PlanAction.accept,
        suggestion_id="sugg-1",
        title="Отключения горячей воды: что известно",
        by="info_lead#0001",
        at=BASE_TIME,
    )
    other_week = PlanDecision(
        slot_id="slot-c", week="2024-03-18", page_id="ok-admin", action=PlanAction.drop, by="head#0002"
    )
    for decision in (moved, accepted, other_week):
        store.save_plan_decision(decision)
    assert store.list_plan_decisions("2024-03-11") == [accepted, moved]
    assert store.list_plan_decisions("2024-03-25") == []
    assert store.list_plan_decisions("2024-03-11")[1].moved_to == datetime(2024, 3, 12, 16, 0, tzinfo=UTC)
    dropped = moved.model_copy(update={"action": PlanAction.drop, "moved_to": None, "comment": "неактуально"})
    store.save_plan_decision(dropped)
    assert store.list_plan_decisions("2024-03-11") == [accepted, dropped]
    assert store.list_plan_decisions("2024-03-18") == [other_week]


# Datetimes and rich fields


def test_datetimes_round_trip_as_aware_utc(store: Store) -> None:
    moment = datetime(2024, 3, 4, 13, 15, 30, 250000, tzinfo=MSK)
    post = make_post(published_at=moment, collected_at=moment)
    store.upsert_posts([post])
    got = store.get_post(post.id)
    assert got is not None
    assert got.published_at == moment and got.published_at.utcoffset() == timedelta(0)
    assert got.collected_at.utcoffset() == timedelta(0)

    incident = store.save_incident(make_incident(created_at=moment, first_answer_due=moment))
    stored = store.get_incident(incident.id)
    assert stored is not None and stored.created_at == moment
    assert stored.created_at.utcoffset() == timedelta(0)
    assert stored.first_answer_due is not None and stored.first_answer_due.utcoffset() == timedelta(0)

    store.add_alert(make_alert(id="a-msk", created_at=moment, event_at=moment))
    alert = store.get_alert("a-msk")
    assert alert is not None and alert.created_at == moment and alert.created_at.utcoffset() == timedelta(0)


def test_post_round_trips_every_field(store: Store) -> None:
    post = make_post(
        raw={"id": 5, "text": "Текст", "attachments": [{"type": "photo"}]},
        parent_id="vk:-1_1",
        metrics=Metrics(views=100, likes=3),
        places=[Place(level="street", name="улица Ленина", territory="centr", span=(10, 22))],
        aggression_markers=["позор"],
        needs_review=True,
        tone_score=-0.7,
    )
    store.upsert_posts([post])
    assert store.get_post(post.id) == post


# Forgetting one person (infopole forget)


def test_forget_author_deletes_posts_and_cleans_incidents_and_alerts(store: Store) -> None:
    from index.forgetting import FORGET_ACTOR, FORGOTTEN
    from index.store import ForgetsAuthors

    assert isinstance(store, ForgetsAuthors), f"{type(store).__name__} does not implement forget_author"
    theirs = [
        make_post(
            author_id="p-forget",
            author_name="Мария Сидорова",
            text="Мой телефон 8 900 111-22-33, яма у дома",
            published_at=BASE_TIME,
        )
        for _ in range(2)
    ]
    other = make_post(author_id="p-keep", author_name="Пётр Иванов", lemmas="яма дом", published_at=BASE_TIME)
    store.upsert_posts([*theirs, other])
    audit = [AuditEntry(at=BASE_TIME, actor="head#1", action="comment", detail="звонила Мария Сидорова")]
    incident = store.save_incident(make_incident(post_ids=[theirs[0].id, other.id], audit=audit))
    untouched = store.save_incident(make_incident(post_ids=[other.id]))
    examples = [{"id": theirs[1].id, "text": theirs[1].text, "url": None}, {"id": other.id, "text": "x"}]
    alert = make_alert(
        post_ids=[theirs[1].id, other.id],
        text=f"Всплеск.\n— {theirs[1].text}",
        details={"examples": examples, "authors": 2},
    )
    store.add_alert(alert)
    since, until = BASE_TIME - timedelta(days=1), BASE_TIME + timedelta(days=2)
    before = sum(r.count for r in store.counts(since, until))

    forgotten = store.forget_author("p-forget", BASE_TIME + timedelta(days=1))

    assert sorted(p.id for p in forgotten) == sorted(p.id for p in theirs)
    assert all(store.get_post(p.id) is None for p in theirs)
    assert store.get_post(other.id) is not None
    assert store.count_posts(PostQuery()) == 1
    assert sum(r.count for r in store.counts(since, until)) == before - 2
    cleaned = store.get_incident(incident.id)
    assert cleaned is not None and cleaned.post_ids == [other.id]
    assert cleaned.version == incident.version + 1
    assert cleaned.audit[0].detail == f"звонила {FORGOTTEN}"
    assert cleaned.audit[-1].actor == FORGET_ACTOR and "Мария" not in cleaned.audit[-1].detail
    assert store.find_incident_for_post(theirs[0].id) is None
    assert store.get_incident(untouched.id) == untouched
    stored_alert = store.get_alert(alert.id)
    assert stored_alert is not None and stored_alert.post_ids == [other.id]
    assert "8 900" not in stored_alert.model_dump_json()
    assert stored_alert.details["examples"] == [{"id": other.id, "text": "x"}]
    assert stored_alert.text == "Всплеск."
    # Idempotent, and an unknown or empty author forgets nothing.
    assert store.forget_author("p-forget", BASE_TIME) == []
    assert store.forget_author("", BASE_TIME) == []
    assert store.count_posts(PostQuery()) == 1


# Alerting: grouped incident writes, subscriptions, the delivery log (index.store.AlertingStore)


def _alerting(store: Store) -> AlertingStore:
    """Return the store as an AlertingStore; every backend must implement it."""
    assert isinstance(store, AlertingStore), f"{type(store).__name__} does not implement AlertingStore"
    return store


def test_save_incidents_writes_all_or_nothing(store: Store) -> None:
    alerting = _alerting(store)
    a = store.save_incident(make_incident(post_ids=["p1", "p2"]))
    b = store.save_incident(make_incident(post_ids=["p3"]))
    # Merge b into a: a takes every post, b is emptied; both in one call.
    merged, emptied = alerting.save_incidents(
        [
            (b.model_copy(update={"post_ids": [], "status": IncidentStatus.closed}), b.version),
            (a.model_copy(update={"post_ids": ["p1", "p2", "p3"]}), a.version),
        ]
    )
    assert (merged.version, emptied.version) == (2, 2)
    found = store.find_incident_for_post("p3")
    assert found is not None and found.id == a.id
    # One stale version: nothing is written.
    fresh = make_incident(post_ids=["p9"])
    with pytest.raises(VersionConflict):
        alerting.save_incidents([(fresh, None), (a.model_copy(update={"title": "устарело"}), a.version)])
    assert store.get_incident(fresh.id) is None
    stored = store.get_incident(a.id)
    assert stored is not None and stored.version == 2 and stored.title == a.title


def test_subscriptions_round_trip_replace_and_delete(store: Store) -> None:
    alerting = _alerting(store)
    sub = Subscription(
        id="head",
        name="Глава МЦУ",
        channels=[
            NotifyChannel(kind=ChannelKind.telegram, address="100500"),
            NotifyChannel(kind=ChannelKind.webhook, address="https://hook.example/x", secret="k"),
        ],
        kinds=[AlertKind.spike, AlertKind.conflict],
        min_severity=6,
        sectors=["ЖКХ"],
        territories=["centr"],
        quiet_from=time(22, 0),
        quiet_to=time(8, 0),
        timezone="Asia/Yekaterinburg",
        created_at=datetime(2024, 3, 4, 13, 0, tzinfo=MSK),
    )
    alerting.save_subscription(sub)
    alerting.save_subscription(Subscription(id="analyst", name="Аналитик"))
    assert alerting.get_subscription("head") == sub
    assert alerting.get_subscription("head").created_at.tzinfo is not None  # type: ignore[union-attr]
    assert [s.id for s in alerting.list_subscriptions()] == ["analyst", "head"]
    alerting.save_subscription(sub.model_copy(update={"min_severity": 8}))
    got = alerting.get_subscription("head")
    assert got is not None and got.min_severity == 8
    assert alerting.delete_subscription("head") is True
    assert alerting.delete_subscription("head") is False
    assert alerting.get_subscription("head") is None
    assert alerting.get_subscription("nope") is None


def _delivery(n: int, **extra: Any) -> Delivery:
    values: dict[str, Any] = {
        "id": f"d{n}",
        "alert_id": f"a{n % 3}",
        "subscription_id": "head" if n % 2 else "analyst",
        "channel": ChannelKind.telegram,
        "address": "100500",
        "destination": "telegram:100500",
        "seq": 1_000 + (7 * n) % 10,
        "created_at": BASE_TIME + timedelta(seconds=n),
    }
    values.update(extra)
    return Delivery(**values)


def test_deliveries_add_is_idempotent_and_save_replaces(store: Store) -> None:
    alerting = _alerting(store)
    first = _delivery(1)
    assert alerting.add_delivery(first) is True
    assert alerting.add_delivery(first.model_copy(update={"note": "второй раз"})) is False
    assert alerting.get_delivery("d1") == first
    failed = first.model_copy(
        update={
            "attempts": [DeliveryAttempt(at=BASE_TIME, ok=False, error="503")],
            "last_error": "503",
            "next_attempt_at": BASE_TIME + timedelta(minutes=1),
        }
    )
    alerting.save_delivery(failed)
    assert alerting.get_delivery("d1") == failed
    sent = failed.model_copy(update={"status": DeliveryStatus.sent, "sent_at": BASE_TIME})
    alerting.save_delivery(sent)
    page = alerting.query_deliveries(DeliveryQuery(status=[DeliveryStatus.sent]))
    assert [d.id for d in page.items] == ["d1"] and page.total == 1
    assert alerting.query_deliveries(DeliveryQuery(status=[DeliveryStatus.pending])).total == 0
    assert alerting.get_delivery("nope") is None


def test_query_deliveries_filters_and_sending_order(store: Store) -> None:
    alerting = _alerting(store)
    made = [_delivery(n) for n in range(10)]
    made[4] = made[4].model_copy(update={"destination": "email:a@b.example", "address": "a@b.example"})
    made[5] = made[5].model_copy(update={"status": DeliveryStatus.held})
    for d in made:
        alerting.add_delivery(d)
    in_order = sorted(made, key=lambda d: (d.seq, d.id))
    everything = alerting.query_deliveries(DeliveryQuery(limit=100))
    assert [d.id for d in everything.items] == [d.id for d in in_order]
    newest = alerting.query_deliveries(DeliveryQuery(limit=3, newest_first=True))
    assert [d.id for d in newest.items] == [d.id for d in reversed(in_order)][:3]
    assert newest.total == 10
    tg = alerting.query_deliveries(DeliveryQuery(destination="telegram:100500"))
    assert tg.total == 9 and all(d.destination == "telegram:100500" for d in tg.items)
    by_alert = alerting.query_deliveries(DeliveryQuery(alert_id="a1"))
    assert {d.id for d in by_alert.items} == {d.id for d in made if d.alert_id == "a1"}
    by_sub = alerting.query_deliveries(DeliveryQuery(subscription_id="head", status=[DeliveryStatus.held]))
    assert [d.id for d in by_sub.items] == ["d5"]
    paged = alerting.query_deliveries(DeliveryQuery(limit=4, offset=4))
    assert [d.id for d in paged.items] == [d.id for d in in_order][4:8]
