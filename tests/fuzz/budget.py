"""The fuzz suites' budget: small by default (make test), larger with INFOPOLE_FUZZ_SCALE=10 (or more)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

#: Multiplier of every suite's default number of examples.
SCALE = max(1, int(os.environ.get("INFOPOLE_FUZZ_SCALE", "1") or "1"))


def fuzz(examples: int) -> settings:
    """Return hypothesis settings with `examples` x SCALE examples, no deadline, no slowness checks."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,  # caplog and friends are cleared per example
        ],
        database=None,
    )
