"""`infopole migrate --to elastic`: an embedded store copied into Elasticsearch, exactly and idempotently."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from index.elastic import ElasticStore
from index.models import AlertKind, IncidentStatus, OfficialPage, PlanAction, PlanDecision, SourceState
from index.sqlite import SqliteStore
from index.store import AlertQuery, IncidentQuery, PostQuery
from infopole.migrate import iter_posts, migrate_store, sqlite_plan_decisions
from tests.factories import BASE_TIME, make_alert, make_incident, make_post
from tests.index.elastic_target import drop_store, open_elastic_store


@pytest.fixture
def target() -> Iterator[ElasticStore]:
    opened = open_elastic_store()
    yield opened
    drop_store(opened)


@pytest.fixture
def source(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "embedded.sqlite3")
    # 250 posts, many sharing a publication time, over two months; incidents, alerts, pages, states.
    posts = [
        make_post(published_at=BASE_TIME + timedelta(days=(i % 50), minutes=i // 50)) for i in range(250)
    ]
    posts += [make_post(published_at=BASE_TIME) for _ in range(30)]
    store.upsert_posts(posts)
    incident = store.save_incident(make_incident(post_ids=[posts[0].id]))
    store.save_incident(incident.model_copy(update={"status": IncidentStatus.assigned}), expected_version=1)
    store.save_incident(make_incident(status=IncidentStatus.closed))
    store.add_alert(make_alert(kind=AlertKind.spike))
    acked = make_alert(kind=AlertKind.conflict)
    store.add_alert(acked)
    store.acknowledge_alert(acked.id, by="глава", at=BASE_TIME + timedelta(hours=2))
    store.save_pages(
        [OfficialPage(id="vk-admin", network="vk", name="Администрация", url="https://vk.com/a")]
    )
    store.save_source_state(SourceState(name="vk:wall:-1", cursor={"last_id": 7}, items_total=9))
    store.save_plan_decision(
        PlanDecision(slot_id="s1", week="2024-03-04", page_id="vk-admin", action=PlanAction.accept, by="lead")
    )
    yield store
    store.close()


def test_keyset_iteration_yields_every_post_once(source: SqliteStore) -> None:
    seen = [post.id for batch in iter_posts(source, batch=7) for post in batch]
    assert len(seen) == len(set(seen)) == 280


def test_migrate_copies_everything_and_a_rerun_changes_nothing(
    source: SqliteStore, target: ElasticStore, tmp_path: Path
) -> None:
    decisions = sqlite_plan_decisions(tmp_path / "embedded.sqlite3")
    report = migrate_store(source, target, plan_decisions=decisions, batch=40)
    assert (report.posts, report.incidents, report.alerts, report.pages, report.source_states) == (
        280,
        2,
        2,
        1,
        1,
    )
    assert report.plan_decisions == 1 and report.failed == []
    assert "перенесено: сообщений 280" in report.summary()

    everything = PostQuery(limit=1000)
    assert target.query_posts(everything).items == source.query_posts(everything).items
    since, until = BASE_TIME - timedelta(days=1), BASE_TIME + timedelta(days=60)
    assert target.counts(since, until, by=("sector", "territory", "source"), bucket="day") == source.counts(
        since, until, by=("sector", "territory", "source"), bucket="day"
    )
    assert target.query_incidents(IncidentQuery()).items == source.query_incidents(IncidentQuery()).items
    migrated = target.query_incidents(IncidentQuery(status=[IncidentStatus.assigned])).items[0]
    assert migrated.version == 2  # versions kept, so optimistic concurrency goes on from where it was
    assert target.save_incident(migrated, expected_version=2).version == 3
    assert target.query_alerts(AlertQuery()).items == source.query_alerts(AlertQuery()).items
    assert target.list_pages() == source.list_pages()
    assert target.list_source_states() == source.list_source_states()
    assert target.list_plan_decisions("2024-03-04") == decisions
    assert target.find_incident_for_post(migrated.post_ids[0]) == target.get_incident(migrated.id)

    again = migrate_store(source, target, plan_decisions=decisions, batch=40)
    assert again.failed == [] and target.count_posts(PostQuery()) == 280
