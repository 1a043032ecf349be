"""Benchmark the SQLite store: upsert posts/s and the latency of a 30-day counts() query.

- upsert: median of `--runs` runs, each loading `--upsert-posts` new posts in batches of 500 into a fresh
  file, plus one re-upsert of the same batches (the idempotent path); in stream order and in random order;
- counts: `--posts` posts spread over `--days` days (Zipf-like sectors and territories, 4 sources), then
  the median of 20 calls of counts() over the last 30 days for several groupings.

Usage: .venv/bin/python bench/store.py [--posts 200000] [--days 365] [--runs 5] [--upsert-posts 20000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.models import Kind, Metrics, Post, Tone
from index.sqlite import SqliteStore
from index.store import CountField

BATCH = 500
END = datetime(2025, 6, 1, tzinfo=UTC)
WORDS = [
    "вода",
    "горячий",
    "отключение",
    "дорога",
    "яма",
    "ремонт",
    "двор",
    "мусор",
    "контейнер",
    "свет",
    "фонарь",
    "автобус",
    "маршрут",
    "остановка",
    "школа",
    "детский",
    "сад",
    "поликлиника",
    "запись",
    "врач",
    "снег",
    "уборка",
    "тротуар",
    "парк",
    "площадка",
]
SECTORS = [f"sector{i:02d}" for i in range(20)]
TERRITORIES = [f"terr{i:02d}" for i in range(30)]
SOURCES = ["vk", "tg", "ok", "web"]


def _zipf(rng: random.Random, values: list[str]) -> str:
    """Return one of `values`, the first ones much more often."""
    return values[min(int(rng.paretovariate(1.2)) - 1, len(values) - 1)]


def make_posts(n: int, days: int, seed: int, prefix: str) -> list[Post]:
    """Return `n` synthetic posts published over the `days` days before END."""
    rng = random.Random(seed)
    span_s = days * 86400
    posts = []
    for i in range(n):
        words = rng.choices(WORDS, k=18)
        posts.append(
            Post(
                id=f"{prefix}:{i:08d}",
                source=rng.choice(SOURCES),
                source_id=str(i),
                url=f"https://vk.com/wall-1_{i}",
                author_id=f"{rng.getrandbits(64):016x}",
                published_at=END - timedelta(seconds=rng.uniform(0, span_s)),
                text=" ".join(words).capitalize() + ".",
                lemmas=" ".join(words),
                raw={"id": i, "owner_id": -1, "text": " ".join(words)},
                metrics=Metrics(views=rng.randint(0, 5000), likes=rng.randint(0, 50)),
                sector=_zipf(rng, SECTORS),
                kind=rng.choice(list(Kind)),
                tone=rng.choice(list(Tone)),
                territory=_zipf(rng, TERRITORIES),
                thread_id=f"{prefix}:{i - i % 10:08d}",
            )
        )
    return posts


def upsert_rate(n: int, runs: int, stream_order: bool) -> tuple[float, float]:
    """Return the median posts/s of loading `n` new posts, and of re-upserting them unchanged.

    In stream order the posts arrive by publication time (as collectors deliver them); otherwise every
    batch holds posts from all over the 30 days (the worst case for the indexes).
    """
    posts = make_posts(n, 30, seed=1, prefix="u")
    if stream_order:
        posts.sort(key=lambda post: post.published_at)
    batches = [posts[i : i + BATCH] for i in range(0, n, BATCH)]
    new_rates, same_rates = [], []
    for run in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            store = SqliteStore(Path(tmp) / f"run{run}.sqlite3")
            started = time.perf_counter()
            for batch in batches:
                store.upsert_posts(batch)
            new_rates.append(n / (time.perf_counter() - started))
            started = time.perf_counter()
            for batch in batches:
                store.upsert_posts(batch)
            same_rates.append(n / (time.perf_counter() - started))
            store.close()
    return statistics.median(new_rates), statistics.median(same_rates)


def counts_latency(n: int, days: int) -> tuple[dict[str, tuple[float, int]], int]:
    """Load `n` posts; return per grouping the median ms of a 30-day counts() and its rows; rollup rows."""
    groupings: dict[str, tuple[tuple[CountField, ...], str]] = {
        "hour": ((), "hour"),
        "hour by sector": (("sector",), "hour"),
        "hour by sector,territory,source": (("sector", "territory", "source"), "hour"),
        "day by territory": (("territory",), "day"),
        "day by sector,territory": (("sector", "territory"), "day"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "counts.sqlite3")
        for start in range(0, n, 50_000):
            chunk = make_posts(min(50_000, n - start), days, seed=start, prefix=f"c{start}")
            for i in range(0, len(chunk), BATCH):
                store.upsert_posts(chunk[i : i + BATCH])
        rollup_rows = int(store._conn().execute("SELECT count(*) FROM rollups").fetchone()[0])
        since = END - timedelta(days=30)
        result = {}
        for name, (by, bucket) in groupings.items():
            times, rows = [], 0
            for _ in range(20):
                started = time.perf_counter()
                rows = len(store.counts(since, END, by=by, bucket=bucket))  # type: ignore[arg-type]
                times.append((time.perf_counter() - started) * 1000)
            result[name] = (statistics.median(times), rows)
        store.close()
    return result, rollup_rows


def main() -> None:
    """Run both benchmarks and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=200_000, help="posts for the counts() benchmark")
    parser.add_argument("--days", type=int, default=365, help="days the counts() posts are spread over")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--upsert-posts", type=int, default=20_000)
    args = parser.parse_args()

    print(f"upsert of {args.upsert_posts:,} posts in batches of {BATCH}, median of {args.runs} runs:")
    for label, stream_order in (("stream order", True), ("random order", False)):
        new_rate, same_rate = upsert_rate(args.upsert_posts, args.runs, stream_order)
        print(f"  {label}: new {new_rate:,.0f} posts/s, unchanged re-upsert {same_rate:,.0f} posts/s")
    latencies, rollup_rows = counts_latency(args.posts, args.days)
    print(f"counts() over 30 days, {args.posts:,} posts in {args.days} days, {rollup_rows:,} rollup rows:")
    for name, (ms, rows) in latencies.items():
        print(f"  {name}: {ms:.1f} ms ({rows:,} rows)")


if __name__ == "__main__":
    main()
