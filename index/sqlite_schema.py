"""The SQLite schema as an ordered list of migrations applied by `PRAGMA user_version`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Seconds in one rollup bucket (one hour).
HOUR_S = 3600


def hour_bucket(epoch_s: float) -> int:
    """Return the start of the UTC hour holding `epoch_s`, in epoch seconds."""
    return int(epoch_s // HOUR_S) * HOUR_S


@dataclass(frozen=True)
class Migration:
    """One schema step: statements to run, then an optional Python step, in one transaction."""

    version: int
    description: str
    statements: Sequence[str] = ()
    run: Callable[[sqlite3.Connection], None] | None = None


_V1 = (
    """CREATE TABLE posts (
        id TEXT PRIMARY KEY,
        published_at REAL NOT NULL,
        source TEXT NOT NULL,
        sector TEXT,
        territory TEXT,
        kind TEXT,
        tone TEXT,
        page_id TEXT,
        thread_id TEXT,
        story_id TEXT,
        parent_id TEXT,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX posts_published ON posts(published_at)",
    "CREATE INDEX posts_source ON posts(source, published_at)",
    "CREATE INDEX posts_sector ON posts(sector, published_at)",
    "CREATE INDEX posts_territory ON posts(territory, published_at)",
    "CREATE INDEX posts_kind ON posts(kind, published_at)",
    "CREATE INDEX posts_tone ON posts(tone, published_at)",
    "CREATE INDEX posts_page ON posts(page_id, published_at)",
    "CREATE INDEX posts_thread ON posts(thread_id, published_at)",
    "CREATE INDEX posts_story ON posts(story_id, published_at)",
    "CREATE INDEX posts_parent ON posts(parent_id)",
    # Full text over the lemmas; rowid = posts.rowid.
    "CREATE VIRTUAL TABLE posts_fts USING fts5(lemmas, tokenize = 'unicode61 remove_diacritics 2')",
    """CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        recipient TEXT,
        sector TEXT,
        territory TEXT,
        created_at REAL NOT NULL,
        first_answer_due REAL,
        final_answer_due REAL,
        version INTEGER NOT NULL,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX incidents_created ON incidents(created_at)",
    "CREATE INDEX incidents_status ON incidents(status, created_at)",
    "CREATE INDEX incidents_recipient ON incidents(recipient, created_at)",
    "CREATE INDEX incidents_first_due ON incidents(first_answer_due)",
    "CREATE INDEX incidents_final_due ON incidents(final_answer_due)",
    """CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        created_at REAL NOT NULL,
        acknowledged INTEGER NOT NULL DEFAULT 0,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX alerts_created ON alerts(created_at)",
    "CREATE INDEX alerts_kind ON alerts(kind, created_at)",
    "CREATE TABLE source_states (name TEXT PRIMARY KEY, data TEXT NOT NULL)",
    "CREATE TABLE pages (id TEXT PRIMARY KEY, data TEXT NOT NULL)",
)

_V2 = (
    # Post counts per hour x sector x territory x source; '' stands for "not set".
    """CREATE TABLE rollups (
        bucket INTEGER NOT NULL,
        sector TEXT NOT NULL,
        territory TEXT NOT NULL,
        source TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (bucket, sector, territory, source)
    ) WITHOUT ROWID""",
    """INSERT INTO rollups (bucket, sector, territory, source, count)
        SELECT hour_bucket(published_at), coalesce(sector, ''), coalesce(territory, ''), source, count(*)
        FROM posts GROUP BY 1, 2, 3, 4""",
    """CREATE TABLE incident_posts (
        post_id TEXT PRIMARY KEY,
        incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE
    )""",
    "CREATE INDEX incident_posts_incident ON incident_posts(incident_id)",
    # When two incidents list the same post, the one updated last keeps it.
    """INSERT OR REPLACE INTO incident_posts (post_id, incident_id)
        SELECT j.value, i.id FROM incidents AS i, json_each(i.data, '$.post_ids') AS j
        ORDER BY json_extract(i.data, '$.updated_at')""",
)

#: Bits of a rollup grouping set: which fields a row of `rollups` (v3) keeps; the others are ''.
GROUP_BITS: dict[str, int] = {"sector": 1, "territory": 2, "source": 4}
#: Every grouping set, from the hourly total (0) to the full cell (7).
GROUPINGS = tuple(range(8))

_V3 = (
    # One table of pre-aggregated counts for every subset of (sector, territory, source), so a
    # counts() query reads only its own rows, already grouped and in key order.
    "ALTER TABLE rollups RENAME TO rollups_v2",
    """CREATE TABLE rollups (
        grouping INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        sector TEXT NOT NULL,
        territory TEXT NOT NULL,
        source TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (grouping, bucket, sector, territory, source)
    ) WITHOUT ROWID""",
    """INSERT INTO rollups (grouping, bucket, sector, territory, source, count)
        SELECT g.mask, r.bucket,
            CASE WHEN g.mask & 1 THEN r.sector ELSE '' END,
            CASE WHEN g.mask & 2 THEN r.territory ELSE '' END,
            CASE WHEN g.mask & 4 THEN r.source ELSE '' END,
            sum(r.count)
        FROM rollups_v2 AS r,
            (SELECT 0 AS mask UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
             UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7) AS g
        WHERE r.count > 0
        GROUP BY 1, 2, 3, 4, 5""",
    "DROP TABLE rollups_v2",
)

_V4 = (
    # The information lead's decisions about content-plan slots, read back per planned week.
    "CREATE TABLE plan_decisions (slot_id TEXT PRIMARY KEY, week TEXT NOT NULL, data TEXT NOT NULL)",
    "CREATE INDEX plan_decisions_week ON plan_decisions(week, slot_id)",
)

_V5 = (
    # Hours whose rollups changed, appended by every write, so each process's cache of hourly counts
    # forgets exactly those hours (index/sqlite_counts.py); writers keep only the recent entries.
    "CREATE TABLE rollup_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, bucket INTEGER NOT NULL)",
)

_V6 = (
    # Alert subscriptions and the delivery log (one row per alert × subscription × address).
    "CREATE TABLE subscriptions (id TEXT PRIMARY KEY, data TEXT NOT NULL)",
    """CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        alert_id TEXT NOT NULL,
        subscription_id TEXT NOT NULL,
        destination TEXT NOT NULL,
        status TEXT NOT NULL,
        seq INTEGER NOT NULL,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX deliveries_alert ON deliveries(alert_id, seq)",
    "CREATE INDEX deliveries_subscription ON deliveries(subscription_id, seq)",
    "CREATE INDEX deliveries_destination ON deliveries(destination, status, seq)",
    "CREATE INDEX deliveries_status ON deliveries(status, seq)",
)

_V7 = (
    # Pages of incidents by status or recipient, newest first, sorted from the index alone (the
    # id breaks ties), instead of looking up every matching row for its id.
    "CREATE INDEX incidents_status_page ON incidents(status, created_at, id)",
    "CREATE INDEX incidents_recipient_page ON incidents(recipient, created_at, id)",
    "DROP INDEX incidents_status",
    "DROP INDEX incidents_recipient",
)

_V8 = (
    # When each open incident's next escalation step falls due, under which rules (Incident.step_index;
    # NULL: not worked out), so an escalation run reads only the incidents with a step due.
    "ALTER TABLE incidents ADD COLUMN step_rules TEXT",
    "ALTER TABLE incidents ADD COLUMN step_due_at REAL",
    "CREATE INDEX incidents_step ON incidents(step_rules, step_due_at) "
    "WHERE status IN ('new', 'assigned', 'interim')",
)

#: Every migration, in order; append new ones, never edit applied ones.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "posts, full text, incidents, alerts, source states, pages", _V1),
    Migration(2, "hourly rollups and the post -> incident map, backfilled", _V2),
    Migration(3, "rollups for every grouping set of sector, territory, source", _V3),
    Migration(4, "content-plan decisions", _V4),
    Migration(5, "log of the hours whose rollups changed (counts cache)", _V5),
    Migration(6, "alert subscriptions and the delivery log", _V6),
    Migration(7, "covering indexes for incident pages by status and by recipient", _V7),
    Migration(8, "the next escalation step of open incidents", _V8),
)

#: The schema version this code writes.
LATEST_VERSION = MIGRATIONS[-1].version


class SchemaTooNew(Exception):
    """The file was written by a newer version of the program."""


def register_functions(conn: sqlite3.Connection) -> None:
    """Register the SQL functions the schema and queries use on `conn`."""
    conn.create_function("hour_bucket", 1, hour_bucket, deterministic=True)


def current_version(conn: sqlite3.Connection) -> int:
    """Return the schema version stored in the file."""
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, target: int = LATEST_VERSION) -> list[int]:
    """Apply every pending migration up to `target` (each in its own transaction); return those applied.

    `conn` must be in autocommit mode (isolation_level=None). Safe to run from several processes at
    once: each step re-reads the version under the write lock.
    """
    register_functions(conn)
    applied: list[int] = []
    for migration in MIGRATIONS:
        if migration.version > target:
            break
        if current_version(conn) >= migration.version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if current_version(conn) < migration.version:
                for statement in migration.statements:
                    conn.execute(statement)
                if migration.run is not None:
                    migration.run(conn)
                conn.execute(f"PRAGMA user_version = {int(migration.version)}")
                applied.append(migration.version)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    found = current_version(conn)
    if found > LATEST_VERSION:
        raise SchemaTooNew(f"схема базы версии {found} новее поддерживаемой ({LATEST_VERSION})")
    return applied
