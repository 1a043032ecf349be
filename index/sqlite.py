"""The embedded Store backend: one SQLite file (WAL), FTS5 over lemmas, hourly rollups for counts."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from index.forgetting import scrub_alert, scrub_incident
from index.models import (
    Alert,
    Delivery,
    DeliveryStatus,
    Incident,
    IncidentStatus,
    OfficialPage,
    PlanDecision,
    Post,
    SourceState,
    Subscription,
    as_utc,
)
from index.sqlite_counts import HourlyCountsCache, log_hours
from index.sqlite_reads import (
    all_posts,
    capped_total,
    fulltext_total,
    read_along_time,
    rollup_total,
    walk_bound,
    walk_rows,
)
from index.sqlite_schema import GROUP_BITS, GROUPINGS, SchemaTooNew, hour_bucket, migrate, register_functions
from index.store import (
    AlertQuery,
    Bucket,
    CountField,
    CountRow,
    DeliveryQuery,
    FacetField,
    FacetRow,
    IncidentQuery,
    NotFound,
    Page,
    PostQuery,
    StoreUnavailable,
    VersionConflict,
)

#: Group-by fields of `counts` and their rollup columns (whitelist for SQL).
_COUNT_FIELDS: tuple[CountField, ...] = ("sector", "territory", "source")
#: Seconds per `counts` bucket.
_BUCKET_S: dict[str, int] = {"hour": 3600, "day": 86400}
#: Shift that makes every datetime's epoch positive, so integer division floors (a multiple of a day).
_EPOCH_SHIFT_S = 86400 * 1_000_000
#: Statuses whose first answer is still due, and whose final answer is still due.
_FIRST_DUE = (IncidentStatus.new.value, IncidentStatus.assigned.value)
_FINAL_DUE = (IncidentStatus.interim.value,)
#: A word of a full-text query: letters and digits (what the unicode61 tokenizer keeps).
_WORD = re.compile(r"[^\W_]+")
#: Pages of the full-text index one merge step writes (each step is one short write transaction).
FTS_MERGE_PAGES = 500

log = logging.getLogger(__name__)

#: A rollup row key: grouping set, hour bucket, sector, territory, source ('' when not kept).
_RollupKey = tuple[int, int, str, str, str]


def _rollup_keys(epoch_s: float, sector: str | None, territory: str | None, source: str) -> list[_RollupKey]:
    """Return the rollup row of every grouping set a post published at `epoch_s` counts in."""
    hour, sector, territory = hour_bucket(epoch_s), sector or "", territory or ""
    return [
        (g, hour, sector if g & 1 else "", territory if g & 2 else "", source if g & 4 else "")
        for g in GROUPINGS
    ]


def _ts(value: datetime) -> float:
    """Return `value` as UTC epoch seconds."""
    return as_utc(value).timestamp()


def _opt_ts(value: datetime | None) -> float | None:
    """Return `value` as UTC epoch seconds, or None."""
    return None if value is None else _ts(value)


def _fold(text: str) -> str:
    """Return `text` with ё folded to е, so both spellings match in full text."""
    return text.replace("ё", "е").replace("Ё", "Е")


def fts_query(text: str) -> str | None:
    """Return an FTS5 MATCH expression: the AND of every word of `text`, each quoted; None if no words."""
    words = _WORD.findall(_fold(text).lower())
    if not words:
        return None
    return " AND ".join(f'"{word}"' for word in dict.fromkeys(words))


@dataclass(frozen=True)
class _PostRow:
    """A post flattened to its table columns."""

    id: str
    published_at: float
    source: str
    sector: str | None
    territory: str | None
    kind: str | None
    tone: str | None
    page_id: str | None
    thread_id: str | None
    story_id: str | None
    parent_id: str | None
    data: str
    lemmas: str

    @classmethod
    def of(cls, post: Post) -> _PostRow:
        """Flatten `post`."""
        return cls(
            id=post.id,
            published_at=_ts(post.published_at),
            source=post.source,
            sector=post.sector,
            territory=post.territory,
            kind=None if post.kind is None else post.kind.value,
            tone=None if post.tone is None else post.tone.value,
            page_id=post.page_id,
            thread_id=post.thread_id,
            story_id=post.story_id,
            parent_id=post.parent_id,
            data=post.model_dump_json(),
            lemmas=_fold(post.lemmas),
        )

    def columns(self) -> tuple[Any, ...]:
        """Return the values for the posts table columns after id, then id (for UPDATE ... WHERE id=?)."""
        return (
            self.published_at,
            self.source,
            self.sector,
            self.territory,
            self.kind,
            self.tone,
            self.page_id,
            self.thread_id,
            self.story_id,
            self.parent_id,
            self.data,
            self.id,
        )

    def rollup_keys(self) -> list[_RollupKey]:
        """Return the rollup rows this post counts in."""
        return _rollup_keys(self.published_at, self.sector, self.territory, self.source)


_POST_COLUMNS = (
    "published_at, source, sector, territory, kind, tone, page_id, thread_id, story_id, parent_id, data, id"
)
_INSERT_POST = f"INSERT INTO posts ({_POST_COLUMNS}) VALUES ({', '.join('?' * 12)})"
_UPDATE_POST = (
    "UPDATE posts SET published_at = ?, source = ?, sector = ?, territory = ?, kind = ?, tone = ?, "
    "page_id = ?, thread_id = ?, story_id = ?, parent_id = ?, data = ? WHERE id = ?"
)


#: The SQL expression of each facet field (topic and is_official live only in the JSON document).
_FACET_SQL: dict[str, str] = {
    "sector": "sector",
    "topic": "json_extract(data, '$.topic')",
    "territory": "territory",
    "source": "source",
    "kind": "kind",
    "tone": "tone",
    "page_id": "page_id",
    "story_id": "story_id",
    "is_official": "json_extract(data, '$.is_official')",
}


#: The open incidents with an escalation step due by a moment under some rules, or not worked out:
#: four ranges of the partial index incidents_step (the planner would otherwise walk every open one).
_STEP_DUE = " UNION ALL ".join(
    "SELECT rowid FROM incidents INDEXED BY incidents_step "
    f"WHERE status IN ('new', 'assigned', 'interim') AND {term}"
    for term in (
        "step_rules IS NULL",
        "step_rules < ?",
        "step_rules > ?",
        "step_rules = ? AND step_due_at <= ?",
    )
)


class SqliteStore:
    """The Store on one SQLite file, safe for several threads (a connection each) and processes."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 10.0) -> None:
        """Open (creating the directory and schema if needed) the database at `path`."""
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: dict[int, sqlite3.Connection] = {}
        self._forked: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._closed = False
        self._counts_cache = HourlyCountsCache()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"не удалось создать папку базы данных {self.path.parent}: {exc}") from exc
        try:
            with self._guard():
                migrate(self._conn())
        except SchemaTooNew as exc:
            self.close()
            raise StoreUnavailable(f"{exc}: обновите программу ({self.path})") from exc
        except BaseException:
            self.close()
            raise

    # Connections and transactions

    def _connect(self) -> sqlite3.Connection:
        """Open a new connection with WAL, the busy timeout and foreign keys."""
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # Checkpoint every ~40 MB of WAL instead of 4 MB (fewer fsyncs under bulk upserts), and
            # truncate the WAL file back to 64 MB after a checkpoint.
            conn.execute("PRAGMA wal_autocheckpoint = 10000")
            conn.execute("PRAGMA journal_size_limit = 67108864")
            conn.execute("PRAGMA foreign_keys = ON")
            register_functions(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _conn(self) -> sqlite3.Connection:
        """Return this thread's connection, opening it on first use (and again after a fork)."""
        if self._closed:
            raise StoreUnavailable("хранилище закрыто")
        if os.getpid() != self._pid:
            # Connections must not cross a fork: set the parent's aside unclosed (closing one here
            # could checkpoint and delete the WAL file the parent still uses).
            with self._lock:
                self._forked.extend(self._conns.values())
                self._conns = {}
                self._local = threading.local()
                self._pid = os.getpid()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        conn = self._connect()
        self._local.conn = conn
        with self._lock:
            alive = {thread.ident for thread in threading.enumerate()}
            for ident in [ident for ident in self._conns if ident not in alive]:
                self._conns.pop(ident).close()
            self._conns[threading.get_ident()] = conn
        return conn

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn locked-database, I/O and OS errors into StoreUnavailable with a Russian message."""
        try:
            yield
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
            raise
        except sqlite3.DatabaseError as exc:
            message = str(exc)
            if "locked" in message or "busy" in message:
                raise StoreUnavailable(
                    f"база данных {self.path} занята дольше {self.busy_timeout_s:g} с; повторите позже"
                ) from exc
            if "full" in message:  # SQLITE_FULL: the transaction was rolled back, the file is intact
                raise StoreUnavailable(_disk_full_message(self.path)) from exc
            raise StoreUnavailable(f"база данных {self.path} недоступна: {message}") from exc
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise StoreUnavailable(_disk_full_message(self.path)) from exc
            raise StoreUnavailable(f"база данных {self.path} недоступна: {exc}") from exc

    @contextmanager
    def _tx(self, begin: str) -> Iterator[sqlite3.Connection]:
        """Run the body in one transaction started with `begin`; roll back on any error."""
        with self._guard():
            conn = self._conn()
            conn.execute(begin)
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Run the body in a write transaction (it takes the write lock at once, so never deadlocks)."""
        with self._tx("BEGIN IMMEDIATE") as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """Run the body in a read transaction (one consistent snapshot for several statements)."""
        with self._tx("BEGIN") as conn:
            yield conn

    def close(self) -> None:
        """Close every thread's connection; later calls raise StoreUnavailable."""
        with self._lock:
            self._closed = True
            conns = list(self._conns.values())
            self._conns = {}
        for conn in conns:
            with suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    def __enter__(self) -> SqliteStore:
        """Return the store itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the store."""
        self.close()

    # Posts

    def upsert_posts(self, posts: Sequence[Post]) -> int:
        """Insert or replace posts by id, keeping full text and rollups in step; return how many were new."""
        rows = {post.id: _PostRow.of(post) for post in posts}  # the last copy of an id wins
        if not rows:
            return 0
        with self._write() as conn:
            existing = {
                row[0]: row[1:]
                for row in conn.execute(
                    "SELECT id, rowid, published_at, source, sector, territory, data FROM posts "
                    "WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps(list(rows)),),
                )
            }
            new = [row for pid, row in rows.items() if pid not in existing]
            changed = [row for pid, row in rows.items() if pid in existing and existing[pid][5] != row.data]
            deltas: Counter[_RollupKey] = Counter()
            for row in new:
                deltas.update(row.rollup_keys())
            for row in changed:
                _, published_at, source, sector, territory, _ = existing[row.id]
                deltas.subtract(_rollup_keys(published_at, sector, territory, source))
                deltas.update(row.rollup_keys())
            conn.executemany(_INSERT_POST, [row.columns() for row in new])
            conn.executemany(_UPDATE_POST, [row.columns() for row in changed])
            conn.executemany("DELETE FROM posts_fts WHERE rowid = ?", [(existing[r.id][0],) for r in changed])
            conn.executemany(
                "INSERT INTO posts_fts (rowid, lemmas) SELECT rowid, ? FROM posts WHERE id = ?",
                [(row.lemmas, row.id) for row in (*new, *changed) if row.lemmas],
            )
            moved = [(*key, delta) for key, delta in deltas.items() if delta]
            log_hours(conn, [key[1] for key in moved])
            conn.executemany(
                "INSERT INTO rollups (grouping, bucket, sector, territory, source, count) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (grouping, bucket, sector, territory, source) "
                "DO UPDATE SET count = count + excluded.count",
                moved,
            )
            conn.executemany(
                "DELETE FROM rollups WHERE grouping = ? AND bucket = ? AND sector = ? AND territory = ? "
                "AND source = ? AND count <= 0",
                [key[:5] for key in moved if key[5] < 0],
            )
        return len(new)

    def get_post(self, post_id: str) -> Post | None:
        """Return one post by id, or None."""
        with self._guard():
            row = self._conn().execute("SELECT data FROM posts WHERE id = ?", (post_id,)).fetchone()
        return None if row is None else Post.model_validate_json(row[0])

    @staticmethod
    def _post_filter(query: PostQuery, fts_per_row: bool = False) -> tuple[str, list[Any]]:
        """Return the WHERE clause (or '') and its parameters for `query`.

        With `fts_per_row` the full text is checked post by post (for a scan along an index).
        """
        clauses: list[str] = []
        params: list[Any] = []
        if query.text is not None and (match := fts_query(query.text)) is not None:
            if fts_per_row:
                clauses.append(
                    "EXISTS (SELECT 1 FROM posts_fts "
                    "WHERE posts_fts MATCH ? AND posts_fts.rowid = posts.rowid)"
                )
            else:
                clauses.append("rowid IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?)")
            params.append(match)
        if query.since is not None:
            clauses.append("published_at >= ?")
            params.append(_ts(query.since))
        if query.until is not None:
            clauses.append("published_at < ?")
            params.append(_ts(query.until))
        for column in ("sector", "territory", "source", "kind", "tone", "page_id", "thread_id", "story_id"):
            value = getattr(query, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(str(value))
        if query.ids is not None:
            clauses.append("id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(query.ids)))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def query_posts(self, query: PostQuery) -> Page[Post]:
        """Return the posts matching `query` (newest first by default) and the total count."""
        _check_paging(query.limit, query.offset)
        where, params = self._post_filter(query)
        order = "DESC" if query.newest_first else "ASC"
        by = f"ORDER BY published_at {order}, id {order}"
        match = None if query.text is None else fts_query(query.text)
        cap = query.total_cap if match is not None else None
        with self._read() as conn:

            def count(part: PostQuery) -> int:
                part_where, part_params = self._post_filter(part)
                return int(conn.execute(f"SELECT count(*) FROM posts{part_where}", part_params).fetchone()[0])

            total = rollup_total(conn, query, match is not None, count)
            if total is None and match is not None and cap is not None:
                plain = replace(query, text=None)
                rest = "" if self._post_filter(plain)[0] == "" else where
                total = capped_total(conn, match, rest, params, cap)
            if total is None:
                total = fulltext_total(conn, query, match)
            if total is None:
                total = count(query)
            exact = cap is None or total <= cap
            rows: list[Any] | None = None
            if not exact:
                rows = self._capped_page(conn, query, by, all_posts(conn))
            if rows is None:
                rows = self._page_rows(conn, query, where, params, by, total)
        items = [Post.model_validate_json(row[0]) for row in rows]
        if not exact:
            return Page(items=items, total=cap or 0, total_exact=False)
        return Page(items=items, total=total)

    def _page_rows(
        self, conn: sqlite3.Connection, query: PostQuery, where: str, params: list[Any], by: str, total: int
    ) -> list[Any]:
        """Return the rows of a page of `total` matches (`where` and `params` from `_post_filter`)."""
        if query.text is None or fts_query(query.text) is None:
            sql = f"SELECT data FROM posts{where} {by} LIMIT ? OFFSET ?"
        elif read_along_time(total, query.offset + query.limit, all_posts(conn)):
            # A common word: walk the time index, checking each post's full text, until the page fills.
            where, params = self._post_filter(query, fts_per_row=True)
            sql = f"SELECT data FROM posts INDEXED BY posts_published{where} {by} LIMIT ? OFFSET ?"
        else:
            # A rarer word: sort the matches' keys only, then read the page's rows.
            sql = (
                f"SELECT data FROM posts WHERE rowid IN "
                f"(SELECT rowid FROM posts{where} {by} LIMIT ? OFFSET ?) {by}"
            )
        return conn.execute(sql, [*params, query.limit, query.offset]).fetchall()

    def _capped_page(
        self, conn: sqlite3.Connection, query: PostQuery, by: str, posts: int
    ) -> list[Any] | None:
        """Return a full-text page's rows read among the newest posts only, or None when they lack it.

        More than `total_cap` posts match, so a page is likely among the newest few thousand posts: walk
        them along the time order, checking each against the full text, up to a time bound.
        """
        wanted = query.offset + query.limit
        plain_where, plain_params = self._post_filter(replace(query, text=None))
        rows_walked = walk_rows(wanted, query.total_cap or 1, posts)
        bound = walk_bound(conn, plain_where, plain_params, rows_walked, query.newest_first)
        where, params = self._post_filter(query, fts_per_row=True)
        if bound is not None:
            where += " AND published_at >= ?" if query.newest_first else " AND published_at <= ?"
            params.append(bound)
        sql = f"SELECT data FROM posts INDEXED BY posts_published{where} {by} LIMIT ? OFFSET ?"
        rows = conn.execute(sql, [*params, query.limit, query.offset]).fetchall()
        if bound is not None and len(rows) < query.limit:
            return None  # the matches are older than the walked rows: sort them instead
        return rows

    def count_posts(self, query: PostQuery) -> int:
        """Return how many posts match `query` (limit and offset ignored)."""
        where, params = self._post_filter(query)
        with self._guard():
            return int(self._conn().execute(f"SELECT count(*) FROM posts{where}", params).fetchone()[0])

    def post_facets(self, query: PostQuery, by: Sequence[FacetField]) -> list[FacetRow]:
        """Return how many posts matching `query` share each combination of the `by` fields (GROUP BY)."""
        unknown = [name for name in by if name not in _FACET_SQL]
        if unknown:
            raise ValueError(f"нельзя группировать по полям: {', '.join(map(str, unknown))}")
        fields = list(dict.fromkeys(by))
        where, params = self._post_filter(query)
        columns = "".join(f"{_FACET_SQL[name]}, " for name in fields)
        group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(fields)))}" if fields else ""
        with self._guard():
            rows = (
                self._conn().execute(f"SELECT {columns}count(*) FROM posts{where}{group}", params).fetchall()
            )
        return [
            FacetRow(
                count=int(row[-1]),
                values={
                    name: (bool(value) if name == "is_official" and value is not None else value)
                    for name, value in zip(fields, row, strict=False)
                },
            )
            for row in rows
            if row[-1]
        ]

    def counts(
        self,
        since: datetime,
        until: datetime,
        by: Sequence[CountField] = (),
        bucket: Bucket = "hour",
    ) -> list[CountRow]:
        """Return post counts per UTC bucket and per `by` fields, read from the hourly rollups only.

        Every hour that overlaps [since, until) counts whole; a day row sums its hours in the window.
        """
        unknown = [name for name in by if name not in _COUNT_FIELDS]
        if unknown:
            raise ValueError(f"нельзя группировать по полям: {', '.join(map(str, unknown))}")
        if bucket not in _BUCKET_S:
            raise ValueError(f"неизвестный интервал: {bucket}")
        fields = [name for name in _COUNT_FIELDS if name in by]
        grouping = sum(GROUP_BITS[name] for name in fields)
        if bucket == "hour":
            # Whole hours from the per-process cache; only hours written since the last call are read.
            with self._read() as conn:
                return self._counts_cache.hourly(conn, grouping, fields, hour_bucket(_ts(since)), _ts(until))
        window = "FROM rollups WHERE grouping = ? AND bucket >= ? AND bucket < ?"
        size, shift = _BUCKET_S[bucket], _EPOCH_SHIFT_S
        group = ", ".join(["b", *fields])
        start = f"((bucket + {shift}) / {size}) * {size} - {shift}"
        select = ", ".join([f"{start} AS b", *fields, "sum(count)"])
        sql = f"SELECT {select} {window} GROUP BY {group} ORDER BY {group}"
        with self._guard():
            rows = self._conn().execute(sql, (grouping, hour_bucket(_ts(since)), _ts(until))).fetchall()
        sector_at, territory_at, source_at = (
            fields.index(name) + 1 if name in fields else 0 for name in _COUNT_FIELDS
        )
        starts: dict[int, datetime] = {}
        result: list[CountRow] = []
        for row in rows:
            start_s = row[0]
            if start_s not in starts:
                starts[start_s] = datetime.fromtimestamp(start_s, UTC)
            result.append(
                CountRow(
                    bucket=starts[start_s],
                    count=row[-1],
                    sector=(row[sector_at] or None) if sector_at else None,
                    territory=(row[territory_at] or None) if territory_at else None,
                    source=(row[source_at] or None) if source_at else None,
                )
            )
        return result

    def delete_posts_before(self, cutoff: datetime, *, batch: int = 20_000) -> int:
        """Delete every post published before `cutoff`, its full text and its rollup counts; return how many.

        Works oldest first in transactions of `batch` posts, so writers are never blocked for long.
        """
        cutoff_s = _ts(cutoff)
        deleted = 0
        while True:
            with self._write() as conn:
                rows = conn.execute(
                    "SELECT rowid, published_at, source, sector, territory FROM posts "
                    "WHERE published_at < ? ORDER BY published_at LIMIT ?",
                    (cutoff_s, batch),
                ).fetchall()
                if not rows:
                    break
                _delete_post_rows(conn, rows)
                deleted += len(rows)
        try:
            self.merge_fulltext()
        except StoreUnavailable:  # merging is an optimisation: the deletions stand, the next run merges
            log.warning("full-text merge after retention failed", exc_info=True)
        return deleted

    def merge_fulltext(self, pages_per_step: int = FTS_MERGE_PAGES, max_steps: int = 100_000) -> int:
        """Merge the full-text index's segments, a few hundred pages per short transaction; return steps.

        Ingest adds a segment per write and FTS5 merges them only now and then; a query probes every
        segment, so a full-text page over a merged index costs about half the CPU (4 vs 10 ms at
        100,000 posts). Retention calls this after deleting; `pages_per_step` bounds how long each
        transaction holds the write lock.
        """
        for step in range(max_steps):
            with self._write() as conn:
                before = conn.total_changes
                conn.execute("INSERT INTO posts_fts(posts_fts, rank) VALUES('merge', ?)", (-pages_per_step,))
                if conn.total_changes - before < 2:  # FTS5: no more work to do
                    return step + 1
        return max_steps

    def forget_author(self, author_id: str, at: datetime) -> list[Post]:
        """Delete every post by `author_id` and clean the incidents and alerts about them; return the posts.

        One transaction: the posts with their full text and counts, the incidents' post lists and audit
        texts (index.forgetting.scrub_incident, version bumped), the alerts' post ids, examples and
        quotes. Reads every post's JSON once (there is no author column), so it takes seconds on a
        million posts; it is a rare administrative command.
        """
        if not author_id:
            return []
        with self._write() as conn:
            rows = conn.execute(
                "SELECT rowid, published_at, source, sector, territory, data FROM posts "
                "WHERE json_extract(data, '$.author_id') = ?",
                (author_id,),
            ).fetchall()
            if not rows:
                return []
            posts = [Post.model_validate_json(row[5]) for row in rows]
            _delete_post_rows(conn, [row[:5] for row in rows])
            ids = json.dumps([p.id for p in posts])
            incident_rows = conn.execute(
                "SELECT data FROM incidents WHERE id IN (SELECT incident_id FROM incident_posts "
                "WHERE post_id IN (SELECT value FROM json_each(?)))",
                (ids,),
            ).fetchall()
            for (data,) in incident_rows:
                incident = Incident.model_validate_json(data)
                scrubbed = scrub_incident(incident, posts, at)
                if scrubbed is None:
                    continue
                saved = scrubbed.model_copy(update={"version": incident.version + 1})
                conn.execute(
                    "UPDATE incidents SET version = ?, data = ? WHERE id = ?",
                    (saved.version, saved.model_dump_json(), saved.id),
                )
            conn.execute(
                "DELETE FROM incident_posts WHERE post_id IN (SELECT value FROM json_each(?))", (ids,)
            )
            for alert_id, data in conn.execute("SELECT id, data FROM alerts").fetchall():
                cleaned = scrub_alert(Alert.model_validate_json(data), posts)
                if cleaned is not None:
                    conn.execute(
                        "UPDATE alerts SET data = ? WHERE id = ?", (cleaned.model_dump_json(), alert_id)
                    )
        return posts

    # Incidents

    def save_incident(self, incident: Incident, expected_version: int | None = None) -> Incident:
        """Write an incident with optimistic concurrency; return it with its new version."""
        with self._write() as conn:
            return self._write_incident(conn, incident, expected_version)

    def save_incidents(self, writes: Sequence[tuple[Incident, int | None]]) -> list[Incident]:
        """Write several incidents in one transaction, each under its expected version; all or none."""
        with self._write() as conn:
            return [self._write_incident(conn, incident, expected) for incident, expected in writes]

    @staticmethod
    def _write_incident(
        conn: sqlite3.Connection, incident: Incident, expected_version: int | None
    ) -> Incident:
        """Write one incident inside the caller's transaction; raise VersionConflict on a lost race."""
        version = 1 if expected_version is None else expected_version + 1
        saved = incident.model_copy(update={"version": version})
        step_rules, step_due_at = saved.step_index()
        values = (
            saved.status.value,
            saved.recipient,
            saved.sector,
            saved.territory,
            _ts(saved.created_at),
            _opt_ts(saved.first_answer_due),
            _opt_ts(saved.final_answer_due),
            step_rules,
            _opt_ts(step_due_at),
            version,
            saved.model_dump_json(),
        )
        if expected_version is None:
            cursor = conn.execute(
                "INSERT INTO incidents (status, recipient, sector, territory, created_at, "
                "first_answer_due, final_answer_due, step_rules, step_due_at, version, data, id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (*values, saved.id),
            )
            if cursor.rowcount != 1:
                raise VersionConflict(f"инцидент {saved.id} уже существует")
        else:
            cursor = conn.execute(
                "UPDATE incidents SET status = ?, recipient = ?, sector = ?, territory = ?, "
                "created_at = ?, first_answer_due = ?, final_answer_due = ?, step_rules = ?, "
                "step_due_at = ?, version = ?, data = ? "
                "WHERE id = ? AND version = ?",
                (*values, saved.id, expected_version),
            )
            if cursor.rowcount != 1:
                row = conn.execute("SELECT version FROM incidents WHERE id = ?", (saved.id,)).fetchone()
                found = "не существует" if row is None else f"имеет версию {row[0]}"
                raise VersionConflict(
                    f"инцидент {saved.id} {found}, ожидалась версия {expected_version}: "
                    "его изменил кто-то другой, обновите и повторите"
                )
        # Only the rows that change: rewriting all of them made a save cost as much as the incident's
        # size (a 3,000-post incident's save: 17 ms, 7 ms with this; profiled under bench/incident_attach.py).
        # The held ids come as one JSON array (assembled in SQLite, parsed in C): building the set a row
        # at a time took 1.2 s of 2,000 saves' 5.5 s (cProfile, bench/incident_attach.py --posts 2000).
        listed = set(saved.post_ids)
        (held_json,) = conn.execute(
            "SELECT json_group_array(post_id) FROM incident_posts WHERE incident_id = ?", (saved.id,)
        ).fetchone()
        held: set[str] = set(json.loads(held_json))
        conn.executemany(
            "DELETE FROM incident_posts WHERE post_id = ? AND incident_id = ?",
            [(post_id, saved.id) for post_id in held - listed],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO incident_posts (post_id, incident_id) VALUES (?, ?)",
            [(post_id, saved.id) for post_id in saved.post_ids if post_id not in held],
        )
        return saved

    def get_incident(self, incident_id: str) -> Incident | None:
        """Return one incident by id, or None."""
        with self._guard():
            row = self._conn().execute("SELECT data FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return None if row is None else Incident.model_validate_json(row[0])

    def query_incidents(self, query: IncidentQuery) -> Page[Incident]:
        """Return incidents matching `query`, newest first (by created_at)."""
        _check_paging(query.limit, query.offset)
        clauses: list[str] = []
        params: list[Any] = []
        if query.status is not None:
            clauses.append("status IN (SELECT value FROM json_each(?))")
            params.append(json.dumps([IncidentStatus(s).value for s in query.status]))
        for column in ("recipient", "sector", "territory"):
            value = getattr(query, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if query.since is not None:
            clauses.append("created_at >= ?")
            params.append(_ts(query.since))
        if query.until is not None:
            clauses.append("created_at < ?")
            params.append(_ts(query.until))
        if query.overdue_at is not None:
            moment = _ts(query.overdue_at)
            clauses.append(
                f"((status IN ({_sql_list(_FIRST_DUE)}) AND first_answer_due < ?) "
                f"OR (status IN ({_sql_list(_FINAL_DUE)}) AND final_answer_due < ?))"
            )
            params.extend([moment, moment])
        if query.escalation_below is not None:
            clauses.append("json_extract(data, '$.escalation_level') < ?")
            params.append(query.escalation_below)
        if query.step_due_at is not None:
            clauses.append(f"rowid IN ({_STEP_DUE})")
            params.extend([query.step_rules] * 3 + [_ts(query.step_due_at)])
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        with self._read() as conn:
            total = int(conn.execute(f"SELECT count(*) FROM incidents{where}", params).fetchone()[0])
            # Sort the keys only, then read the page's rows (the sorter would carry every row's JSON).
            by = "ORDER BY created_at DESC, id DESC"
            rows = conn.execute(
                f"SELECT data FROM incidents WHERE rowid IN "
                f"(SELECT rowid FROM incidents{where} {by} LIMIT ? OFFSET ?) {by}",
                [*params, query.limit, query.offset],
            ).fetchall()
        return Page(items=[Incident.model_validate_json(row[0]) for row in rows], total=total)

    def find_incident_for_post(self, post_id: str) -> Incident | None:
        """Return the incident a post is attached to, or None."""
        with self._guard():
            row = (
                self._conn()
                .execute(
                    "SELECT i.data FROM incident_posts AS p JOIN incidents AS i ON i.id = p.incident_id "
                    "WHERE p.post_id = ?",
                    (post_id,),
                )
                .fetchone()
            )
        return None if row is None else Incident.model_validate_json(row[0])

    # Alerts

    def add_alert(self, alert: Alert) -> bool:
        """Store an alert unless one with the same id exists; return True if it was new."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO alerts (id, kind, created_at, acknowledged, data) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                (
                    alert.id,
                    alert.kind.value,
                    _ts(alert.created_at),
                    int(alert.acknowledged_at is not None),
                    alert.model_dump_json(),
                ),
            )
            return cursor.rowcount == 1

    def get_alert(self, alert_id: str) -> Alert | None:
        """Return one alert by id, or None."""
        with self._guard():
            row = self._conn().execute("SELECT data FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return None if row is None else Alert.model_validate_json(row[0])

    def query_alerts(self, query: AlertQuery) -> Page[Alert]:
        """Return alerts matching `query`, newest first (by created_at)."""
        _check_paging(query.limit, query.offset)
        clauses: list[str] = []
        params: list[Any] = []
        if query.kind is not None:
            clauses.append("kind IN (SELECT value FROM json_each(?))")
            params.append(json.dumps([str(kind) for kind in query.kind]))
        if query.acknowledged is not None:
            clauses.append("acknowledged = ?")
            params.append(int(query.acknowledged))
        if query.since is not None:
            clauses.append("created_at >= ?")
            params.append(_ts(query.since))
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        with self._read() as conn:
            total = int(conn.execute(f"SELECT count(*) FROM alerts{where}", params).fetchone()[0])
            rows = conn.execute(
                f"SELECT data FROM alerts{where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            ).fetchall()
        return Page(items=[Alert.model_validate_json(row[0]) for row in rows], total=total)

    def acknowledge_alert(self, alert_id: str, by: str, at: datetime) -> Alert:
        """Mark an alert acknowledged (first acknowledgement wins); raise NotFound if absent."""
        with self._write() as conn:
            row = conn.execute("SELECT data FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            if row is None:
                raise NotFound(f"оповещение {alert_id} не найдено")
            alert = Alert.model_validate_json(row[0])
            if alert.acknowledged_at is None:
                alert = alert.model_copy(update={"acknowledged_at": as_utc(at), "acknowledged_by": by})
                conn.execute(
                    "UPDATE alerts SET acknowledged = 1, data = ? WHERE id = ?",
                    (alert.model_dump_json(), alert_id),
                )
        return alert

    # Subscriptions and the delivery log

    def save_subscription(self, subscription: Subscription) -> None:
        """Store a subscription (replace by id)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO subscriptions (id, data) VALUES (?, ?) "
                "ON CONFLICT (id) DO UPDATE SET data = excluded.data",
                (subscription.id, subscription.model_dump_json()),
            )

    def get_subscription(self, subscription_id: str) -> Subscription | None:
        """Return one subscription by id, or None."""
        with self._guard():
            row = (
                self._conn()
                .execute("SELECT data FROM subscriptions WHERE id = ?", (subscription_id,))
                .fetchone()
            )
        return None if row is None else Subscription.model_validate_json(row[0])

    def list_subscriptions(self) -> list[Subscription]:
        """Return every subscription, by id."""
        with self._guard():
            rows = self._conn().execute("SELECT data FROM subscriptions ORDER BY id").fetchall()
        return [Subscription.model_validate_json(row[0]) for row in rows]

    def delete_subscription(self, subscription_id: str) -> bool:
        """Delete a subscription; return False when there was none."""
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM subscriptions WHERE id = ?", (subscription_id,))
            return cursor.rowcount == 1

    @staticmethod
    def _delivery_row(delivery: Delivery) -> tuple[Any, ...]:
        """Return the deliveries table values of `delivery` (id last)."""
        return (
            delivery.alert_id,
            delivery.subscription_id,
            delivery.destination,
            delivery.status.value,
            delivery.seq,
            delivery.model_dump_json(),
            delivery.id,
        )

    def add_delivery(self, delivery: Delivery) -> bool:
        """Store a delivery unless one with the same id exists; return True if it was new."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO deliveries (alert_id, subscription_id, destination, status, seq, data, id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                self._delivery_row(delivery),
            )
            return cursor.rowcount == 1

    def save_delivery(self, delivery: Delivery) -> None:
        """Store a delivery (replace by id)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO deliveries (alert_id, subscription_id, destination, status, seq, data, id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET alert_id = excluded.alert_id, "
                "subscription_id = excluded.subscription_id, destination = excluded.destination, "
                "status = excluded.status, seq = excluded.seq, data = excluded.data",
                self._delivery_row(delivery),
            )

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        """Return one delivery by id, or None."""
        with self._guard():
            row = self._conn().execute("SELECT data FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        return None if row is None else Delivery.model_validate_json(row[0])

    def query_deliveries(self, query: DeliveryQuery) -> Page[Delivery]:
        """Return the deliveries matching `query` in sending order (seq, id) unless newest_first."""
        _check_paging(query.limit, query.offset)
        clauses: list[str] = []
        params: list[Any] = []
        for column in ("alert_id", "subscription_id", "destination"):
            value = getattr(query, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if query.status is not None:
            clauses.append("status IN (SELECT value FROM json_each(?))")
            params.append(json.dumps([DeliveryStatus(s).value for s in query.status]))
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        order = "DESC" if query.newest_first else "ASC"
        with self._read() as conn:
            total = int(conn.execute(f"SELECT count(*) FROM deliveries{where}", params).fetchone()[0])
            rows = conn.execute(
                f"SELECT data FROM deliveries{where} ORDER BY seq {order}, id {order} LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            ).fetchall()
        return Page(items=[Delivery.model_validate_json(row[0]) for row in rows], total=total)

    # Sources and pages

    def get_source_state(self, name: str) -> SourceState | None:
        """Return a collector's state, or None if it never ran."""
        with self._guard():
            row = self._conn().execute("SELECT data FROM source_states WHERE name = ?", (name,)).fetchone()
        return None if row is None else SourceState.model_validate_json(row[0])

    def save_source_state(self, state: SourceState) -> None:
        """Store a collector's state (replace by name)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO source_states (name, data) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET data = excluded.data",
                (state.name, state.model_dump_json()),
            )

    def list_source_states(self) -> list[SourceState]:
        """Return every collector's state, by name."""
        with self._guard():
            rows = self._conn().execute("SELECT data FROM source_states ORDER BY name").fetchall()
        return [SourceState.model_validate_json(row[0]) for row in rows]

    def save_pages(self, pages: Sequence[OfficialPage]) -> None:
        """Store official pages (replace by id)."""
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO pages (id, data) VALUES (?, ?) "
                "ON CONFLICT (id) DO UPDATE SET data = excluded.data",
                [(page.id, page.model_dump_json()) for page in pages],
            )

    def list_pages(self) -> list[OfficialPage]:
        """Return every official page, by id."""
        with self._guard():
            rows = self._conn().execute("SELECT data FROM pages ORDER BY id").fetchall()
        return [OfficialPage.model_validate_json(row[0]) for row in rows]

    # Content plan

    def save_plan_decision(self, decision: PlanDecision) -> None:
        """Store a content-plan decision (replace by slot_id)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO plan_decisions (slot_id, week, data) VALUES (?, ?, ?) "
                "ON CONFLICT (slot_id) DO UPDATE SET week = excluded.week, data = excluded.data",
                (decision.slot_id, decision.week, decision.model_dump_json()),
            )

    def list_plan_decisions(self, week: str) -> list[PlanDecision]:
        """Return the decisions of one planned week, by slot_id."""
        with self._guard():
            rows = (
                self._conn()
                .execute("SELECT data FROM plan_decisions WHERE week = ? ORDER BY slot_id", (week,))
                .fetchall()
            )
        return [PlanDecision.model_validate_json(row[0]) for row in rows]


def _delete_post_rows(conn: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> None:
    """Delete posts given as (rowid, published_at, source, sector, territory) with full text and counts."""
    deltas: Counter[_RollupKey] = Counter()
    for _, published_at, source, sector, territory in rows:
        deltas.update(_rollup_keys(published_at, sector, territory, source))
    rowids = json.dumps([row[0] for row in rows])
    conn.execute("DELETE FROM posts_fts WHERE rowid IN (SELECT value FROM json_each(?))", (rowids,))
    conn.execute("DELETE FROM posts WHERE rowid IN (SELECT value FROM json_each(?))", (rowids,))
    log_hours(conn, [key[1] for key in deltas])
    conn.executemany(
        "UPDATE rollups SET count = count - ? WHERE grouping = ? AND bucket = ? AND sector = ? "
        "AND territory = ? AND source = ?",
        [(n, *key) for key, n in deltas.items()],
    )
    conn.execute("DELETE FROM rollups WHERE count <= 0")


def _disk_full_message(path: Path) -> str:
    """Return the Russian error for a write refused because the disk of `path` is full."""
    return (
        f"на диске с базой данных {path} нет места: запись не выполнена (база не повреждена); "
        "освободите место — запись продолжится сама"
    )


def _check_paging(limit: int, offset: int) -> None:
    """Raise ValueError for a negative limit or offset."""
    if limit < 0 or offset < 0:
        raise ValueError("limit и offset не могут быть отрицательными")


def _sql_list(values: Sequence[str]) -> str:
    """Return constant `values` as an SQL list of string literals (for our own constants only)."""
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)
