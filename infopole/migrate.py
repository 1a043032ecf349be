"""Move an installation's data between Store backends (`infopole migrate --to elastic`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from index.elastic import ElasticStore
from index.models import Alert, Incident, PlanDecision, Post
from index.store import AlertQuery, IncidentQuery, PostQuery, Store

#: Objects read per page from the source store.
BATCH = 1_000


@dataclass
class MigrationReport:
    """How many objects of each kind were copied, and the ones that were not (with Russian reasons)."""

    posts: int = 0
    incidents: int = 0
    alerts: int = 0
    source_states: int = 0
    pages: int = 0
    plan_decisions: int = 0
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Return a one-line Russian summary."""
        line = (
            f"перенесено: сообщений {self.posts}, инцидентов {self.incidents}, оповещений {self.alerts}, "
            f"источников {self.source_states}, госпабликов {self.pages}, решений контент-плана "
            f"{self.plan_decisions}"
        )
        return line + (f"; не перенесено: {len(self.failed)}" if self.failed else "")


def iter_posts(store: Store, batch: int = BATCH) -> Iterator[list[Post]]:
    """Yield every post oldest first, in pages, by keyset on (published_at, id): no deep offsets."""
    cursor: datetime | None = None
    at_cursor = 0  # posts already yielded whose published_at equals the cursor
    while True:
        page = store.query_posts(PostQuery(since=cursor, newest_first=False, limit=batch, offset=at_cursor))
        if not page.items:
            return
        yield page.items
        last = page.items[-1].published_at
        same = sum(1 for post in page.items if post.published_at == last)
        at_cursor = at_cursor + same if last == cursor else same
        cursor = last
        if len(page.items) < batch:
            return


def iter_incidents(store: Store, batch: int = BATCH) -> Iterator[list[Incident]]:
    """Yield every incident in pages."""
    offset = 0
    while True:
        page = store.query_incidents(IncidentQuery(limit=batch, offset=offset))
        if not page.items:
            return
        yield page.items
        offset += len(page.items)


def iter_alerts(store: Store, batch: int = BATCH) -> Iterator[list[Alert]]:
    """Yield every alert in pages."""
    offset = 0
    while True:
        page = store.query_alerts(AlertQuery(limit=batch, offset=offset))
        if not page.items:
            return
        yield page.items
        offset += len(page.items)


def sqlite_plan_decisions(path: Path) -> list[PlanDecision]:
    """Return every content-plan decision of an embedded database (the Store lists them per week only)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT data FROM plan_decisions ORDER BY slot_id").fetchall()
    except sqlite3.OperationalError:
        rows = []  # a database older than the content plan
    finally:
        conn.close()
    return [PlanDecision.model_validate_json(row[0]) for row in rows]


def migrate_store(
    source: Store,
    target: Store,
    *,
    plan_decisions: list[PlanDecision] | None = None,
    batch: int = BATCH,
    progress: Callable[[str], None] = lambda _: None,
) -> MigrationReport:
    """Copy everything from `source` to `target`; idempotent (ids are kept, a re-run replaces).

    Incidents keep their versions when the target can restore them (Elasticsearch); alerts keep their
    acknowledgement. A bad batch is reported in `failed` and the copy goes on.
    """
    report = MigrationReport()
    pages = source.list_pages()
    target.save_pages(pages)
    report.pages = len(pages)
    for state in source.list_source_states():
        target.save_source_state(state)
        report.source_states += 1
    bulk_target = isinstance(target, ElasticStore)
    saved_refresh = target.refresh if isinstance(target, ElasticStore) else None
    if isinstance(target, ElasticStore):
        target.refresh = False  # one refresh at the end instead of one per batch
    try:
        for posts in iter_posts(source, batch):
            try:
                target.upsert_posts(posts)
                report.posts += len(posts)
            except Exception as exc:
                report.failed.append(f"сообщения {posts[0].id}…{posts[-1].id}: {exc}")
            progress(f"сообщений: {report.posts}")
    finally:
        if isinstance(target, ElasticStore):
            target.refresh = saved_refresh if saved_refresh is not None else "wait_for"
            target.client.indices.refresh(index=target.layout.pattern("posts"), allow_no_indices=True)
    for incidents in iter_incidents(source, batch):
        if bulk_target and isinstance(target, ElasticStore):
            target.restore_incidents(incidents)
        else:
            for incident in incidents:
                target.save_incident(incident)
        report.incidents += len(incidents)
    progress(f"инцидентов: {report.incidents}")
    for alerts in iter_alerts(source, batch):
        for alert in alerts:
            target.add_alert(alert)
            if alert.acknowledged_at is not None:
                target.acknowledge_alert(alert.id, alert.acknowledged_by or "", alert.acknowledged_at)
        report.alerts += len(alerts)
    for decision in plan_decisions or []:
        target.save_plan_decision(decision)
        report.plan_decisions += 1
    return report
