"""The single scheduler process: enqueues periodic work, once per time slot even if restarted.

Run exactly one: `python -m worker.scheduler` (REDIS__URL set); `infopole run` starts it.
"""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from dramatiq import Message

from index.models import utcnow
from worker.broker import setup_broker
from worker.slots import claim_slot, slot_id

log = logging.getLogger(__name__)

broker = setup_broker()

#: The queue of each actor the scheduler enqueues (as declared in worker.actors; a test pins them).
#: Messages are sent by name, so the scheduler starts without importing the actors and the
#: understanding models they load.
ACTOR_QUEUES = {
    "escalate": "infopole-detect",
    "redeliver": "infopole-notify",
    "retention": "infopole-detect",
    "collect": "infopole-collect",
}


def send(actor_name: str, *args: str) -> None:
    """Enqueue one message for an actor of worker.actors by its name."""
    queue = ACTOR_QUEUES[actor_name]
    broker.enqueue(Message(queue_name=queue, actor_name=actor_name, args=args, kwargs={}, options={}))


#: How often overdue incidents are checked (s); the demo uses a shorter period via the environment.
ESCALATE_PERIOD_S = int(os.environ.get("INFOPOLE_ESCALATE_PERIOD_S", "60"))
#: How often retention deletes old posts (s).
RETENTION_PERIOD_S = 24 * 3600
#: How often stored alerts whose delivery was never queued are queued again (s).
REDELIVER_PERIOD_S = int(os.environ.get("INFOPOLE_REDELIVER_PERIOD_S", "60"))


def enqueue_escalation() -> None:
    """Enqueue one escalation check for the current slot."""
    slot = slot_id(utcnow(), ESCALATE_PERIOD_S)
    if claim_slot(broker.client, "escalate", slot):
        send("escalate", slot)


def enqueue_redelivery() -> None:
    """Enqueue one sweep for alerts whose delivery was never queued, for the current slot."""
    slot = slot_id(utcnow(), REDELIVER_PERIOD_S)
    if claim_slot(broker.client, "redeliver", slot):
        send("redeliver", slot)


def enqueue_collect(source: str, period_s: int) -> None:
    """Enqueue one collection run of `source` for the current slot of its poll interval."""
    slot = slot_id(utcnow(), period_s)
    if claim_slot(broker.client, f"collect:{source}", slot):
        send("collect", source, slot)


def add_collect_jobs(scheduler: BlockingScheduler) -> list[str]:
    """Add one collect job per source that can run (switched-off ones are logged with their reason)."""
    from infopole.settings import load_settings

    try:
        settings = load_settings()
    except ValueError as exc:  # invalid settings: escalation still runs
        log.error("сбор не запланирован: %s", exc)
        return []
    if settings.clock == "stream":  # the demo replays its own stream; its profile's sources are fictional
        log.info("сбор не запланирован: демо-режим проигрывает свой поток")
        return []
    from crawlers.catalog import poll_interval_s, source_statuses
    from index.profile import load_profile
    from worker.runtime import profile_path

    try:
        profile = load_profile(profile_path(settings))
    except ValueError as exc:  # ProfileError: escalation still runs
        log.error("сбор не запланирован: %s", exc)
        return []
    enabled: list[str] = []
    for name, reason in source_statuses(settings, profile).items():
        if reason is not None:
            log.warning("%s", reason)
            continue
        period = poll_interval_s(settings, name)
        scheduler.add_job(
            enqueue_collect,
            "interval",
            seconds=period,
            args=[name, period],
            id=f"collect:{name}",
            max_instances=1,
            coalesce=True,
            next_run_time=utcnow(),
        )
        enabled.append(name)
        log.info("collect %s every %d s", name, period)
    return enabled


def enqueue_retention() -> None:
    """Enqueue the daily retention run once per day."""
    slot = slot_id(utcnow(), RETENTION_PERIOD_S)
    if claim_slot(broker.client, "retention", slot):
        send("retention", slot)


def main() -> None:
    """Run the scheduler until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s scheduler %(levelname)s %(message)s")
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(
        enqueue_escalation,
        "interval",
        seconds=ESCALATE_PERIOD_S,
        id="escalate",
        max_instances=1,
        coalesce=True,
    )

    scheduler.add_job(
        enqueue_redelivery,
        "interval",
        seconds=REDELIVER_PERIOD_S,
        id="redeliver",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        enqueue_retention,
        "interval",
        seconds=RETENTION_PERIOD_S,
        id="retention",
        max_instances=1,
        coalesce=True,
    )
    add_collect_jobs(scheduler)

    def stop(signum: int, frame: FrameType | None) -> None:
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    log.info("scheduler started: escalation every %d s", ESCALATE_PERIOD_S)
    scheduler.start()


if __name__ == "__main__":
    main()
