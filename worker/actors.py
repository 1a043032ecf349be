"""dramatiq actors: ingest → detect → notify, escalation of overdue incidents, and dead letters.

Run a worker with `dramatiq worker.actors` (REDIS__URL set); `infopole run` does it for you.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, cast

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from redis import Redis

from index.models import utcnow
from index.store import AlertingStore
from worker import detect_queue
from worker.broker import setup_broker
from worker.delivery import (
    claim_sending,
    is_delivered,
    mark_delivered,
    queue_delivery,
    release_sending,
    undelivered,
)
from worker.disk import check_disk, check_disk_for_detection, guarded, guarded_detection
from worker.memory import limit_malloc_arenas
from worker.notify import DeliveryError, Notifier, redis_lock
from worker.notify.delivery import RedisSentMarks
from worker.notify.webhook import send_webhook
from worker.pipeline import (
    detect,
    detect_conflicts,
    escalate_overdue,
    ingest_items,
    load_posts,
    update_incidents,
)
from worker.retrying import is_outage, retry_policy
from worker.runtime import Runtime, get_runtime

log = logging.getLogger(__name__)

# This worker process's threads share one malloc arena (worker.memory): set before any thread starts.
limit_malloc_arenas()
broker = setup_broker()


def _build_runtime() -> None:
    """Build this process's runtime and configured sources now; on failure log it (the first message retries).

    Building the sources loads their libraries (Telethon for Telegram) at boot, so a worker's memory
    does not step up in the middle of a run when the scheduler first hands it a collection job.
    """
    from crawlers.catalog import source_statuses

    try:
        runtime = get_runtime()
        source_statuses(runtime.settings, runtime.profile)
    except Exception:
        log.exception("worker runtime could not be built at boot; the first message tries again")


class BuildRuntimeAtBoot(dramatiq.Middleware):
    """Build a worker process's runtime (store, profile, models) as soon as it boots, not with its
    first message, so the first batch does not wait for it."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Start the build in the background (messages wait for it on the runtime's lock)."""
        threading.Thread(target=_build_runtime, name="runtime-build", daemon=True).start()


broker.add_middleware(BuildRuntimeAtBoot())

#: Dead-letter file under the data directory: one JSON line per message whose retries ran out.
DEAD_LETTER_FILE = "dead-letters.jsonl"
#: How long one notify run may take (ms); also how long its sending lock lives.
NOTIFY_TIME_LIMIT_MS = 60_000
#: TTL of an address's flush lock (ms): renewed while held, so it only bounds how long a killed
#: worker keeps an address blocked.
FLUSH_LOCK_MS = 15_000
#: How long one delivery sweep may take (ms).
SWEEP_TIME_LIMIT_MS = 300_000


def _send_budget_s(time_limit_ms: int) -> float:
    """Return how long a notify run may start sends (s): its limit less a send's and a store write's wait."""
    rt = get_runtime()
    margin_s = 2 * rt.settings.notify.timeout_s + 15.0
    return max(5.0, time_limit_ms / 1000 - margin_s)


def _redis() -> Redis:
    """Return the Redis client of the broker the actors are bound to now."""
    return cast(RedisBroker, dramatiq.get_broker()).client


def queue_notify(alert_id: str) -> None:
    """Queue the delivery of a stored alert and remember that it is queued."""
    queue_delivery(_redis(), notify.send, alert_id)


def _notify_without_log(alert_id: str) -> None:
    """Send an alert to the settings' webhook only, for a store that keeps no delivery log.

    Raises DeliveryError while the webhook does not accept it (the actor retries).
    """
    rt = get_runtime()
    alert = rt.store.get_alert(alert_id)
    url = rt.settings.notify.webhook_url
    log.warning(
        "notify %s: %s keeps no delivery log; the settings' webhook only", alert_id, type(rt.store).__name__
    )
    if alert is None or not url:
        return
    secret = rt.settings.notify.webhook_secret.get_secret_value() or None
    body = alert.model_dump_json().encode("utf-8")
    send_webhook(url, body, secret=secret, delivery_id=alert_id, timeout_s=rt.settings.notify.timeout_s)


def _notifier() -> Notifier:
    """Return the delivery log of this process's runtime, its addresses locked across workers.

    Deliveries run on wall time (back-off, quiet hours), whatever clock the detection uses.
    """
    rt = get_runtime()
    client = _redis()
    return Notifier(
        rt.store,
        rt.settings,
        rt.profile,
        lock=redis_lock(client, FLUSH_LOCK_MS),
        sent_marks=RedisSentMarks(client),
    )


#: Retry policy of the pipeline's steps (ingest, history, detection): 5 retries for failures, more for
#: outages, back-off 1-60 s, 2 minutes per run, then the dead-letter log.
PIPELINE_STEP: dict[str, Any] = {
    "max_retries": 5,
    "retry_when": retry_policy(5),
    "min_backoff": 1_000,
    "max_backoff": 60_000,
    "time_limit": 120_000,
    "on_retry_exhausted": "dead_letter",
}


@dramatiq.actor(queue_name="infopole-dead", max_retries=0, time_limit=10_000)
def dead_letter(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """Record a message whose retries are exhausted, so it can be inspected and replayed."""
    write_dead_letter(message, retry_info)


def write_dead_letter(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """Append a dead letter (the message and why it failed) to the data directory's file."""
    rt = get_runtime()
    rt.settings.data_dir.mkdir(parents=True, exist_ok=True)
    line = {"at": utcnow().isoformat(), "message": message, "retry": retry_info}
    with (rt.settings.data_dir / DEAD_LETTER_FILE).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
    log.error("dead letter: %s %s", message.get("actor_name"), message.get("message_id"))


@dramatiq.actor(queue_name="infopole-ingest", **PIPELINE_STEP)
def ingest(source: str, items: list[dict[str, Any]]) -> None:
    """Map, understand and store a batch of raw items, then queue detection for it.

    Waits (DiskFull, retried) while the data directory's disk is almost full: checked when the message
    arrives and again right before the batch is written.
    """
    rt = get_runtime()
    check_disk(rt, queue_notify)
    result = ingest_items(guarded(rt, queue_notify), source, items)
    if result.post_ids:
        client = _redis()
        detect_queue.add_pending(client, result.post_ids)
        schedule_detection(client)


def schedule_detection(client: Redis, delay_ms: int = detect_queue.RUN_DELAY_MS) -> None:
    """Send one delayed detection run for the waiting posts unless one is scheduled already."""
    if detect_queue.claim_schedule(client):
        detect_batch.send_with_options(delay=delay_ms)


#: This process's runtime and its detection-guarded copy (see _detection_runtime).
_DETECTION_RUNTIME: tuple[Runtime, Runtime] | None = None
_DETECTION_RUNTIME_LOCK = threading.Lock()


def _detection_runtime() -> Runtime:
    """Return this process's runtime with detection's disk guard, the same one at every run.

    The story checks and spike counts kept between runs (worker.pipeline, worker.spiking) are of one
    store object: a new guard per run made them forget everything at every run (each story read again
    by every run that touched it, 4-5 s of CPU per 2,000 posts ten minutes into a 300 posts/s run).
    """
    global _DETECTION_RUNTIME
    rt = get_runtime()
    with _DETECTION_RUNTIME_LOCK:
        if _DETECTION_RUNTIME is None or _DETECTION_RUNTIME[0] is not rt:
            _DETECTION_RUNTIME = (rt, guarded_detection(rt, queue_notify))
        return _DETECTION_RUNTIME[1]


def _detect_posts(post_ids: list[str]) -> None:
    """Run every detector on stored posts and queue the notifications of the new alerts.

    Each incident write checks the free space first (DiskFull under half the floor: the run is retried).
    """
    rt = _detection_runtime()
    for alert in detect(rt, load_posts(rt, post_ids), rt.clock()):
        queue_notify(alert.id)


def _detect_apart(post_ids: list[str], first: BaseException) -> None:
    """Detect on halves of a batch that keeps failing until each failing post is alone; record those.

    A post detection always fails on goes to the dead-letter file (with its error) instead of stopping
    detection for every post waiting behind it. Outages are raised: the batch waits for the store.
    """
    if len(post_ids) == 1:
        log.error("detection: post %s fails every time (%s); recorded as a dead letter", post_ids[0], first)
        write_dead_letter(
            {"actor_name": "detect_batch", "args": [post_ids], "message_id": None},
            {"error": repr(first), "reason": "детекция падает на этом сообщении"},
        )
        return
    middle = len(post_ids) // 2
    for part in (post_ids[:middle], post_ids[middle:]):
        try:
            _detect_posts(part)
        except Exception as exc:
            if is_outage(exc):
                raise
            _detect_apart(part, exc)


@dramatiq.actor(queue_name="infopole-detect", **PIPELINE_STEP)
def detect_batch(post_ids: list[str] | None = None) -> None:
    """Run spike, conflict and incident detection on the posts waiting for it; queue notifications.

    Without `post_ids` (what `ingest` sends): one run at a time takes up to RUN_LIMIT waiting ids
    (worker.detect_queue), detects on them and only then drops them, so a killed run loses nothing; a
    run that finds another in progress schedules a later one. With `post_ids`: detects on those.
    Waits (DiskFull, retried) while the disk has less than half the ingest floor free.
    """
    rt = get_runtime()
    check_disk_for_detection(rt, queue_notify)
    if post_ids is not None:
        _detect_posts(post_ids)
        return
    client = _redis()
    detect_queue.run_started(client)
    with redis_lock(client, FLUSH_LOCK_MS)(detect_queue.RUN_LOCK) as acquired:
        if not acquired:
            # The run in progress schedules what it leaves; this keeps one coming should it be killed.
            schedule_detection(client)
            return
        ids = detect_queue.read_pending(client, detect_queue.RUN_LIMIT)
        if ids:
            unique = list(dict.fromkeys(ids))
            try:
                _detect_posts(unique)
            except Exception as exc:
                if (
                    is_outage(exc)
                    or detect_queue.note_failure(client, ids[0]) < detect_queue.MAX_RUN_FAILURES
                ):
                    raise
                _detect_apart(unique, exc)
            detect_queue.clear_failures(client, ids[0])
            if not detect_queue.drop_done(client, ids):
                log.warning("detection: the waiting ids changed under the run; they are detected again")
        left = detect_queue.pending_count(client)
    if left:
        # What came during the run has waited a run's length already: the next run starts at once.
        detect_queue.claim_schedule(client)
        detect_batch.send_with_options(delay=0)


@dramatiq.actor(queue_name="infopole-ingest", **PIPELINE_STEP)
def ingest_history(source: str, items: list[dict[str, Any]]) -> None:
    """Store a batch of past items (the demo's history): their incidents and conflicts, no spike checks.

    The stored posts are the spike baselines' history; spike and резонанс alerts are for what comes live.
    """
    rt = get_runtime()
    check_disk(rt, queue_notify)
    result = ingest_items(rt, source, items)
    posts = load_posts(rt, result.post_ids)
    now = rt.clock()
    found = [*detect_conflicts(rt, posts, now), *update_incidents(rt, posts, now)]
    for alert in found:
        if rt.store.add_alert(alert):
            queue_notify(alert.id)


@dramatiq.actor(
    queue_name="infopole-detect",
    max_retries=3,
    retry_when=retry_policy(3),
    min_backoff=1_000,
    max_backoff=30_000,
    time_limit=120_000,
    on_retry_exhausted="dead_letter",
)
def escalate(slot: str) -> None:
    """Warn and escalate overdue incidents as of the clock (`slot` identifies the scheduler tick)."""
    rt = get_runtime()
    now = rt.clock()
    # One run at a time across workers (a Redis lock renewed while held; a killed run's lapses in 15 s).
    alerts = escalate_overdue(rt, now, lock=redis_lock(_redis(), FLUSH_LOCK_MS))
    log.info("escalation tick %s at %s: %d new alerts", slot, now.isoformat(), len(alerts))
    for alert in alerts:
        queue_notify(alert.id)
    sweep_deliveries.send(slot)


@dramatiq.actor(
    queue_name="infopole-notify",
    max_retries=10,
    retry_when=retry_policy(10),
    min_backoff=2_000,
    max_backoff=300_000,
    time_limit=NOTIFY_TIME_LIMIT_MS,
    on_retry_exhausted="dead_letter",
)
def notify(alert_id: str) -> None:
    """Deliver one alert to every subscribed address once, in order (worker.notify; retried on failure).

    The alert counts as delivered when its deliveries are planned in the log and none failed in this
    run: sent, digested, skipped, failed for good, held on purpose for a digest, or left to the process
    that is sending to the same address right now (the sweep sends what waits for a back-off).
    """
    client = _redis()
    if is_delivered(client, alert_id):
        log.info("notify: alert %s was delivered already", alert_id)
        return
    rt = get_runtime()
    if rt.store.get_alert(alert_id) is None:
        log.warning("notify: alert %s not found", alert_id)
        return
    if not isinstance(rt.store, AlertingStore):
        if not claim_sending(client, alert_id, NOTIFY_TIME_LIMIT_MS):
            busy = f"alert {alert_id} is being sent by another worker"
            raise dramatiq.Retry(busy, delay=NOTIFY_TIME_LIMIT_MS)
        try:
            _notify_without_log(alert_id)
            mark_delivered(client, alert_id)
        finally:
            release_sending(client, alert_id)
        return
    report = _notifier().notify(alert_id, budget_s=_send_budget_s(NOTIFY_TIME_LIMIT_MS))
    if report.errors:
        log.warning("notify %s: not every address got it yet: %s", alert_id, report.errors[-1])
        raise DeliveryError(report.errors[-1])
    if report.out_of_time and report.pending:
        log.info("notify %s: out of time with deliveries left; queued again", alert_id)
        queue_notify(alert_id)
        return
    # Sent, or handed over: a busy address is flushed again by the process holding it, and what waits
    # for a back-off or a digest is sent by the periodic sweep.
    mark_delivered(client, alert_id)


@dramatiq.actor(
    queue_name="infopole-notify",
    max_retries=3,
    retry_when=retry_policy(3),
    min_backoff=5_000,
    max_backoff=60_000,
    time_limit=SWEEP_TIME_LIMIT_MS,
    on_retry_exhausted="dead_letter",
)
def sweep_deliveries(slot: str) -> None:
    """Send what is due in the delivery log: retries after back-off, digests after quiet hours."""
    report = _notifier().sweep(budget_s=_send_budget_s(SWEEP_TIME_LIMIT_MS))
    if report.sent or report.failed or report.retrying:
        log.info(
            "delivery sweep %s: %d sent, %d failed, %d retrying",
            slot,
            len(report.sent),
            len(report.failed),
            len(report.retrying),
        )


@dramatiq.actor(
    queue_name="infopole-notify",
    max_retries=3,
    retry_when=retry_policy(3),
    min_backoff=5_000,
    max_backoff=60_000,
    time_limit=120_000,
    on_retry_exhausted="dead_letter",
)
def redeliver(slot: str) -> None:
    """Queue stored alerts whose delivery was never queued (a crash or an outage cut it off)."""
    rt = get_runtime()
    pending = undelivered(rt.store, _redis(), rt.clock())
    for alert_id in pending:
        queue_notify(alert_id)
    if pending:
        log.warning("redelivery tick %s: %d alerts queued again", slot, len(pending))


#: How long one collection run may take (ms); a run keeps its place with the saved cursor anyway.
COLLECT_TIME_LIMIT_MS = 30 * 60 * 1000


@dramatiq.actor(
    queue_name="infopole-collect",
    max_retries=5,
    retry_when=retry_policy(5),
    min_backoff=5_000,
    max_backoff=600_000,
    time_limit=COLLECT_TIME_LIMIT_MS,
    on_retry_exhausted="dead_letter",
)
def collect(source: str, slot: str = "") -> None:
    """Poll one source from its cursor and queue what it brings (one run per source at a time)."""
    from dramatiq.rate_limits import ConcurrentRateLimiter
    from dramatiq.rate_limits.backends import RedisBackend

    from worker.collecting import collect_once

    backend = RedisBackend(client=broker.client)
    key = f"infopole:collect:{source}"
    mutex = ConcurrentRateLimiter(backend, key, limit=1, ttl=COLLECT_TIME_LIMIT_MS)  # type: ignore[no-untyped-call]
    with mutex.acquire(raise_on_failure=False) as acquired:
        if not acquired:
            log.info("collect %s (%s): another run is in progress, skipped", source, slot)
            return
        report = collect_once(get_runtime(), source, notify=queue_notify)
    log.info("collect %s (%s): %s", source, slot, report.message)


@dramatiq.actor(
    queue_name="infopole-detect",
    max_retries=3,
    retry_when=retry_policy(3),
    min_backoff=10_000,
    max_backoff=300_000,
    time_limit=600_000,
    on_retry_exhausted="dead_letter",
)
def retention(slot: str) -> None:
    """Delete posts older than STORE__RETENTION_DAYS (`slot` identifies the scheduler tick)."""
    from index.retention import apply_retention

    rt = get_runtime()
    deleted = apply_retention(rt.store, rt.settings.store.retention_days, rt.clock())
    log.info(
        "retention tick %s: %d posts older than %d days deleted",
        slot,
        deleted,
        rt.settings.store.retention_days,
    )
