"""A loopback HTTP server for the fixture news site: logs every request, serves a 500 and a slow page."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SITE = Path(__file__).resolve().parents[2] / "fixtures" / "web" / "site"

#: How long /slow takes to answer (s); tests set the download timeout below it.
SLOW_S = 3.0

_TYPES = {".xml": "application/xml", ".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8"}


@dataclass
class FixtureSite:
    """The running server: its base URL and the paths requested so far."""

    base: str
    port: int
    requests: list[str] = field(default_factory=list)

    def hits(self, path: str) -> int:
        """Return how many times `path` was requested."""
        return self.requests.count(path)


@contextmanager
def serve_site(root: Path = SITE) -> Iterator[FixtureSite]:
    """Serve the fixture site on 127.0.0.1 (random port) until the block ends."""
    site = FixtureSite(base="", port=0)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            site.requests.append(path)
            if path == "/broken":
                self._send(500, b"internal error", "text/plain")
                return
            if path == "/slow":
                time.sleep(SLOW_S)
                self._send(200, b"<html><body><p>late</p></body></html>", "text/html")
                return
            file = root / ("index.html" if path == "/" else path.lstrip("/"))
            if not file.is_file() or root not in file.resolve().parents:
                self._send(404, b"not found", "text/plain")
                return
            text = file.read_text(encoding="utf-8")
            body = text.replace("{{BASE}}", site.base).replace("{{PORT}}", str(site.port)).encode("utf-8")
            self._send(200, body, _TYPES.get(file.suffix, "application/octet-stream"))

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    site.port = server.server_address[1]
    site.base = f"http://127.0.0.1:{site.port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
