"""Benchmark: one escalation run's CPU and peak traced memory with many open incidents, few of them due.

For each size, a SQLite store of N open incidents (demo profile recipients, 3 messages and 2 audit
entries each, like a live replay's) is built once. 99 % have their first-answer deadline 3 hours to 13
days ahead (inside the old run's 14-day warning horizon, as in a live replay); each further 1 % slice
falls due one minute after the previous, so every run a minute apart has ~1 % of the incidents with a
step due. Then, in this process, as the `escalate` actor runs them every minute:

- run 0 (t0): the first run (the old code fills its per-process memo; the new one works out and
  writes every incident's next step — a one-off after the upgrade's migration);
- runs 1–3 (t0 + 1, 2, 3 min): a steady run each, ~1 % due: CPU seconds (process time), median;
- run 4 (t0 + 4 min): the same under tracemalloc: peak traced memory.

It runs whatever code is importable next to it: to measure the code before a change, check the
earlier commit out in a worktree, copy this file into its bench/ and run it from there.

    .venv/bin/python bench/escalation.py --sizes 10000 50000 100000
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawlers.demo import DEMO_PROFILE_PATH
from index.models import AuditEntry, Incident, IncidentStatus, Priority
from index.profile import Profile, load_profile
from index.sqlite import SqliteStore
from index.store import IncidentQuery
from worker.pipeline import escalate_overdue

#: Tuesday 2026-01-20 10:00 Moscow, a working morning: the first run.
T0 = datetime(2026, 1, 20, 7, 0, tzinfo=UTC)
#: Steady runs measured for CPU (the median is reported), then one under tracemalloc.
CPU_RUNS = 3
BUILD_BATCH = 1000


def _incident(n: int, rng: random.Random, profile: Profile, due_slice: int | None) -> Incident:
    """Return open incident n; in `due_slice` k its deadline falls k - 1 minutes and 30 s after T0."""
    recipient = profile.recipients[n % len(profile.recipients)].id
    created = T0 - timedelta(hours=rng.uniform(1, 48))
    if due_slice is None:
        due = T0 + timedelta(hours=rng.uniform(3, 13 * 24))
    else:
        due = T0 + timedelta(minutes=due_slice - 1, seconds=30)
    return Incident(
        id=f"bench-inc-{n:07d}",
        title=f"ЖКХ: нет горячей воды — ул. Ленина, {n}",
        sector="ЖКХ",
        topic="Отсутствие горячей воды",
        territory="centr",
        place="Ленина",
        recipient=recipient,
        priority=Priority.high if n % 7 == 0 else Priority.normal,
        status=IncidentStatus.assigned,
        post_ids=[f"bench-post-{n:07d}-{k}" for k in range(3)],
        created_at=created,
        first_answer_due=due,
        audit=[
            AuditEntry(at=created, actor="система", action="создан", detail=f"исполнитель: {recipient}"),
            AuditEntry(at=created, actor="система", action="добавлено сообщение", detail=f"p-{n}"),
        ],
        updated_at=created,
    )


def build(path: Path, size: int, due_share: float, profile: Profile) -> None:
    """Write `size` open incidents to a new store at `path` (slices 1..4 of due_share each due)."""
    rng = random.Random(size)
    per_slice = max(1, round(size * due_share))
    store = SqliteStore(path)
    try:
        batch: list[tuple[Incident, int | None]] = []
        for n in range(size):
            due_slice = n // per_slice + 1 if n < per_slice * (CPU_RUNS + 1) else None
            batch.append((_incident(n, rng, profile, due_slice), None))
            if len(batch) >= BUILD_BATCH:
                store.save_incidents(batch)
                batch = []
        if batch:
            store.save_incidents(batch)
    finally:
        store.close()


def measure(path: Path, profile: Profile) -> dict[str, Any]:
    """Run the escalation at T0 and the next minutes on the store; return CPU, memory and steps."""
    store = SqliteStore(path)
    rt: Any = SimpleNamespace(store=store, profile=profile)
    try:
        started = time.process_time()
        escalate_overdue(rt, T0)
        first_s = time.process_time() - started
        steady: list[float] = []
        for minute in range(1, CPU_RUNS + 1):
            started = time.process_time()
            escalate_overdue(rt, T0 + timedelta(minutes=minute))
            steady.append(time.process_time() - started)
        tracemalloc.start()
        escalate_overdue(rt, T0 + timedelta(minutes=CPU_RUNS + 1))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        stepped = store.query_incidents(
            IncidentQuery(
                status=[IncidentStatus.assigned],
                escalation_below=2,
                overdue_at=T0 + timedelta(minutes=CPU_RUNS + 2),
            )
        ).total
    finally:
        store.close()
    return {
        "first_s": first_s,
        "steady_s": steady,
        "peak_mib": peak / 2**20,
        "left_unstepped": stepped,  # incidents due by then still below level 2 (must be 0)
    }


def main() -> None:
    """Build the stores (once) and print one row per size."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--due", type=float, default=0.01, help="share of incidents due per run")
    parser.add_argument("--data", type=Path, default=Path("/tmp/escalation/stores"))
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    profile = load_profile(DEMO_PROFILE_PATH)
    args.data.mkdir(parents=True, exist_ok=True)
    label = args.label or ("after" if _has_step_index() else "before")
    print(f"code: {label}; due per run: {args.due:.1%}")
    print(
        "| open incidents | first run CPU s | steady run CPU s (median; runs) | peak traced MiB | left due |"
    )
    print("|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        path = args.data / f"{label}-{size}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        started = time.monotonic()
        build(path, size, args.due, profile)
        built_s = time.monotonic() - started
        result = measure(path, profile)
        runs = ", ".join(f"{s:.3f}" for s in result["steady_s"])
        print(
            f"| {size:,} | {result['first_s']:.2f} | {statistics.median(result['steady_s']):.3f} ({runs}) "
            f"| {result['peak_mib']:.1f} | {result['left_unstepped']} |",
            flush=True,
        )
        print(f"  (store built in {built_s:.0f} s)", file=sys.stderr)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _has_step_index() -> bool:
    """Return whether the code under test stores incidents' next escalation step."""
    return "next_step_at" in Incident.model_fields


if __name__ == "__main__":
    main()
