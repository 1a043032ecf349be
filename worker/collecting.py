"""The collect path: poll one source from its saved cursor, queue what it brings, keep its health.

For every Batch the source yields, the items are sent to ingest first and only then is the cursor
saved, so a run killed midway resumes from the last saved cursor: nothing is skipped, and what is
read twice is absorbed by the idempotent store (deterministic post ids). Errors:

- SourceNotConfigured: the source is switched off; the Russian reason is logged and returned.
- TransientSourceError: recorded; a short wait is retried through the queue (dramatiq.Retry with the
  delay), a long one (daily quota, flood block) pauses the source until it is over.
- CredentialsError: recorded, the credentials are paused, and a `source` alert goes to the analyst.

After every run the source's silence is checked (crawlers.health) and alerted once per episode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import dramatiq

from crawlers.base import (
    Batch,
    CredentialsError,
    Source,
    SourceError,
    SourceNotConfigured,
    TransientSourceError,
)
from crawlers.catalog import build_source
from crawlers.health import (
    credentials_alert,
    is_silent,
    record_errors,
    record_items,
    record_run,
    silence_alert,
)
from crawlers.registry import get_mapper
from index.models import Alert, OfficialPage, SourceState, as_utc
from worker.runtime import Runtime

log = logging.getLogger(__name__)

#: Items per ingest message (a first run of 25 walls can bring 2,500 posts in one batch).
INGEST_CHUNK = 200
#: Retry delay when a transient error gives none (s).
DEFAULT_RETRY_S = 30.0

#: Where a batch's items go: (mapper name, raw items) → queued or processed.
Sink = Callable[[str, list[dict[str, Any]]], object]
#: Called with the id of each new alert (to queue its delivery).
Notifier = Callable[[str], object]


@runtime_checkable
class PagesSource(Protocol):
    """A source that can also report the official pages' metadata (members, verification...)."""

    def fetch_pages(self) -> list[OfficialPage]:
        """Return the official pages updated from the platform."""
        ...


@dataclass
class CollectReport:
    """What one run did (the message is Russian, for the log and the command line)."""

    source: str
    status: str  # ok | disabled | paused | credentials | retry | failed
    message: str = ""
    batches: int = 0
    items: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    alerts: list[str] = field(default_factory=list)


def queue_sink(mapper: str, items: list[dict[str, Any]]) -> None:
    """Send items to the ingest actor (the broker must be configured)."""
    from worker.actors import ingest

    ingest.send(mapper, items)


def _publication_times(rt: Runtime, batch: Batch) -> list[datetime]:
    """Return the publication times of a batch's items (malformed items are left to ingest to report)."""
    mapper = get_mapper(batch.mapper)
    key = rt.settings.pseudonym_key
    times: list[datetime] = []
    for raw in batch.items:
        try:
            times.append(mapper(raw, key).published_at)
        except (ValueError, TypeError, KeyError):
            continue
    return times


def _chunks(items: Sequence[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _credential(source: Source) -> str | None:
    value = getattr(source, "credential_id", None)
    return value if isinstance(value, str) else None


def _is_paused(state: SourceState, now: datetime, credential: str | None) -> bool:
    """Return whether the source must not run now; clear a pause that is over or whose token changed."""
    if state.paused_until is None:
        return False
    over = as_utc(state.paused_until) <= now
    replaced = state.paused_credential is not None and state.paused_credential != credential
    if over or replaced:
        state.paused_until = state.paused_reason = state.paused_credential = None
        return False
    return True


def _record_error(state: SourceState, now: datetime, exc: BaseException, kind: str) -> None:
    state.last_error_at = now
    state.last_error = str(exc) or type(exc).__name__
    record_errors(state, {kind: 1})


def _add_alert(rt: Runtime, alert: Alert, report: CollectReport, notify: Notifier | None) -> None:
    if rt.store.add_alert(alert):
        report.alerts.append(alert.id)
        if notify is not None:
            notify(alert.id)


def _check_silence(
    rt: Runtime, state: SourceState, now: datetime, report: CollectReport, notify: Notifier | None
) -> None:
    cfg = rt.settings.collect
    if is_silent(state, now, cfg.silence_factor, cfg.silence_min_hours):
        _add_alert(rt, silence_alert(state, now, cfg.silence_factor, cfg.silence_min_hours), report, notify)


def collect_once(
    rt: Runtime,
    source_name: str,
    *,
    sink: Sink | None = None,
    notify: Notifier | None = None,
) -> CollectReport:
    """Run one collection of `source_name` from its saved cursor and return what it did.

    Raises dramatiq.Retry(delay) for a short transient failure (the worker retries the message) and
    UnknownSource for a name no source is registered under.
    """
    try:
        source = build_source(source_name, rt.settings, rt.profile)
    except SourceNotConfigured as exc:
        log.warning("%s", exc)
        return CollectReport(source_name, "disabled", message=str(exc))
    if hasattr(source, "clock") and rt.settings.clock == "wall":
        source.clock = rt.clock  # one notion of "now" per worker; a demo's stream time is not for APIs
    send = sink or queue_sink
    now = as_utc(rt.clock())
    state = rt.store.get_source_state(source_name) or SourceState(name=source_name)
    report = CollectReport(source_name, "ok")
    if _is_paused(state, now, _credential(source)):
        report.status = "paused"
        report.message = (
            f"{source_name} приостановлен до {state.paused_until:%d.%m.%Y %H:%M} UTC: {state.paused_reason}"
        )
        log.warning("%s", report.message)
        _check_silence(rt, state, now, report, notify)
        rt.store.save_source_state(state)
        return report
    state.last_run_at = now
    try:
        if isinstance(source, PagesSource):
            pages = source.fetch_pages()
            if pages:
                rt.store.save_pages(pages)
                report.pages = len(pages)
        for batch in source.poll(state):
            for chunk in _chunks(batch.items, INGEST_CHUNK):
                send(batch.mapper, chunk)
            state.cursor = batch.cursor  # saved only after the items were handed over
            state.items_total += len(batch.items)
            record_errors(state, batch.errors)
            record_items(state, _publication_times(rt, batch))
            for kind, count in batch.errors.items():
                report.errors[kind] = report.errors.get(kind, 0) + count
            report.batches += 1
            report.items += len(batch.items)
            rt.store.save_source_state(state)
    except TransientSourceError as exc:
        _record_error(state, now, exc, f"{source_name}/transient")
        record_run(state, report.items)
        delay_s = exc.retry_after_s if exc.retry_after_s is not None else DEFAULT_RETRY_S
        if delay_s <= rt.settings.collect.retry_max_s:
            report.status, report.message = "retry", f"{source_name}: повтор через {delay_s:.0f} с: {exc}"
            log.warning("%s", report.message)
            _check_silence(rt, state, now, report, notify)
            rt.store.save_source_state(state)
            raise dramatiq.Retry(str(exc), delay=int(delay_s * 1000)) from exc
        state.paused_until = now + timedelta(seconds=delay_s)
        state.paused_reason = f"лимит API, ждём {delay_s / 3600:.1f} ч: {exc}"
        state.paused_credential = None
        report.status, report.message = "paused", f"{source_name}: {state.paused_reason}"
    except CredentialsError as exc:
        _record_error(state, now, exc, f"{source_name}/credentials")
        record_run(state, report.items)
        credential = _credential(source)
        state.paused_until = now + timedelta(hours=rt.settings.collect.credentials_pause_hours)
        state.paused_reason = str(exc)
        state.paused_credential = credential
        report.status, report.message = "credentials", f"{source_name}: {exc}"
        _add_alert(rt, credentials_alert(source_name, credential, str(exc), now), report, notify)
    except SourceError as exc:
        _record_error(state, now, exc, f"{source_name}/failed")
        record_run(state, report.items)
        report.status, report.message = "failed", f"{source_name}: сбор прерван: {exc}"
    except Exception as exc:  # a bug or an unexpected answer: keep it visible in /sources, then retry
        _record_error(state, now, exc, f"{source_name}/crashed")
        record_run(state, report.items)
        rt.store.save_source_state(state)
        raise
    else:
        state.last_success_at = now
        record_run(state, report.items)
        report.message = f"{source_name}: собрано {report.items} за {report.batches} пакетов" + (
            f", ошибки: {report.errors}" if report.errors else ""
        )
    log.log(logging.INFO if report.status == "ok" else logging.WARNING, "%s", report.message)
    _check_silence(rt, state, now, report, notify)
    rt.store.save_source_state(state)
    return report


def inline_sink(rt: Runtime) -> Sink:
    """Return a sink that ingests and runs detection in this process (no broker: `infopole crawl`)."""
    from worker.pipeline import detect, ingest_items, load_posts

    def sink(mapper: str, items: list[dict[str, Any]]) -> None:
        result = ingest_items(rt, mapper, items)
        if result.post_ids:
            detect(rt, load_posts(rt, result.post_ids), as_utc(rt.clock()))

    return sink
