"""Fast reads of post pages in SQLite: totals from the hourly rollups, and the plan for full-text pages.

A page's total is exact: for filters the rollups keep (period, sector, territory, source) it is the
sum of the whole hours' rollup rows plus a count of the posts in the partial hours at both ends; a
full-text query with no other filter is counted in the full-text index alone. A full-text page of a
common word is read newest first along the time index, checking each post against the index, instead
of sorting every matching post.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from index.models import as_utc
from index.sqlite_schema import GROUP_BITS, HOUR_S, hour_bucket
from index.store import PostQuery

#: Fields of PostQuery the rollups keep; any other filter needs the posts themselves.
ROLLUP_FIELDS = ("sector", "territory", "source")
#: Fields of PostQuery beside the full text, period and rollup fields.
OTHER_FIELDS = ("kind", "tone", "page_id", "thread_id", "story_id", "ids")
#: A row read along the time index (one full-text probe) costs about this many matching-row lookups.
PROBE_COST = 10


def _at(epoch_s: int) -> datetime:
    """Return whole epoch seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch_s, UTC)


def rollup_total(
    conn: sqlite3.Connection, query: PostQuery, has_text: bool, count: Callable[[PostQuery], int]
) -> int | None:
    """Return how many posts match `query` from the rollups, or None when they cannot tell.

    `count` counts the posts of a query directly; it is called for the partial hours at the ends of
    the period only.
    """
    if has_text or any(getattr(query, name) is not None for name in OTHER_FIELDS):
        return None
    values = {name: getattr(query, name) for name in ROLLUP_FIELDS}
    if any(value == "" for value in values.values()):  # the rollups keep '' for "not set"
        return None
    since_s = None if query.since is None else as_utc(query.since).timestamp()
    until_s = None if query.until is None else as_utc(query.until).timestamp()
    first = None if since_s is None else hour_bucket(since_s) + (0 if since_s % HOUR_S == 0 else HOUR_S)
    last = None if until_s is None else hour_bucket(until_s)
    if first is not None and last is not None and first >= last:
        return None  # no whole hour in the period: the posts are few, count them
    clauses, params = ["grouping = ?"], [sum(GROUP_BITS[n] for n, v in values.items() if v is not None)]
    for name, value in values.items():
        if value is not None:
            clauses.append(f"{name} = ?")
            params.append(value)
    if first is not None:
        clauses.append("bucket >= ?")
        params.append(first)
    if last is not None:
        clauses.append("bucket < ?")
        params.append(last)
    sql = f"SELECT coalesce(sum(count), 0) FROM rollups WHERE {' AND '.join(clauses)}"
    total = int(conn.execute(sql, params).fetchone()[0])
    if first is not None and since_s is not None and since_s < first:
        total += count(replace(query, until=_at(first)))
    if last is not None and until_s is not None and last < until_s:
        total += count(replace(query, since=_at(last)))
    return total


def fulltext_total(conn: sqlite3.Connection, query: PostQuery, match: str | None) -> int | None:
    """Return how many posts match a full-text-only `query` (FTS5 expression `match`), else None."""
    if match is None or query.since is not None or query.until is not None:
        return None
    if any(getattr(query, name) is not None for name in (*ROLLUP_FIELDS, *OTHER_FIELDS)):
        return None
    return int(conn.execute("SELECT count(*) FROM posts_fts WHERE posts_fts MATCH ?", (match,)).fetchone()[0])


def all_posts(conn: sqlite3.Connection) -> int:
    """Return how many posts the store holds (from the rollups)."""
    return int(conn.execute("SELECT coalesce(sum(count), 0) FROM rollups WHERE grouping = 0").fetchone()[0])


def read_along_time(matches: int, wanted: int, posts: int) -> bool:
    """Return whether a full-text page is cheaper read along the time index than sorted from its matches.

    Along the time index about wanted × posts / matches rows are probed; sorting looks up every match.
    """
    return matches > 0 and matches * matches > PROBE_COST * wanted * posts


#: A capped full-text page is first looked for among this many times the rows an even spread needs.
WALK_SLACK = 4
#: ... and among at least this many rows.
WALK_MIN_ROWS = 2_000


def capped_total(conn: sqlite3.Connection, match: str, where: str, params: list[object], cap: int) -> int:
    """Return how many posts match, counting at most `cap + 1` of them (`where` filters `posts`).

    A full-text-only query (`where` empty of other filters) is counted in the full-text index alone.
    """
    if where:
        sql = f"SELECT count(*) FROM (SELECT 1 FROM posts{where} LIMIT ?)"
        return int(conn.execute(sql, [*params, cap + 1]).fetchone()[0])
    sql = "SELECT count(*) FROM (SELECT 1 FROM posts_fts WHERE posts_fts MATCH ? LIMIT ?)"
    return int(conn.execute(sql, (match, cap + 1)).fetchone()[0])


def walk_rows(wanted: int, cap: int, posts: int) -> int:
    """Return how many of the newest rows a page of `wanted` posts is looked for in when ≥ `cap` match.

    With at least `cap` matches among `posts` spread evenly, `wanted × posts / cap` rows hold the page.
    """
    return max(WALK_MIN_ROWS, WALK_SLACK * wanted * posts // max(cap, 1))


def walk_bound(
    conn: sqlite3.Connection, where: str, params: list[object], rows: int, newest_first: bool
) -> float | None:
    """Return the publication time of the `rows`-th post along the time order (None: fewer posts).

    `where` holds every filter but the full text; the posts at or beyond the bound are a prefix of the
    order, so the matches among them are the first matches of the whole order.
    """
    order = "DESC" if newest_first else "ASC"
    sql = f"SELECT published_at FROM posts{where} ORDER BY published_at {order} LIMIT 1 OFFSET ?"
    row = conn.execute(sql, [*params, rows]).fetchone()
    return None if row is None else float(row[0])
