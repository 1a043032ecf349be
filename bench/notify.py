"""Benchmark alert delivery over the webhook channel: CPU per delivery and the sender's memory.

A loopback receiver (in this process) takes every POST; each run is a fresh child process that sends
`--deliveries` alert-sized bodies (2 KB) one after another:
- `shared`: `worker.notify.webhook.send_webhook` as the workers call it (one TLS context per process);
- `per-request`: `httpx.post` with its default `verify`, which builds a TLS context (and reads the CA
  bundle) for every request: how the channels sent before the shared context.
For each: CPU milliseconds per delivery and the child's RSS after the first 100 deliveries and at the
end, medians of `--runs` runs.

Usage: .venv/bin/python bench/notify.py [--deliveries 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODES = ("shared", "per-request")
#: An alert's JSON body is 1-3 KB.
BODY = json.dumps({"title": "Всплеск", "text": "ы" * 1000}, ensure_ascii=False).encode()
#: Deliveries before the first memory sample (imports and first connections are done by then).
WARM = 100


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def _rss_mib() -> float:
    """Return this process's resident set size (MiB)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def child(mode: str, url: str, deliveries: int) -> None:
    """Send the deliveries in `mode` and print one JSON line with the figures."""
    import httpx

    from worker.notify.webhook import send_webhook

    def send() -> None:
        if mode == "shared":
            send_webhook(url, BODY, timeout_s=10)
        else:
            httpx.post(url, content=BODY, timeout=10).raise_for_status()

    for _ in range(WARM):
        send()
    rss_warm = _rss_mib()
    cpu0 = time.process_time()
    for _ in range(deliveries - WARM):
        send()
    cpu_ms = 1000 * (time.process_time() - cpu0) / (deliveries - WARM)
    print(json.dumps({"cpu_ms": cpu_ms, "rss_warm": rss_warm, "rss_end": _rss_mib()}))


def run(mode: str, url: str, deliveries: int) -> dict[str, float]:
    """Run one child process and return its figures."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--url", url, "--deliveries", str(deliveries)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.deliveries <= WARM:
        parser.error(f"--deliveries must be over {WARM}")
    if args.child:
        child(args.child, args.url, args.deliveries)
        return
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/alerts"
    print(f"{args.deliveries:,} webhook deliveries over loopback, median of {args.runs} runs:")
    for mode in MODES:
        runs = [run(mode, url, args.deliveries) for _ in range(args.runs)]
        cpu = statistics.median(r["cpu_ms"] for r in runs)
        warm = statistics.median(r["rss_warm"] for r in runs)
        end = statistics.median(r["rss_end"] for r in runs)
        growth = end - warm
        print(f"  {mode:<12} {cpu:6.2f} ms CPU per delivery; RSS {warm:.1f} -> {end:.1f} MiB ({growth:+.1f})")
    server.shutdown()


if __name__ == "__main__":
    main()
