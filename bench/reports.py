"""Benchmark справки and indicators on a large generated store (the issue's bar: under 5 s on 1M posts).

Builds (once, cached under --dir) a SQLite store with --posts posts spread over --days days before END,
with sectors, topics, territories of the demo profile, kinds, tones, official pages with comments and
incidents of every priority; then times, median of --runs:
- a справка for a sector and a week (JSON content and the DOCX);
- a справка for a sector and a month (DOCX);
- a справка for a territory and a month;
- the weekly note (DOCX, with the pages' health);
- /indicators for a week.

Each line gives the median wall-clock time and every run's, the median CPU time of this process (what the
work costs: on an idle machine the wall-clock time is about the CPU time plus disk waits) and the load
average before the case (a shared, loaded machine makes every wall-clock figure slower).

Usage: .venv/bin/python bench/reports.py [--posts 1000000] [--days 365] [--runs 3] [--dir /tmp/infopole-bench]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawlers.demo import DEMO_PROFILE_PATH
from index.models import IncidentStatus, Kind, Metrics, Post, Priority, Tone
from index.profile import load_profile
from index.sqlite import SqliteStore
from index.store import PostQuery
from risk.indicators import Slice, compute_indicators
from risk.report_docx import render_docx
from risk.reports import build_report
from tests.factories import make_incident

END = datetime(2026, 11, 9, tzinfo=ZoneInfo("Europe/Moscow")).astimezone(UTC)
BATCH = 5000
SECTORS = [
    "ЖКХ",
    "Дороги",
    "Благоустройство",
    "Мусор/Свалки/ТКО",
    "Общественный транспорт",
    "Образование",
    "Здравоохранение/Медицина",
    "Электроснабжение",
    "Безопасность",
    "Экология",
]
TOPICS = [f"тема {i}" for i in range(8)]
SOURCES = ["vk", "vk", "vk", "tg", "ok", "web"]


def build(path: Path, n: int, days: int, seed: int = 1) -> SqliteStore:
    """Return the store at `path`, filling it with `n` posts unless it already holds them."""
    store = SqliteStore(path)
    if store.count_posts(PostQuery()) >= n:
        return store
    profile = load_profile(DEMO_PROFILE_PATH)
    territories = [t.id for t in profile.walk()]
    pages = [p.id for p in profile.pages]
    rng = random.Random(seed)
    span_s = days * 86400
    started = time.perf_counter()
    batch: list[Post] = []
    for i in range(n):
        at = END - timedelta(seconds=rng.random() * span_s)
        official = rng.random() < 0.02
        page = rng.choice(pages) if official or rng.random() < 0.1 else None
        sector = rng.choice(SECTORS) if rng.random() < 0.7 else None
        batch.append(
            Post(
                id=f"bench:{i:08d}",
                source="vk" if page else rng.choice(SOURCES),
                source_id=str(i),
                url=f"https://vk.com/wall-1_{i}",
                author_id=f"{rng.getrandbits(40):010x}",
                author_name="Житель",
                published_at=at,
                text="Тестовое сообщение жителя о проблеме во дворе, телефон +7 900 000-00-00",
                parent_id=None if official or page is None else f"bench:{max(0, i - 5):08d}",
                page_id=page,
                is_official=official,
                metrics=Metrics(views=rng.randint(10, 20000), likes=rng.randint(0, 200)),
                sector=sector,
                topic=rng.choice(TOPICS) if sector else None,
                kind=rng.choice(list(Kind)),
                tone=rng.choice([Tone.negative, Tone.negative, Tone.neutral, Tone.positive]),
                territory=rng.choice(territories) if rng.random() < 0.6 else None,
            )
        )
        if len(batch) >= BATCH:
            store.upsert_posts(batch)
            batch = []
    store.upsert_posts(batch)
    for j in range(n // 200):
        created = END - timedelta(seconds=rng.random() * span_s)
        store.save_incident(
            make_incident(
                id=f"bench-inc-{j:06d}",
                sector=rng.choice(SECTORS),
                territory=rng.choice(territories),
                recipient=rng.choice([r.id for r in profile.recipients]),
                priority=rng.choice(list(Priority)),
                status=rng.choice(list(IncidentStatus)),
                created_at=created,
                first_answer_due=created + timedelta(hours=8),
                first_answered_at=created + timedelta(hours=rng.uniform(1, 20))
                if rng.random() < 0.7
                else None,
                post_ids=[f"bench:{rng.randrange(n):08d}" for _ in range(rng.randint(1, 5))],
            )
        )
    print(f"built {n} posts in {time.perf_counter() - started:.0f} s", flush=True)
    return store


def timed(runs: int, fn: Callable[[], object]) -> tuple[list[float], list[float]]:
    """Return the wall-clock and the CPU seconds (this process) of each of `runs` calls of `fn`."""
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/infopole-bench"))
    args = parser.parse_args()
    store = build(args.dir / f"reports-{args.posts}-{args.days}.sqlite3", args.posts, args.days)
    profile = load_profile(DEMO_PROFILE_PATH)
    tz = ZoneInfo(profile.timezone)
    week = (END - timedelta(days=7), END)
    month = (END - timedelta(days=30), END)
    cases = {
        "справка: сектор, неделя (данные)": lambda: build_report(
            store, profile, "reference", *week, END, Slice(sector="ЖКХ")
        ),
        "справка: сектор, неделя (DOCX)": lambda: render_docx(
            build_report(store, profile, "reference", *week, END, Slice(sector="ЖКХ"))
        ),
        "справка: сектор, месяц (DOCX)": lambda: render_docx(
            build_report(store, profile, "reference", *month, END, Slice(sector="ЖКХ"))
        ),
        "справка: территория, месяц (DOCX)": lambda: render_docx(
            build_report(store, profile, "reference", *month, END, Slice(territory="d-severny"))
        ),
        "еженедельная записка (DOCX)": lambda: render_docx(
            build_report(store, profile, "weekly", *week, END)
        ),
        "/indicators: неделя": lambda: compute_indicators(store, profile, *week, END, tz),
    }
    print(f"store: {store.count_posts(PostQuery())} posts over {args.days} days; median of {args.runs} runs")
    for name, fn in cases.items():
        load = os.getloadavg()[0]
        wall, cpu = timed(args.runs, fn)
        runs = ", ".join(f"{t:.2f}" for t in wall)
        print(
            f"{name}: {statistics.median(wall):.2f} s (runs {runs}; CPU {statistics.median(cpu):.2f} s; "
            f"load {load:.1f})",
            flush=True,
        )
    store.close()


if __name__ == "__main__":
    main()
