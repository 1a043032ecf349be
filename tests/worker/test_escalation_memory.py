"""An escalation run reads only the incidents with a step due, one page at a time.

In a live replay tens of thousands of incidents are open; a run that read every one of them (and
worked out its steps) took a minute of CPU and grew the worker's RSS by hundreds of MiB. Now a run
reads the open incidents whose next step is due or not yet worked out, at most ESCALATION_PAGE of them
alive at once (plus the ones with a step due), and writes back when the next step falls due.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from index.models import Incident, Priority
from index.sqlite import SqliteStore
from index.store import IncidentQuery, Page
from tests.worker.notify_standins import LoopbackServer
from tests.worker.test_escalation import DEADLINE, STORM, Clock, runtime, storm
from worker import escalation

PAGE = 40


class CountingStore:
    """Wrap a store: note every incident the incident queries return and how many of them are alive."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self.refs: list[weakref.ref[Incident]] = []
        self.most_alive = 0

    def query_incidents(self, query: IncidentQuery) -> Page[Incident]:
        gc.collect()
        self.most_alive = max(self.most_alive, sum(1 for ref in self.refs if ref() is not None))
        page = self._store.query_incidents(query)
        self.refs += [weakref.ref(incident) for incident in page.items]
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "escalation.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.stop()


def test_a_run_holds_one_page_of_candidates_at_a_time(
    store: SqliteStore, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(escalation, "ESCALATION_PAGE", PAGE)
    storm(store)  # STORM incidents due at DEADLINE, none worked out yet
    now = DEADLINE - timedelta(days=10)  # no step due yet
    counting = CountingStore(store)
    rt = runtime(store, loopback, Clock(now))
    rt.store = counting
    assert escalation.escalate_overdue(rt, now) == []
    assert len(counting.refs) == STORM  # every incident was read once (none worked out) ...
    assert counting.most_alive <= PAGE  # ... but one page at a time


def test_a_run_reads_only_the_incidents_whose_next_step_is_due(
    store: SqliteStore, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(escalation, "ESCALATION_PAGE", PAGE)
    storm(store)
    counting = CountingStore(store)
    rt = runtime(store, loopback, Clock(DEADLINE))
    rt.store = counting
    early = DEADLINE - timedelta(days=10)
    assert escalation.escalate_overdue(rt, early) == []  # works out every next step (the warning)
    read = len(counting.refs)
    assert escalation.escalate_overdue(rt, early + timedelta(days=1)) == []
    assert len(counting.refs) == read  # nothing due: no incident read
    # A writer that knows nothing of escalation raises one incident's priority and its deadline.
    changed = store.get_incident("inc-150")
    assert changed is not None
    store.save_incident(
        changed.model_copy(
            update={"priority": Priority.high, "first_answer_due": DEADLINE - timedelta(days=2)}
        ),
        expected_version=changed.version,
    )
    assert escalation.escalate_overdue(rt, early + timedelta(days=1)) == []
    assert len(counting.refs) == read + 1  # only the changed one, once
    # Its warning comes with its own deadline; the others' are still ahead.
    (alert,) = escalation.escalate_overdue(rt, DEADLINE - timedelta(days=2))
    assert alert.incident_id == "inc-150" and alert.details["level"] == 2
    assert len(counting.refs) == read + 2
    # At the others' deadline each is read once (the changed one too: its levels 3 and 4 fell due).
    alerts = escalation.escalate_overdue(rt, DEADLINE + timedelta(minutes=1))
    assert alerts and len(counting.refs) == read + 2 + STORM
    changed = store.get_incident("inc-150")
    assert changed is not None and changed.escalation_level == 4
