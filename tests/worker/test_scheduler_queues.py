"""The scheduler sends its periodic messages by actor name: each to the queue its actor consumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json
import worker.actors as actors
import worker.scheduler as scheduler
declared = {name: getattr(actors, name).queue_name for name in scheduler.ACTOR_QUEUES}
print(json.dumps({"declared": declared, "used": scheduler.ACTOR_QUEUES}))
"""


def test_scheduler_queues_match_the_actors() -> None:
    # A fresh process: importing the actors sets the global broker (no connection is made).
    env = dict(os.environ, REDIS__URL="redis://127.0.0.1:1/0")
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["declared"] == found["used"]
    assert set(found["used"]) == {"escalate", "redeliver", "retention", "collect"}
