"""An escalation run holds one page of candidate incidents at a time, not every open incident.

Every open incident not yet warned whose deadline is within two weeks is a candidate of every run; in
a live replay there were tens of thousands, and a run that read them all at once grew the worker's RSS
by hundreds of MiB. The bound: while candidates are read, at most ESCALATION_PAGE of them (plus the
ones with a step due) are alive.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from index.models import Incident
from index.sqlite import SqliteStore
from index.store import IncidentQuery, Page
from tests.worker.notify_standins import LoopbackServer
from tests.worker.test_escalation import DEADLINE, STORM, Clock, runtime, storm
from worker import pipeline

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


def test_a_run_holds_one_page_of_candidates_at_a_time(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "ESCALATION_PAGE", PAGE)
    storm(store)  # STORM incidents due at DEADLINE, none warned yet
    now = DEADLINE - timedelta(days=10)  # inside the warning horizon, no step due yet
    counting = CountingStore(store)
    loopback = LoopbackServer()
    try:
        rt = runtime(store, loopback, Clock(now))
        rt.store = counting
        assert pipeline.escalate_overdue(rt, now) == []
    finally:
        loopback.stop()
    assert len(counting.refs) == STORM  # every open incident was a candidate ...
    assert counting.most_alive <= PAGE  # ... but one page at a time


def test_candidates_come_once_each_whichever_query_finds_them(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "ESCALATION_PAGE", PAGE)
    storm(store)
    loopback = LoopbackServer()
    try:
        now = DEADLINE + timedelta(hours=1)  # overdue and not warned: both queries find each one
        rt = runtime(store, loopback, Clock(now))
        ids = [incident.id for incident in pipeline._iter_escalation_candidates(rt, now)]
    finally:
        loopback.stop()
    assert sorted(ids) == sorted(f"inc-{n:03d}" for n in range(STORM))
