"""Benchmark the /indicators queries for a 30-day period over 1,000,000 posts on the sqlite backend.

The store is filled by SqliteStore.upsert_posts in batches of 10,000 (posts spread over the 30 days
before END, Zipf-like sectors and territories, 4 sources), then the counts() calls /indicators makes —
hourly counts by sector and territory over the period and the hourly total of the previous period — are
timed together as one "indicators request". Reported: p50 and p95 of `--calls` requests, median over
`--runs` runs.

Usage: .venv/bin/python bench/indicators.py [--posts 1000000] [--days 30] [--calls 50] [--runs 5]
       [--keep FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.store import END, make_posts
from index.sqlite import SqliteStore
from index.store import Store

#: Posts per upsert while filling the store.
FILL_BATCH = 10_000
#: Posts generated at a time (keeps memory flat).
GENERATE = 50_000


def fill(store: SqliteStore, posts: int, days: int) -> float:
    """Upsert `posts` synthetic posts over `days` days before END; return posts/s."""
    started = time.perf_counter()
    for start in range(0, posts, GENERATE):
        chunk = make_posts(min(GENERATE, posts - start), days, seed=start, prefix=f"i{start}")
        for i in range(0, len(chunk), FILL_BATCH):
            store.upsert_posts(chunk[i : i + FILL_BATCH])
    return posts / (time.perf_counter() - started)


def indicators_request(store: Store, days: int) -> int:
    """Run the counts() calls of /indicators for the last `days` days; return the rows read."""
    since, until = END - timedelta(days=days), END
    rows = store.counts(since, until, by=("sector", "territory"), bucket="hour")
    previous = store.counts(since - (until - since), since, by=(), bucket="hour")
    return len(rows) + len(previous)


def latency(store: Store, days: int, calls: int) -> tuple[float, float, int]:
    """Return p50 and p95 in ms of `calls` indicators requests, and the rows of one."""
    times, rows = [], 0
    for _ in range(calls):
        started = time.perf_counter()
        rows = indicators_request(store, days)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))], rows


def main() -> None:
    """Fill a store (or reuse `--keep`), then print the latency figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="reuse or keep the filled database here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "indicators.sqlite3"
        store = SqliteStore(path)
        existing = int(store._conn().execute("SELECT count(*) FROM posts").fetchone()[0])
        if existing < args.posts:
            rate = fill(store, args.posts - existing, args.days)
            print(f"filled {args.posts - existing:,} posts at {rate:,.0f} posts/s")
        total = int(store._conn().execute("SELECT count(*) FROM posts").fetchone()[0])
        rollups = int(store._conn().execute("SELECT count(*) FROM rollups").fetchone()[0])
        p50s, p95s, rows = [], [], 0
        for _ in range(args.runs):
            p50, p95, rows = latency(store, args.days, args.calls)
            p50s.append(p50)
            p95s.append(p95)
        store.close()
    print(f"{total:,} posts, {rollups:,} rollup rows; one indicators request reads {rows:,} rows")
    print(
        f"indicators ({args.days} days): p50 {statistics.median(p50s):.1f} ms, "
        f"p95 {statistics.median(p95s):.1f} ms (medians of {args.runs} runs x {args.calls} requests)"
    )


if __name__ == "__main__":
    main()
