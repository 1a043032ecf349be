"""Fault scenarios: the reduced form runs in `make test`; `make faults` sets INFOPOLE_FAULTS=full.

Every scenario reads its size from `scale()`, so one code path runs in both forms: the full form kills
more often, streams more posts and simulates longer outages.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import RedisServer, WebhookReceiver


def full_run() -> bool:
    """Return whether the full fault suite was asked for (INFOPOLE_FAULTS=full, `make faults`)."""
    return os.environ.get("INFOPOLE_FAULTS", "").lower() == "full"


def scale(reduced: int, full: int) -> int:
    """Return the size of a scenario knob for the current form."""
    return full if full_run() else reduced


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker of scenarios that only run in the full form."""
    config.addinivalue_line("markers", "faults_full: a fault scenario that only runs under `make faults`")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip full-only scenarios in the reduced form."""
    if full_run():
        return
    skip = pytest.mark.skip(reason="только в полном прогоне: make faults (INFOPOLE_FAULTS=full)")
    for item in items:
        if "faults_full" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """Return a running redis-server with AOF on a fixed socket, stopped after the test."""
    server = RedisServer(tmp_path / "broker")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """Return a running loopback webhook receiver."""
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()
