"""Benchmark how ingest rate and query latency change as the sqlite store grows: 100k → 1M → 5M posts.

One store grows through the sizes (synthetic posts from bench.store.make_posts, upserted in batches
of 10,000; a steady 3,333 posts a day, so 100k posts are 30 days of history and 5M are four years).
The store is kept under the system temp directory (`--store` elsewhere) with a note of the history it
holds, so a later run goes on from there instead of filling it again. At each size:

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
from index.store import PostQuery

#: Posts a day of the synthetic history.
PER_DAY = 3333
#: Posts per upsert while filling, and generated at a time.
FILL_BATCH = 10_000
GENERATE = 50_000
#: Posts per upsert in the ingest measurement (a worker's batch).
INGEST_BATCH = 500


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
        started = time.perf_counter()
        for i in range(0, posts, INGEST_BATCH):
            store.upsert_posts(fresh[i : i + INGEST_BATCH])
        rates.append(posts / (time.perf_counter() - started))
    return statistics.median(rates)


def timed(call: Callable[[], object], calls: int) -> float:
    """Return the median ms of `calls` calls (after one untimed warm-up)."""
    call()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
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
    args = parser.parse_args()
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
                f"load average {load:.1f}",
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
