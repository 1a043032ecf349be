"""The signed webhook channel against a real loopback HTTP receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from pydantic import SecretStr

from index.models import Alert, AlertKind
from infopole.settings import NotifySettings
from worker.notify import SIGNATURE_HEADER, DeliveryError, deliver


class Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[bytes, str | None]]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((body, self.headers.get(SIGNATURE_HEADER)))
        self.send_response(Receiver.status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    Receiver.status = 200
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def make_alert() -> Alert:
    return Alert(id="a1", kind=AlertKind.spike, severity=7, title="Всплеск: ЖКХ")


def test_webhook_receives_signed_alert(receiver: str) -> None:
    settings = NotifySettings(webhook_url=receiver, webhook_secret=SecretStr("s3cret"))
    assert deliver(make_alert(), settings) == ["webhook"]
    body, signature = Receiver.received[0]
    assert json.loads(body)["title"] == "Всплеск: ЖКХ"
    assert signature == hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()


def test_webhook_failure_is_a_delivery_error(receiver: str) -> None:
    Receiver.status = 503
    with pytest.raises(DeliveryError, match="503"):
        deliver(make_alert(), NotifySettings(webhook_url=receiver))


def test_unreachable_webhook_is_a_delivery_error() -> None:
    with pytest.raises(DeliveryError, match="недоступен"):
        deliver(make_alert(), NotifySettings(webhook_url="http://127.0.0.1:9/hook"))


def test_no_channel_configured_delivers_nowhere() -> None:
    assert deliver(make_alert(), NotifySettings()) == []
