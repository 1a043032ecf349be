"""Benchmark the /indicators queries for a 30-day period over 1,000,000 posts on the sqlite backend.

The store is filled by SqliteStore.upsert_posts in batches of 10,000 (posts spread over the 30 days
before END, Zipf-like sectors and territories, 4 sources). One "indicators request" is the counts()
calls risk.indicators makes: hourly counts by sector, territory and source over the period and over
the previous period of the same length. Timed three ways, p50 and p95 of `--calls` requests, median
over `--runs` runs:

- cold: a new store each request (nothing cached: every rollup row of both periods read);
- warm: one store, nothing written between requests (the API refreshing a dashboard);
- with ingest: another store on the same file (as a worker process) upserts 500 posts into the last
  hours before each request, so those hours are read again.

Usage: .venv/bin/python bench/indicators.py [--posts 1000000] [--days 30] [--calls 50] [--runs 5]
       [--keep FILE]
"""

from __future__ import annotations

import argparse
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
from index.store import CountField, Store

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
    by: tuple[CountField, ...] = ("sector", "territory", "source")
    rows = store.counts(since, until, by=by, bucket="hour")
    previous = store.counts(since - (until - since), since, by=by, bucket="hour")
    return len(rows) + len(previous)


def percentiles(times: list[float]) -> tuple[float, float]:
    """Return p50 and p95 of `times`."""
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def timed(
    request: Callable[[], int], calls: int, before: Callable[[int], None] = lambda _: None
) -> tuple[float, float, int]:
    """Return p50 and p95 in ms of `calls` requests (`before(i)` runs untimed first) and rows of one."""
    times, rows = [], 0
    for i in range(calls):
        before(i)
        started = time.perf_counter()
        rows = request()
        times.append((time.perf_counter() - started) * 1000)
    return (*percentiles(times), rows)


def run_all(path: Path, days: int, calls: int) -> dict[str, tuple[float, float, int]]:
    """Return the cold, warm and with-ingest figures of one run."""

    def cold() -> int:
        store = SqliteStore(path)
        try:
            return indicators_request(store, days)
        finally:
            store.close()

    reader, writer = SqliteStore(path), SqliteStore(path)
    fresh = make_posts(500 * calls, 1, seed=99, prefix=f"live{time.time_ns()}")

    def ingest(i: int) -> None:
        writer.upsert_posts(fresh[i * 500 : (i + 1) * 500])

    try:
        indicators_request(reader, days)  # warm up
        figures = {
            "cold": timed(cold, max(3, calls // 10)),
            "warm": timed(lambda: indicators_request(reader, days), calls),
            "with ingest": timed(lambda: indicators_request(reader, days), calls, ingest),
        }
    finally:
        reader.close()
        writer.close()
    return figures


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
        store.close()
        runs = [run_all(path, args.days, args.calls) for _ in range(args.runs)]
    print(f"{total:,} posts, {rollups:,} rollup rows")
    for name in ("cold", "warm", "with ingest"):
        p50 = statistics.median(run[name][0] for run in runs)
        p95 = statistics.median(run[name][1] for run in runs)
        rows = runs[-1][name][2]
        print(f"indicators {name} ({args.days} days, {rows:,} rows): p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    print(f"(medians of {args.runs} runs x {args.calls} requests; cold: x {max(3, args.calls // 10)})")


if __name__ == "__main__":
    main()
