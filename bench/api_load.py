"""Benchmark the main read endpoints under 50 concurrent clients over a store of 1,000,000 posts.

The store (sqlite, the embedded backend) is filled with `--posts` synthetic posts over 30 days
(bench.store.make_posts, batches of 10,000), 20,000 incidents and 5,000 alerts, once per size: it is
kept under the system temp directory and reused. The API runs as `infopole serve` serves it —
`--api-workers` uvicorn processes (1 by default) with the app from api.app.create_app — in a child
process; the load comes from `wrk`
(Debian package) on loopback, `--connections` connections for `--duration` seconds per endpoint, or
from a Python asyncio client when wrk is missing. Each connection is a user who pauses about
`--think-ms` (uniformly 0.5–1.5×) between requests, as a person reading the page does; with
`--think-ms 0` they never pause, so the figures are the server's saturation (latency ≈ connections ÷
capacity). Figures per endpoint: p50/p95/p99 latency (ms, wrk's, pauses excluded), requests/s and
errors (non-2xx and socket errors), the server's CPU time per request (all its processes: what the
endpoint costs whatever else loads the machine), the median over `--runs` runs. /indicators is kept
by the API a while per period and slice (api.indicators_cache), so on each fresh server its first,
cold call is timed alone (`--slow-calls` calls) before the load measures the kept answer. The API's
rate limits are lifted for the run: this measures capacity.

Usage: .venv/bin/python bench/api_load.py [--posts 1000000] [--connections 50] [--duration 20]
       [--runs 3] [--think-ms 1000] [--slow-calls 1] [--api-workers 1] [--store FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.store import END, SECTORS, TERRITORIES, make_posts

#: The key the benchmark server accepts (development settings, admin role).
KEY = "bench-admin-key-0123456789"
#: Posts per upsert and per generated chunk while filling the store.
FILL_BATCH = 10_000
GENERATE = 50_000
#: Incidents and alerts in the store besides the posts.
INCIDENTS = 20_000
ALERTS = 5_000

#: The endpoints measured: (name, path and query).
ENDPOINTS: list[tuple[str, str]] = [
    ("posts: newest page", "/posts?limit=50"),
    ("posts: full text", "/posts?q=%D0%B2%D0%BE%D0%B4%D0%B0+%D1%80%D0%B5%D0%BC%D0%BE%D0%BD%D1%82&limit=50"),
    ("posts: sector, 7 days", "/posts?sector=sector03&since=2025-05-25T00:00:00Z&limit=50"),
    ("incidents: open", "/incidents?status=new&status=assigned&limit=50"),
    ("alerts: newest", "/alerts?limit=50"),
    ("one post", "/posts/p0:00000123"),
    ("indicators: 7 days", "/indicators"),
]
#: Endpoints whose answer the API keeps a while: called once alone before their load, so the load
#: measures the kept answer and the first call is timed by itself (`--slow-calls`).
KEPT_ENDPOINTS = frozenset({"/indicators"})
#: Measured one request at a time on a fresh server (the cold computation: seconds, not milliseconds).
SLOW_ENDPOINTS: list[tuple[str, str]] = [("indicators: 7 days, cold", "/indicators")]
#: Environment variables that hand the store and data directory to the API processes.
STORE_ENV = "INFOPOLE_BENCH_STORE"
DATA_ENV = "INFOPOLE_BENCH_DATA"
THREADS_ENV = "INFOPOLE_BENCH_THREADS"

_WRK_SCRIPT = """
wrk.headers["X-API-Key"] = "%s"
local think_ms = %d
function delay()
  if think_ms <= 0 then return 0 end
  return math.random(math.floor(think_ms / 2), math.floor(think_ms * 3 / 2))
end
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"p50": %%f, "p95": %%f, "p99": %%f, "requests": %%d, "seconds": %%f, "errors": %%d}\\n',
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.duration / 1e6, errors))
end
"""


@dataclass
class Figures:
    """One endpoint's figures from one run."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    rps: float
    errors: int
    cpu_ms: float = float("nan")  # the server's CPU time per request (load-independent cost)


def store_path(posts: int) -> Path:
    """Return where the store of `posts` posts is kept between runs."""
    return Path(tempfile.gettempdir()) / "infopole-bench" / f"api-{posts}.sqlite3"


def build_store(path: Path, posts: int) -> float:
    """Fill a new store at `path` with posts, incidents and alerts; return the seconds it took."""
    from index.models import Alert, AlertKind, Incident, IncidentStatus, Priority
    from index.sqlite import SqliteStore

    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", ".done"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    store = SqliteStore(path)
    for start in range(0, posts, GENERATE):
        chunk = make_posts(min(GENERATE, posts - start), 30, seed=start, prefix=f"p{start}")
        for i in range(0, len(chunk), FILL_BATCH):
            store.upsert_posts(chunk[i : i + FILL_BATCH])
    statuses = [IncidentStatus.new, IncidentStatus.assigned, IncidentStatus.interim, IncidentStatus.closed]
    incidents = [
        Incident(
            id=f"inc{i:06d}",
            title=f"Проблема {i}",
            sector=SECTORS[i % len(SECTORS)],
            territory=TERRITORIES[i % len(TERRITORIES)],
            recipient="zhkh" if i % 2 else "roads",
            priority=Priority.critical if i % 50 == 0 else Priority.normal,
            status=statuses[i % len(statuses)],
            post_ids=[f"p0:{i:08d}"],
            created_at=END - timedelta(minutes=2 * i),
            first_answer_due=END - timedelta(minutes=2 * i) + timedelta(hours=8),
        )
        for i in range(INCIDENTS)
    ]
    for i in range(0, len(incidents), 1000):
        store.save_incidents([(incident, None) for incident in incidents[i : i + 1000]])
    for i in range(ALERTS):
        store.add_alert(
            Alert(
                id=f"alert{i:06d}",
                kind=AlertKind.spike,
                severity=1 + i % 10,
                title=f"Всплеск {i}",
                created_at=END - timedelta(minutes=5 * i),
                sector=SECTORS[i % len(SECTORS)],
            )
        )
    store.close()
    Path(f"{path}.done").write_text(str(posts), encoding="utf-8")
    return time.perf_counter() - started


def free_port() -> int:
    """Return a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_app() -> Any:
    """Return the API over the store named by the environment (the factory of each API process)."""
    from api.app import create_app
    from crawlers.demo import DEMO_PROFILE_PATH
    from index.profile import load_profile
    from index.sqlite import SqliteStore
    from infopole.settings import ApiSettings, Settings

    # Capacity is measured, so the per-key and per-IP rate limits are lifted (one key, one address).
    unlimited = "100000000/minute"
    api = ApiSettings(keys={KEY: "admin"}, rate_limit_per_key=unlimited, rate_limit_per_ip=unlimited)
    if os.environ.get(THREADS_ENV):
        api.threads = int(os.environ[THREADS_ENV])
    settings = Settings(env="development", api=api, data_dir=Path(os.environ[DATA_ENV]))
    store = SqliteStore(Path(os.environ[STORE_ENV]))
    return create_app(settings, store, load_profile(DEMO_PROFILE_PATH), lambda: END)


def serve(path: Path, port: int, workers: int = 1, data_dir: Path | None = None) -> None:
    """Run the API over the store at `path` on 127.0.0.1:`port` in `workers` processes (the child)."""
    import uvicorn

    os.environ[STORE_ENV] = str(path)
    os.environ[DATA_ENV] = str(data_dir or Path(tempfile.mkdtemp(prefix="infopole-api-bench-")))
    if workers == 1:
        uvicorn.run(bench_app(), host="127.0.0.1", port=port, log_level="warning")
    else:
        uvicorn.run(
            "bench.api_load:bench_app",
            factory=True,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            workers=workers,
        )


def start_server(path: Path, workers: int = 1) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start the API child process; return it, its base URL once it answers, and its data directory."""
    import httpx

    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="infopole-api-bench-"))
    command = [sys.executable, __file__, "--serve", str(path), "--port", str(port)]
    command += ["--api-workers", str(workers), "--data", str(data_dir)]
    proc = subprocess.Popen(command)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                time.sleep(1.0 if workers > 1 else 0.0)  # every process up, not only the first
                return proc, base, data_dir
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("API не запустился за 120 с")


def server_cpu_s(server: psutil.Process) -> float:
    """Return the CPU seconds (user + system) of the server and its API processes so far."""
    total = 0.0
    for proc in [server, *server.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += sum(proc.cpu_times()[:2])
    return total


def wrk_load(url: str, connections: int, duration_s: int, think_ms: int = 0) -> Figures:
    """Load `url` with wrk, each connection pausing about `think_ms` between requests; return its figures."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(_WRK_SCRIPT % (KEY, think_ms))
        script = fh.name
    try:
        threads = str(min(connections, os.cpu_count() or 1))
        out = subprocess.run(
            [
                "wrk",
                "-t",
                threads,
                "-c",
                str(connections),
                "-d",
                f"{duration_s}s",
                "--timeout",
                "10s",
                "-s",
                script,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script)
    data = json.loads(out.strip().splitlines()[-1])
    return Figures(data["p50"], data["p95"], data["p99"], data["requests"] / data["seconds"], data["errors"])


async def _python_load(url: str, connections: int, duration_s: int, think_ms: int = 0) -> Figures:
    """Load `url` with `connections` asyncio clients; return the figures (wrk's fallback)."""
    import random

    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + duration_s

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                response = await http.get(url)
                if response.status_code >= 400:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)
            if think_ms > 0:
                await asyncio.sleep(random.uniform(think_ms / 2, think_ms * 1.5) / 1000)

    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(headers={"X-API-Key": KEY}, limits=limits, timeout=10) as http:
        began = time.monotonic()
        await asyncio.gather(*(client(http) for _ in range(connections)))
        elapsed = time.monotonic() - began
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0

    return Figures(pct(0.5), pct(0.95), pct(0.99), len(latencies) / elapsed, errors)


def load(url: str, connections: int, duration_s: int, think_ms: int = 0) -> Figures:
    """Load `url` with wrk if installed, else with the Python client."""
    if shutil.which("wrk"):
        return wrk_load(url, connections, duration_s, think_ms)
    return asyncio.run(_python_load(url, connections, duration_s, think_ms))


def sequential(url: str, calls: int) -> Figures:
    """Time `calls` requests one after another (no concurrency); return their figures."""
    import httpx

    times: list[float] = []
    errors = 0
    with httpx.Client(headers={"X-API-Key": KEY}, timeout=600) as http:
        for _ in range(calls):
            started = time.perf_counter()
            errors += http.get(url).status_code >= 400
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    return Figures(statistics.median(times), p95, times[-1], 1000 / statistics.mean(times), errors)


def wait_idle(server: psutil.Process, timeout_s: float = 120.0, busy_share: float = 0.05) -> None:
    """Wait until the server has worked off the requests left from a load (CPU below `busy_share`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = server_cpu_s(server)
        time.sleep(0.5)
        if server_cpu_s(server) - before < busy_share * 0.5:
            return


def stop_server(proc: subprocess.Popen[bytes], data_dir: Path | None = None) -> None:
    """Stop the API child (killed when it does not stop in 10 s) and drop its data directory."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)
    if data_dir is not None:
        shutil.rmtree(data_dir, ignore_errors=True)


def measure(
    path: Path,
    connections: int,
    duration_s: int,
    runs: int,
    think_ms: int = 0,
    slow_calls: int = 1,
    workers: int = 1,
) -> dict[str, Figures]:
    """Return the median figures per endpoint over `runs` runs (each run a fresh server).

    Each connection pauses about `think_ms` between its requests (0: none, the server's capacity);
    the slow endpoints are called `slow_calls` times one after another first on each fresh server
    (0: not timed; a kept endpoint is still called once before its load). `workers` API processes.
    """
    slow = SLOW_ENDPOINTS if slow_calls > 0 else []
    results: dict[str, list[Figures]] = {name: [] for name, _ in slow + ENDPOINTS}
    for _ in range(runs):
        proc, base, data_dir = start_server(path, workers)
        try:
            server = psutil.Process(proc.pid)
            for name, query in slow:
                cpu_before = server_cpu_s(server)
                figures = sequential(base + query, slow_calls)
                figures.cpu_ms = (server_cpu_s(server) - cpu_before) * 1000 / slow_calls
                results[name].append(figures)
            for name, query in ENDPOINTS:
                if query in KEPT_ENDPOINTS and not slow:
                    sequential(base + query, 1)
                load(base + query, connections, 2, think_ms)  # warm-up
                cpu_before = server_cpu_s(server)
                figures = load(base + query, connections, duration_s, think_ms)
                cpu_s = server_cpu_s(server) - cpu_before
                figures.cpu_ms = cpu_s * 1000 / max(1.0, figures.rps * duration_s)
                results[name].append(figures)
                wait_idle(server)  # requests still queued must not count against the next endpoint
        finally:
            stop_server(proc, data_dir)
    return {
        name: Figures(
            statistics.median(f.p50_ms for f in figures),
            statistics.median(f.p95_ms for f in figures),
            statistics.median(f.p99_ms for f in figures),
            statistics.median(f.rps for f in figures),
            sum(f.errors for f in figures),
            statistics.median(f.cpu_ms for f in figures),
        )
        for name, figures in results.items()
    }


def ensure_store(posts: int, path: Path | None = None) -> Path:
    """Return a store of `posts` posts, building it unless a complete one is kept."""
    target = path or store_path(posts)
    done = Path(f"{target}.done")
    if not done.exists() or done.read_text(encoding="utf-8") != str(posts):
        seconds = build_store(target, posts)
        print(f"store of {posts:,} posts built in {seconds:,.0f} s: {target}", flush=True)
    from index.sqlite import SqliteStore

    store = SqliteStore(target)  # as retention leaves it every day: the full-text index merged
    store.merge_fulltext()
    store.close()
    return target


def main() -> None:
    """Print the figures per endpoint."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--think-ms",
        type=int,
        default=1000,
        help="each client's pause between requests, ms (about; 0 = none: the server's capacity)",
    )
    parser.add_argument(
        "--slow-calls",
        type=int,
        default=1,
        help="cold calls of /indicators per run, timed alone (0: untimed)",
    )
    parser.add_argument("--api-workers", type=int, default=1, help="API processes (infopole serve --workers)")
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--serve", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.port, args.api_workers, args.data)
        return
    path = ensure_store(args.posts, args.store)
    tool = "wrk" if shutil.which("wrk") else "python asyncio client"
    think = f"pausing ~{args.think_ms} ms between requests" if args.think_ms > 0 else "no pauses"
    print(
        f"{args.connections} clients ({tool}, {think}), {args.duration} s per endpoint, median of "
        f"{args.runs} runs, {args.posts:,} posts, {args.api_workers} API process(es), "
        f"{os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    figures = measure(
        path, args.connections, args.duration, args.runs, args.think_ms, args.slow_calls, args.api_workers
    )
    print(
        f"{'endpoint':28} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>7} {'cpu ms':>7}"
    )
    for name, f in figures.items():
        note = f"  (one client, {args.slow_calls} per run; p99 = max)" if name in dict(SLOW_ENDPOINTS) else ""
        print(
            f"{name:28} {f.p50_ms:8.1f} {f.p95_ms:8.1f} {f.p99_ms:8.1f} {f.rps:8.1f} {f.errors:7d} "
            f"{f.cpu_ms:7.1f}{note}"
        )
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
