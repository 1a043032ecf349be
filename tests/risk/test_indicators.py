"""Every indicator against hand-computed values on a small fixture (formulas in docs/indicators.md).

The period is [2024-03-04 00:00Z, 03-06 00:00Z) (Monday and Tuesday), the previous one [03-02, 03-04),
"now" is 03-06 10:00Z. Moscow working hours 9–18 with lunch 13–14.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from index.models import AuditEntry, IncidentStatus, Kind, Metrics, Priority, Tone
from index.profile import Profile, Recipient, RoutingRule, Territory
from index.sqlite import SqliteStore
from index.store import PostQuery
from risk.indicators import (
    Slice,
    SliceFilter,
    compute_indicators,
    count_in_store,
    iter_posts,
    scan_posts,
    tension_post_ids,
)
from tests.factories import make_incident, make_post

MSK = ZoneInfo("Europe/Moscow")
SINCE = datetime(2024, 3, 4, tzinfo=UTC)
UNTIL = datetime(2024, 3, 6, tzinfo=UTC)
NOW = datetime(2024, 3, 6, 10, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Return 2024-03-<day> <hour>:<minute> UTC."""
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def build_profile() -> Profile:
    """Return a town with a district that has a village under it, two recipients and a routing rule."""
    return Profile(
        name="Тестовск",
        territories=[
            Territory(
                id="city",
                name="Тестовск",
                level="municipality",
                children=[
                    Territory(id="centr", name="Центральный район"),
                    Territory(
                        id="zarechye",
                        name="Заречье",
                        children=[Territory(id="lugovoe", name="Луговое", level="settlement")],
                    ),
                ],
            )
        ],
        recipients=[Recipient(id="uk-dom", name="УК «Дом»"), Recipient(id="roads", name="Дорожный отдел")],
        routing=[RoutingRule(recipient="roads", sector="дороги")],
        default_recipient="uk-dom",
    )


def fill(store: SqliteStore) -> dict[str, str]:
    """Write the fixture's posts and incidents; return post ids by name."""
    p = {
        "p1": make_post(
            sector="жкх",
            territory="centr",
            source="vk",
            kind=Kind.complaint,
            tone=Tone.negative,
            topic="отопление",
            published_at=at(4, 10),
            author_name="Иван Петров",
            text="Нет отопления, звоните +7 900 123-45-67",
            metrics=Metrics(views=500),
        ),
        "p2": make_post(
            sector="жкх",
            territory="centr",
            source="vk",
            kind=Kind.question,
            tone=Tone.neutral,
            topic="отопление",
            published_at=at(4, 11),
        ),
        "p3": make_post(
            sector="жкх",
            territory="lugovoe",
            source="tg",
            kind=Kind.complaint,
            tone=Tone.negative,
            topic="отопление",
            published_at=at(5, 9),
        ),
        "p4": make_post(
            sector="дороги",
            territory="zarechye",
            source="vk",
            kind=Kind.complaint,
            tone=Tone.negative,
            topic="ямы",
            published_at=at(5, 12),
        ),
        "p5": make_post(
            sector=None,
            territory=None,
            source="ok",
            kind=Kind.information,
            tone=Tone.neutral,
            topic=None,
            published_at=at(5, 13),
            page_id="vk-admin",
            is_official=True,
            author_name="Администрация Тестовска",
        ),
        "p6": make_post(
            sector="благоустройство",
            territory="centr",
            source="vk",
            kind=Kind.gratitude,
            tone=Tone.positive,
            topic=None,
            published_at=at(5, 14),
        ),
        "q1": make_post(
            sector="жкх",
            territory="centr",
            source="vk",
            kind=Kind.complaint,
            tone=Tone.negative,
            topic="отопление",
            published_at=at(3, 9),
        ),
        "q2": make_post(
            sector="дороги",
            territory="centr",
            source="tg",
            kind=Kind.complaint,
            tone=Tone.negative,
            topic="ямы",
            published_at=at(2, 10),
        ),
        "old": make_post(sector="жкх", territory="centr", published_at=at(1, 10)),  # before both periods
    }
    # The official answer under p1 and a citizen's thanks to it (the satisfaction of incident i1).
    p["a1"] = make_post(
        sector=None,
        territory=None,
        source="vk",
        kind=Kind.information,
        tone=Tone.neutral,
        topic=None,
        published_at=at(4, 12),
        is_official=True,
        author_name="Администрация Тестовска",
        parent_id=p["p1"].id,
        thread_id=p["p1"].id,
    )
    p["r1"] = make_post(
        sector=None,
        territory=None,
        source="vk",
        kind=Kind.gratitude,
        tone=Tone.positive,
        topic=None,
        published_at=at(4, 13),
        parent_id=p["a1"].id,
        thread_id=p["p1"].id,
    )
    p["p1"] = p["p1"].model_copy(update={"thread_id": p["p1"].id})
    store.upsert_posts(list(p.values()))
    incidents = [
        make_incident(
            id="i1",
            sector="жкх",
            territory="centr",
            recipient="uk-dom",
            priority=Priority.high,
            status=IncidentStatus.final,
            post_ids=[p["p1"].id, p["p2"].id],
            created_at=at(4, 10),
            first_answer_due=at(4, 18),
            first_answered_at=at(4, 12),
            final_answered_at=at(5, 10),
            topic="отопление",
        ),
        make_incident(
            id="i2",
            sector="жкх",
            territory="lugovoe",
            recipient="uk-dom",
            priority=Priority.critical,
            status=IncidentStatus.interim,
            post_ids=[p["p3"].id],
            created_at=at(5, 9),
            first_answer_due=at(5, 10),
            first_answered_at=at(5, 12),
            final_answer_due=at(12, 15),
            topic="отопление",
            audit=[AuditEntry(at=at(5, 11), actor="система", action="переоткрыт")],
        ),
        make_incident(
            id="i3",
            sector="дороги",
            territory="zarechye",
            recipient="roads",
            priority=Priority.normal,
            status=IncidentStatus.assigned,
            post_ids=[p["p4"].id],
            created_at=at(5, 12),
            first_answer_due=at(5, 14),
            topic="ямы",
        ),
        make_incident(
            id="i0",
            sector="жкх",
            territory="centr",
            recipient="uk-dom",
            priority=Priority.high,
            status=IncidentStatus.assigned,
            post_ids=[p["q1"].id],
            created_at=at(3, 9),
            first_answer_due=at(3, 17),
        ),
    ]
    for incident in incidents:
        store.save_incident(incident)
    return {name: post.id for name, post in p.items()}


@pytest.fixture
def profile() -> Profile:
    return build_profile()


@pytest.fixture
def filled(sqlite_store: SqliteStore) -> SqliteStore:
    fill(sqlite_store)
    return sqlite_store


def compute(store: SqliteStore, profile: Profile, sl: Slice | None = None):
    return compute_indicators(store, profile, SINCE, UNTIL, NOW, MSK, sl)


def test_volume_and_change_from_rollups(filled: SqliteStore, profile: Profile) -> None:
    ind = compute(filled, profile)
    assert ind.volume.from_rollups
    assert (ind.volume.total, ind.volume.previous_total, ind.volume.change) == (8, 2, 6)
    assert ind.volume.change_pct == 300.0
    assert {c.key: c.count for c in ind.volume.by_source} == {"vk": 6, "tg": 1, "ok": 1}
    assert {c.key: c.count for c in ind.volume.by_sector} == {
        "жкх": 3,
        "дороги": 1,
        "благоустройство": 1,
        None: 3,
    }
    # Moscow days: 04.03 03:00 .. 06.03 03:00.
    assert [(d.day.isoformat(), d.count) for d in ind.volume.by_day] == [
        ("2024-03-04", 4),
        ("2024-03-05", 4),
        ("2024-03-06", 0),
    ]


def test_shares_by_kind_and_tone(filled: SqliteStore, profile: Profile) -> None:
    ind = compute(filled, profile)
    kinds = {k.key: (k.count, k.share) for k in ind.kinds}
    assert kinds["complaint"] == (3, 0.375)
    assert kinds["question"] == (1, 0.125)
    assert kinds["information"] == (2, 0.25)
    assert kinds["gratitude"] == (2, 0.25)
    assert kinds["suggestion"] == (0, 0.0)
    tones = {t.key: t.count for t in ind.tones}
    assert tones == {"negative": 3, "neutral": 3, "positive": 2}
    assert ind.negative_share == 0.375


def test_tension_index_is_high_and_critical_messages_over_all(filled: SqliteStore, profile: Profile) -> None:
    tension = compute(filled, profile).tension
    assert tension is not None
    # p1, p2 (i1, high) and p3 (i2, critical) of 8; before: q1 (i0, high) of 2.
    assert (tension.high_critical, tension.total, tension.index) == (3, 8, 0.375)
    assert tension.previous_index == 0.5
    assert tension.change_pp == -12.5


def test_incident_indicators(filled: SqliteStore, profile: Profile) -> None:
    inc = compute(filled, profile).incidents
    assert (inc.opened, inc.answered, inc.answered_on_time, inc.overdue, inc.open) == (3, 2, 1, 1, 2)
    assert inc.share_answered_on_time == 0.3333
    # i1: 13:00→15:00 Moscow with lunch = 1 working hour; i2: 12:00→15:00 = 2 working hours.
    assert inc.first_answer_avg_hours == 1.5
    assert inc.first_answer_median_hours == 1.5
    assert (inc.final_answered, inc.share_final) == (1, 0.3333)
    assert inc.by_priority == {"normal": 1, "high": 1, "critical": 1}
    # i1: a citizen thanked the official answer; i2 was reopened.
    assert inc.satisfaction is not None
    assert (inc.satisfaction.satisfied, inc.satisfaction.dissatisfied, inc.satisfaction.share) == (1, 1, 0.5)


def test_recipient_rating_needs_two_incidents(filled: SqliteStore, profile: Profile) -> None:
    rating = {r.recipient: r for r in compute(filled, profile).recipients}
    uk = rating["uk-dom"]
    assert (uk.incidents, uk.answered_on_time, uk.final_answered, uk.overdue) == (2, 1, 1, 0)
    assert (uk.timeliness, uk.completeness, uk.score, uk.rated, uk.rank) == (0.5, 0.5, 50.0, True, 1)
    assert uk.first_answer_avg_hours == 1.5
    roads = rating["roads"]
    assert (roads.incidents, roads.rated, roads.score, roads.rank, roads.overdue) == (1, False, None, None, 1)


def test_territory_slice_takes_the_territory_and_what_is_under_it(
    filled: SqliteStore, profile: Profile
) -> None:
    ind = compute(filled, profile, Slice(territory="zarechye"))
    assert ind.volume.from_rollups and ind.volume.total == 2  # p3 in Луговое, p4 in Заречье
    assert ind.volume.previous_total == 0 and ind.volume.change_pct is None
    assert ind.incidents.opened == 2  # i2 (Луговое), i3
    assert ind.slice.label == "территория «Заречье»"
    assert ind.scanned == 2  # kinds, tones and topics count the same two posts


def test_a_territory_with_parts_is_read_one_place_at_a_time(profile: Profile) -> None:
    flt = SliceFilter.of(Slice(territory="zarechye"), profile)
    assert [q.territory for q in flt.store_queries(SINCE, UNTIL)] == ["lugovoe", "zarechye"]
    assert [
        q.territory for q in SliceFilter.of(Slice(territory="centr"), profile).store_queries(SINCE, UNTIL)
    ] == ["centr"]
    assert [q.territory for q in SliceFilter.of(Slice(), profile).store_queries(SINCE, UNTIL)] == [None]


def test_topic_recipient_page_and_source_slices(filled: SqliteStore, profile: Profile) -> None:
    topic = compute(filled, profile, Slice(sector="жкх", topic="отопление"))
    assert not topic.volume.from_rollups
    assert (topic.volume.total, topic.volume.previous_total, topic.volume.change_pct) == (3, 1, 200.0)
    assert topic.incidents.opened == 2
    assert [(t.topic, t.count, t.previous) for t in topic.topics] == [("отопление", 3, 1)]
    roads = compute(filled, profile, Slice(recipient="roads"))
    assert roads.volume.total == 1 and roads.incidents.opened == 1  # p4 routed by the rule; i3
    uk = compute(filled, profile, Slice(recipient="uk-dom"))
    assert uk.volume.total == 4  # p1, p2, p3, p6: citizens' messages with a sector, default recipient
    page = compute(filled, profile, Slice(page_id="vk-admin"))
    assert page.volume.total == 1 and page.incidents.opened == 0
    tg = compute(filled, profile, Slice(source="tg"))
    assert tg.volume.total == 1 and tg.volume.previous_total == 1
    assert tg.incidents.opened == 1  # i2 holds the Telegram message p3


def test_empty_period_has_no_shares(sqlite_store: SqliteStore, profile: Profile) -> None:
    ind = compute(sqlite_store, profile)
    assert ind.volume.total == 0 and ind.negative_share is None
    assert ind.tension is not None and ind.tension.index is None
    assert ind.incidents.share_answered_on_time is None and ind.recipients == []


def test_iter_posts_pages_through_equal_timestamps(sqlite_store: SqliteStore) -> None:
    same = [make_post(published_at=at(4, 10)) for _ in range(7)]
    later = [make_post(published_at=at(4, 11)) for _ in range(3)]
    sqlite_store.upsert_posts(same + later)
    got = [p.id for p in iter_posts(sqlite_store, PostQuery(since=SINCE, until=UNTIL), batch=3)]
    assert sorted(got) == sorted(p.id for p in same + later) and len(got) == 10


@pytest.mark.parametrize(
    "sl",
    [Slice(), Slice(sector="жкх"), Slice(territory="zarechye"), Slice(source="tg"), Slice(territory="city")],
)
def test_counting_in_the_store_gives_the_figures_of_reading_every_post(
    filled: SqliteStore, profile: Profile, sl: Slice
) -> None:
    flt = SliceFilter.of(sl, profile)
    since = datetime(2024, 3, 1, tzinfo=UTC)
    tension, _ = tension_post_ids(filled, since, UNTIL, profile)
    assert tension, "the fixture must have messages of high-priority incidents"
    read = scan_posts(filled, since, UNTIL, flt, MSK, tension_ids=tension, keep_examples=False, keep_ids=True)
    counted = count_in_store(filled, since, UNTIL, flt, tension_ids=tension)
    assert read.total > 0
    for name in (
        "total",
        "official",
        "tension_hits",
        "by_kind",
        "by_tone",
        "by_sector",
        "by_topic",
        "by_territory",
        "by_source",
        "by_page",
        "by_story",
        "negative_by_sector",
    ):
        assert getattr(counted, name) == getattr(read, name), name
    quick = scan_posts(filled, since, UNTIL, flt, MSK, tension_ids=tension, keep_examples=False)
    assert quick.by_topic == read.by_topic and not quick.by_day  # the store path was taken
