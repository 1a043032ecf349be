"""`infopole run --demo`: within 60 seconds of start the API and the web page show incidents with
deadlines, a spike alert and a conflict alert (the newcomer's first minute)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from infopole.embedded import DEMO_FILES, HeldClock, demo_cache_dir, demo_files

#: What the issue promises a newcomer (s).
FIRST_MINUTE_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_demo_stream_is_generated_once_and_copied_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = demo_files(tmp_path / "one" / "demo")
    cache = demo_cache_dir()
    assert cache.is_relative_to(tmp_path / "cache")
    assert all((cache / name).read_bytes() == (first / name).read_bytes() for name in DEMO_FILES)
    (cache / "truth.json").write_text("{}", encoding="utf-8")  # the copy comes from the cache
    second = demo_files(tmp_path / "two" / "demo")
    assert (second / "truth.json").read_text(encoding="utf-8") == "{}"
    assert (second / "stream.jsonl.gz").read_bytes() == (first / "stream.jsonl.gz").read_bytes()


def test_demo_shows_incidents_spike_and_conflict_within_a_minute(tmp_path: Path) -> None:
    # The stream is generated once per machine (the first `make run`); the minute is the one after.
    demo_files(tmp_path / "warm")
    port = free_port()
    env = dict(os.environ, INFOPOLE_DATA_DIR=str(tmp_path), INFOPOLE_ENV="development")
    for name in ("REDIS__URL", "INFOPOLE_CLOCK", "INFOPOLE_PROFILE", "API__KEYS"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "infopole.cli", "run", "--demo", "--port", str(port)],
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"X-API-Key": "demo-key"}
    started = time.monotonic()
    seen: dict[str, bool] = {"incident": False, "spike": False, "conflict": False}
    first_seen: dict[str, float] = {}
    try:
        while time.monotonic() - started < FIRST_MINUTE_S and not all(seen.values()):
            assert proc.poll() is None, "infopole run exited"
            try:
                incidents = httpx.get(f"{base}/incidents", headers=headers, timeout=5).json()
                alerts = httpx.get(f"{base}/alerts", params={"limit": 200}, headers=headers, timeout=5).json()
            except (httpx.HTTPError, ValueError):
                time.sleep(1)
                continue
            kinds = {a["kind"] for a in alerts.get("items", [])}
            found = {
                "incident": any(i.get("first_answer_due") for i in incidents.get("items", [])),
                "spike": "spike" in kinds,
                "conflict": "conflict" in kinds,
            }
            for name, now_seen in found.items():
                if now_seen and not seen[name]:
                    seen[name] = True
                    first_seen[name] = round(time.monotonic() - started, 1)
            time.sleep(1)
        elapsed = time.monotonic() - started
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        assert all(seen.values()), f"after {elapsed:.0f} s: {seen}; first seen at {first_seen} s; load {load}"
        page = httpx.get(f"{base}/", cookies={"infopole_key": "demo-key"}, timeout=10)
        assert page.status_code == 200
        assert "Всплеск" in page.text or "всплеск" in page.text
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_the_replay_clock_stands_still_while_the_workers_catch_up() -> None:
    clock = HeldClock()
    polls = iter([True, True, True, False])
    before = clock()
    clock.hold_while(lambda: next(polls), threading.Event(), poll_s=0.05)
    assert clock.held_s >= 0.15
    assert clock() - before < 0.1  # the held time is not stream time
    stopped = threading.Event()
    stopped.set()
    clock.hold_while(lambda: True, stopped)  # a stopping launcher is never held
