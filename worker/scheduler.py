"""The single scheduler process: enqueues periodic work, once per time slot even if restarted.

Run exactly one: `python -m worker.scheduler` (REDIS__URL set); `infopole run` starts it.
"""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler

from index.models import utcnow
from worker.actors import broker, escalate
from worker.slots import claim_slot, slot_id

log = logging.getLogger(__name__)

#: How often overdue incidents are checked (s); the demo uses a shorter period via the environment.
ESCALATE_PERIOD_S = int(os.environ.get("INFOPOLE_ESCALATE_PERIOD_S", "60"))


def enqueue_escalation() -> None:
    """Enqueue one escalation check for the current slot."""
    slot = slot_id(utcnow(), ESCALATE_PERIOD_S)
    if claim_slot(broker.client, "escalate", slot):
        escalate.send(slot)


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

    def stop(signum: int, frame: FrameType | None) -> None:
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    log.info("scheduler started: escalation every %d s", ESCALATE_PERIOD_S)
    scheduler.start()


if __name__ == "__main__":
    main()
