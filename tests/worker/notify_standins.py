"""Real local stand-ins for the alert channels: a loopback HTTP server (Telegram Bot API and webhook
receivers) that can be taken down and brought back, and aiosmtpd for SMTP."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Received:
    """One request the loopback server accepted."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Return the body as JSON."""
        return json.loads(self.body)


@dataclass
class LoopbackState:
    """What the loopback server does and what it has seen."""

    status: int = 200  # answer with this (503: "down"); Telegram-shaped JSON for /bot paths
    description: str = ""  # Telegram error description for non-200 answers
    retry_after: int | None = None  # Telegram 429 parameter
    received: list[Received] = field(default_factory=list)  # accepted (2xx) requests only
    refused: int = 0  # requests answered with an error
    lock: threading.Lock = field(default_factory=threading.Lock)


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 standing in for the Bot API and webhook receivers."""

    def __init__(self, port: int = 0) -> None:
        """Start listening (port 0: any free port)."""
        self.state = LoopbackState()
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.start()

    def start(self) -> None:
        """Start (again) on the same port."""
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with state.lock:
                    status = state.status
                    if status < 300:
                        state.received.append(Received(self.path, dict(self.headers), body))
                    else:
                        state.refused += 1
                    count = len(state.received)
                telegram = self.path.startswith("/bot")
                payload: dict[str, Any] = {}
                if telegram and status < 300:
                    payload = {"ok": True, "result": {"message_id": count}}
                elif telegram:
                    payload = {"ok": False, "error_code": status, "description": state.description or "down"}
                    if state.retry_after is not None:
                        payload["parameters"] = {"retry_after": state.retry_after}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until `start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        """Return the base URL."""
        return f"http://127.0.0.1:{self._port}"

    def bodies(self, prefix: str = "") -> list[Any]:
        """Return the JSON bodies of accepted requests whose path starts with `prefix`."""
        with self.state.lock:
            return [r.json() for r in self.state.received if r.path.startswith(prefix)]


class _Collect:
    """An aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


@dataclass
class SmtpStandIn:
    """A running aiosmtpd server and the messages it received."""

    host: str
    port: int
    handler: _Collect

    @property
    def messages(self) -> list[tuple[str, list[str], EmailMessage]]:
        """Return (sender, recipients, message) of every received message."""
        return self.handler.messages


def smtp_server(tls: str = "", context: ssl.SSLContext | None = None) -> Iterator[SmtpStandIn]:
    """Run aiosmtpd on a free loopback port for the duration of a fixture.

    `tls`: "" plain, "starttls" (required before MAIL) or "implicit" (SMTPS), with the server's `context`.
    """
    handler = _Collect()
    port = free_port()
    options: dict[str, Any] = {}
    if tls == "starttls":
        options = {"tls_context": context, "require_starttls": True}
    elif tls == "implicit":
        options = {"ssl_context": context}
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield SmtpStandIn("127.0.0.1", port, handler)
    finally:
        controller.stop()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed_loopback(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """Write a self-signed certificate for 127.0.0.1; return its path and a server context holding it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "loopback.pem", directory / "loopback.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return cert_path, context
