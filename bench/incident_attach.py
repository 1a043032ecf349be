"""Benchmark: CPU per message attached to one growing incident by the detection step (update_incidents).

A live city's outage ("нет горячей воды на ул. Ленина") gathers thousands of complaints into one
incident. This feeds `worker.pipeline.update_incidents` batches of complaints about the same problem and
place (`--per-batch` of them per detection run) on a SQLite store until the incident holds `--posts`
messages, and prints the CPU (process time) per attached message for each stretch of the incident's
growth: median of `--runs` runs, each on a fresh store. A cost that stays flat as the incident grows is
what keeps the detection step at pace during a long crisis.

`--authors N` has the complaints written by N people in turn instead of each by its own: with N ≤ 2
(and no reach) the incident stays of normal priority, so every run judges its priority again, the path
that read the incident's latest 500 messages per run before the incident kept its priority basis.

It runs whatever code is importable next to it: to measure the code before a change, check the earlier
commit out in a worktree, copy this file into its bench/ and run it from there.

    .venv/bin/python bench/incident_attach.py --posts 3000 --per-batch 1 20 --runs 3 [--authors 2]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawlers.demo import DEMO_PROFILE_PATH
from index.models import Kind, Post, Tone
from index.profile import load_profile
from index.sqlite import SqliteStore
from worker.pipeline import update_incidents

#: Tuesday 2026-01-20 10:00 Moscow: the first complaint.
T0 = datetime(2026, 1, 20, 7, 0, tzinfo=UTC)
#: Messages per reported stretch of the incident's growth.
STRETCH = 500


def complaint(n: int, authors: int = 0) -> Post:
    """Return complaint n about the same problem and place (one incident); `authors` > 0: from one of them."""
    at = T0 + timedelta(seconds=20 * n)
    return Post(
        id=f"vk:-1_{n}",
        source="vk",
        source_id=f"-1_{n}",
        url=f"https://vk.com/wall-1_{n}",
        author_id=f"author{n % authors if authors else n}",
        published_at=at,
        collected_at=at,
        text="Третий день нет горячей воды на Ленина, когда дадут?",
        sector="ЖКХ",
        topic="Отсутствие горячей воды",
        kind=Kind.complaint,
        tone=Tone.negative,
        territory="centr",
        thread_id=f"vk:-1_{n}",
    )


def one_run(total: int, per_batch: int, authors: int = 0) -> list[float]:
    """Attach `total` complaints in batches of `per_batch`; return CPU ms per message, per stretch."""
    profile = load_profile(DEMO_PROFILE_PATH)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "bench.sqlite3")
        rt: Any = SimpleNamespace(store=store, profile=profile)
        posts = [complaint(n, authors) for n in range(total)]
        store.upsert_posts(posts)
        stretches: list[float] = []
        spent = 0.0
        for start in range(0, total, per_batch):
            batch = posts[start : start + per_batch]
            started = time.process_time()
            update_incidents(rt, batch, batch[-1].published_at + timedelta(seconds=5))
            spent += time.process_time() - started
            if (start + len(batch)) % STRETCH == 0:
                stretches.append(spent * 1000 / STRETCH)
                spent = 0.0
        held = store.find_incident_for_post(posts[-1].id)
        assert held is not None and len(held.post_ids) == total, "every complaint in one incident"
        store.close()
    return stretches


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=3000, help="messages the incident grows to")
    parser.add_argument("--per-batch", type=int, nargs="+", default=[1, 20], help="its messages per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--authors", type=int, default=0, help="authors in turn (0: each its own)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    total = args.posts // STRETCH * STRETCH
    print("messages held | " + " | ".join(f"{b} per run, ms CPU per message" for b in args.per_batch))
    results = {b: [one_run(total, b, args.authors) for _ in range(args.runs)] for b in args.per_batch}
    for k in range(total // STRETCH):
        cells = [f"{statistics.median(run[k] for run in results[b]):.2f}" for b in args.per_batch]
        print(f"{k * STRETCH:,}–{(k + 1) * STRETCH:,} | " + " | ".join(cells))


if __name__ == "__main__":
    main()
