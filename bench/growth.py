"""Benchmark how ingest rate and query latency change as the sqlite store grows: 100k → 1M → 5M posts.

One store grows through the sizes (synthetic posts from bench.store.make_posts, upserted in batches
of 10,000; a steady 3,333 posts a day, so 100k posts are 30 days of history and 5M are four years).
The store is kept under the system temp directory (`--store` elsewhere) with a note of the history it
holds, so a later run goes on from there instead of filling it again. From `--copy-from` posts on
(100k) the store grows by copying its posts in SQL, shifted further back in time, with their full
text and rollup counts (copy_history): the same rows upserts write, in minutes instead of hours.
At each size:

- ingest: posts/s of upserting `--ingest` new posts of the last hour in batches of 500 (what a worker
  does after understanding; the understanding step itself does not depend on the store's size — see
  bench/ingest.py), median of 3 rounds;
- queries (median ms of `--calls` calls, through the Store as the API calls it): the newest page of
  posts (50, with the total), a two-word full-text search, one sector over the last 7 days, the 30-day
  hourly counts by sector (the spike and indicators input), one post by id.

Usage: .venv/bin/python bench/growth.py [--sizes 100000,1000000,5000000] [--calls 20] [--ingest 5000]
       [--store FILE]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.store import END, make_posts
from index.sqlite import SqliteStore
from index.sqlite_counts import log_hours
from index.sqlite_schema import register_functions
from index.store import PostQuery

#: Posts a day of the synthetic history.
PER_DAY = 3333
#: Posts per upsert while filling, and generated at a time.
FILL_BATCH = 10_000
GENERATE = 50_000
#: Posts per upsert in the ingest measurement (a worker's batch).
INGEST_BATCH = 500
#: Measure CPU time instead of wall time (set by --cpu: figures that do not depend on the machine's load).
CPU_CLOCK = False


def grow(store: SqliteStore, have: int, want: int) -> float:
    """Add posts older than the ones already there until the store holds `want`; return seconds."""
    started = time.perf_counter()
    for start in range(have, want, GENERATE):
        n = min(GENERATE, want - start)
        chunk = make_posts(n, max(1, round(n / PER_DAY)), seed=start, prefix=f"g{start}")
        offset = timedelta(days=start / PER_DAY)
        for post in chunk:
            post.published_at -= offset
        for i in range(0, n, FILL_BATCH):
            store.upsert_posts(chunk[i : i + FILL_BATCH])
    return time.perf_counter() - started


def copy_history(path: Path, want: int) -> float:
    """Grow the store at `path` to `want` posts by copying its posts in SQL further back in time; return s.

    Each round copies the posts there (at most the ones still missing) with new ids, shifted back by
    the span of history already held, then adds their full text and their rollup counts — the rows
    upsert_posts would write, at SQLite's speed instead of Python's.
    """
    started = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    register_functions(conn)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA cache_size = -1048576")  # 1 GiB: the indexes' pages stay in memory while copying
    conn.execute("PRAGMA synchronous = OFF")  # a benchmark store: a crash while copying means a new one
    columns = (
        "id, published_at, source, sector, territory, kind, tone, page_id, thread_id, story_id, parent_id"
    )
    while (
        have := int(conn.execute("SELECT sum(count) FROM rollups WHERE grouping = 0").fetchone()[0])
    ) < want:
        n = min(have, want - have)
        shift_s = have / PER_DAY * 86400
        prefix = f"c{have}:"
        top = int(conn.execute("SELECT max(rowid) FROM posts").fetchone()[0])
        conn.execute("BEGIN")
        conn.execute(
            f"INSERT INTO posts ({columns}, data) SELECT :p || id, published_at - :s, source, sector, "
            "territory, kind, tone, page_id, :p || thread_id, story_id, parent_id, "
            "json_set(data, '$.id', :p || id, '$.thread_id', :p || thread_id, '$.published_at', "
            "strftime('%Y-%m-%dT%H:%M:%fZ', published_at - :s, 'unixepoch')) "
            "FROM posts WHERE rowid <= :top ORDER BY rowid LIMIT :n",
            {"p": prefix, "s": shift_s, "top": top, "n": n},
        )
        conn.execute(
            "INSERT INTO posts_fts (rowid, lemmas) SELECT rowid, json_extract(data, '$.lemmas') FROM posts "
            "WHERE rowid > ? AND coalesce(json_extract(data, '$.lemmas'), '') != ''",
            (top,),
        )
        conn.execute(
            "INSERT INTO rollups (grouping, bucket, sector, territory, source, count) "
            "SELECT g.mask, hour_bucket(published_at), "
            "CASE WHEN g.mask & 1 THEN coalesce(sector, '') ELSE '' END, "
            "CASE WHEN g.mask & 2 THEN coalesce(territory, '') ELSE '' END, "
            "CASE WHEN g.mask & 4 THEN source ELSE '' END, count(*) "
            "FROM posts, (SELECT 0 AS mask UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 "
            "UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7) AS g "
            "WHERE posts.rowid > ? GROUP BY 1, 2, 3, 4, 5 "
            "ON CONFLICT (grouping, bucket, sector, territory, source) "
            "DO UPDATE SET count = count + excluded.count",
            (top,),
        )
        hours = conn.execute("SELECT DISTINCT hour_bucket(published_at) FROM posts WHERE rowid > ?", (top,))
        log_hours(conn, [int(row[0]) for row in hours])
        conn.execute("COMMIT")
        print(f"  copied {n:,} posts ({have + n:,} now)", flush=True)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # else the first measured upserts pay for it
    conn.close()
    return time.perf_counter() - started


def clock() -> float:
    """Return the time the measurements use: wall seconds, or this process's CPU seconds with --cpu."""
    return time.process_time() if CPU_CLOCK else time.perf_counter()


def store_path() -> Path:
    """Return where the growing store is kept between runs."""
    return Path(tempfile.gettempdir()) / "infopole-bench" / "growth.sqlite3"


def filled(path: Path) -> int:
    """Return how many posts of synthetic history the store at `path` holds (0 when new)."""
    note = Path(f"{path}.filled")
    if not path.exists() or not note.exists():
        return 0
    return int(note.read_text(encoding="utf-8"))


def ingest_rate(store: SqliteStore, posts: int, size: int) -> float:
    """Return the median posts/s of three rounds of upserting `posts` new posts of the last hour."""
    rates = []
    run = f"{os.getpid()}-{time.time_ns()}"  # new ids on every run over a kept store
    for round_ in range(3):
        fresh = make_posts(posts, 1, seed=10_000_000 + size + round_, prefix=f"live{size}-{run}-{round_}")
        for post in fresh:
            post.published_at = END - timedelta(seconds=(END - post.published_at).total_seconds() / 24)
        started = clock()
        for i in range(0, posts, INGEST_BATCH):
            store.upsert_posts(fresh[i : i + INGEST_BATCH])
        rates.append(posts / (clock() - started))
    return statistics.median(rates)


def timed(call: Callable[[], object], calls: int) -> float:
    """Return the median ms of `calls` calls (after one untimed warm-up)."""
    call()
    times = []
    for _ in range(calls):
        started = clock()
        call()
        times.append((clock() - started) * 1000)
    return statistics.median(times)


def queries(store: SqliteStore, calls: int) -> dict[str, float]:
    """Return the median latency (ms) of each query at the store's current size."""
    week = END - timedelta(days=7)
    month = END - timedelta(days=30)
    return {
        "newest page": timed(lambda: store.query_posts(PostQuery(limit=50)), calls),
        "full text": timed(lambda: store.query_posts(PostQuery(text="вода ремонт", limit=50)), calls),
        "sector, 7 days": timed(
            lambda: store.query_posts(PostQuery(sector="sector03", since=week, limit=50)), calls
        ),
        "counts 30 d by sector": timed(
            lambda: store.counts(month, END, by=("sector",), bucket="hour"), calls
        ),
        "one post": timed(lambda: store.get_post("g0:00000123"), calls),
    }


def main() -> None:
    """Grow the store through the sizes and print one row per size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--ingest", type=int, default=5000)
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument(
        "--copy-from",
        type=int,
        default=100_000,
        help="from this many posts on, grow by copying the history in SQL (bench.growth.copy_history)",
    )
    parser.add_argument("--cpu", action="store_true", help="time CPU seconds, not wall (a shared machine)")
    args = parser.parse_args()
    global CPU_CLOCK
    CPU_CLOCK = args.cpu
    print(f"timing {'CPU' if args.cpu else 'wall'} time", flush=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    path: Path = args.store or store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    have = filled(path)
    if have == 0:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = SqliteStore(path)
    rows = []
    try:
        for size in sizes:
            if size < have:
                print(f"{size:,} posts: skipped, the kept store already holds {have:,}", flush=True)
                continue
            if have >= args.copy_from:
                store.close()  # a fresh store after the copy: no cached counts from before it
                fill_s = copy_history(path, size)
                store = SqliteStore(path)
            else:
                fill_s = grow(store, have, size)
            have = size
            Path(f"{path}.filled").write_text(str(have), encoding="utf-8")
            rate = ingest_rate(store, args.ingest, size)
            latency = queries(store, args.calls)
            file_mb = sum(f.stat().st_size for f in path.parent.glob(path.name + "*")) / 2**20
            load = os.getloadavg()[0]
            rows.append((size, fill_s, rate, latency, file_mb, load))
            print(
                f"{size:,} posts: filled in {fill_s:,.0f} s, ingest {rate:,.0f} posts/s, {file_mb:,.0f} MiB, "
                f"load average {load:.1f}; " + ", ".join(f"{n} {ms:.1f} ms" for n, ms in latency.items()),
                flush=True,
            )
    finally:
        store.close()
    if not rows:
        return
    names = list(rows[0][3])
    header = " ".join(f"{n:>22}" for n in names)
    print(f"{'posts':>10} {'ingest/s':>9} {header} {'file MiB':>9} {'load':>5}")
    for size, _, rate, latency, file_mb, load in rows:
        cells = " ".join(f"{latency[n]:>19.1f} ms" for n in names)
        print(f"{size:>10,} {rate:>9,.0f} {cells} {file_mb:>9,.0f} {load:>5.1f}")


if __name__ == "__main__":
    main()
