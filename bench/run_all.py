"""`make bench`: the load figures in one table — sustained ingest, API under 50 clients, store growth.

A shorter form of the three benchmarks (docs/performance.md has the full runs and their commands):
- sustained ingest in the embedded mode for `--minutes` at `--rate` posts/s (bench/sustained.py);
- the API's read endpoints under 50 users (each pausing ~1 s between requests) over a store of
  `--api-posts` posts (bench/api_load.py);
- ingest rate and query latency as a store grows through `--growth` sizes (bench/growth.py).

Each figure is the median of `--runs` runs where the benchmark repeats; targets are the issue's.

Usage: .venv/bin/python bench/run_all.py [--minutes 3] [--rate 300] [--api-posts 100000]
       [--growth 100000,300000] [--runs 1]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import api_load, growth, sustained
from index.sqlite import SqliteStore

Row = tuple[str, str, str, str]  # figure, value, target, verdict


def verdict(ok: bool | None) -> str:
    """Return the table's word for a comparison with the target."""
    return "—" if ok is None else ("да" if ok else "НЕТ")


def sustained_rows(minutes: float, rate: float, runs: int) -> list[Row]:
    """Run the sustained benchmark `runs` times; return its rows (medians)."""
    results = [sustained.run(minutes, rate, workers=2) for _ in range(runs)]

    def med(key: str) -> float:
        values = [r[key] for r in results if not math.isnan(r[key])]
        return statistics.median(values) if values else float("nan")

    stored, backlog = med("stored_second_half"), med("backlog_end")
    p95 = med("alert_p95_s")
    title = f"приём {minutes:g} мин при {rate:g} сообщ./с"
    return [
        (f"{title}: сохранено, сообщ./с", f"{stored:,.0f}", "≥ 300", verdict(stored >= 300)),
        (f"{title}: очередь в конце, сообщений", f"{backlog:,.0f}", "ограничена", "—"),
        (f"{title}: рост памяти, МиБ/ч", f"{med('rss_growth_mib_per_h'):,.0f}", "—", "—"),
        (
            f"{title}: рост памяти во второй половине, МиБ/ч",
            f"{med('rss_growth_second_half_mib_per_h'):,.0f}",
            "≈ 0",
            "—",
        ),
        (f"{title}: память в конце, МиБ", f"{med('rss_last_mib'):,.0f}", "—", "—"),
        (f"{title}: задержка до уведомления p50, с", f"{med('alert_p50_s'):,.1f}", "—", "—"),
        (
            f"{title}: задержка до уведомления p95, с",
            f"{p95:,.1f}",
            "≤ 10",
            verdict(None if math.isnan(p95) else p95 <= 10),
        ),
    ]


def api_rows(posts: int, runs: int, duration_s: int) -> list[Row]:
    """Run the API benchmark (50 users pausing ~1 s, /indicators once per run); return a row per endpoint."""
    path = api_load.ensure_store(posts)
    figures = api_load.measure(path, 50, duration_s, runs, think_ms=1000, slow_calls=1)
    slow = dict(api_load.SLOW_ENDPOINTS)
    rows: list[Row] = []
    for name, f in figures.items():
        clients = "1 клиент" if name in slow else "50 пользователей"
        value = f"p50 {f.p50_ms:,.0f} / p95 {f.p95_ms:,.0f} / p99 {f.p99_ms:,.0f} мс, ошибок {f.errors}"
        ok = f.p95_ms <= 200 and f.errors == 0
        rows.append(
            (f"API {name}, {posts:,} сообщ., {clients}", value, "p95 ≤ 200 мс, 0 ошибок", verdict(ok))
        )
    return rows


def growth_rows(sizes: list[int], calls: int) -> list[Row]:
    """Grow a store through `sizes`; return the ingest rate and the query latencies per size."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "growth.sqlite3")
        have = 0
        for size in sizes:
            growth.grow(store, have, size)
            rate = growth.ingest_rate(store, 2000, size)
            have = size
            latency = growth.queries(store, calls)
            cells = ", ".join(f"{name} {ms:,.1f}" for name, ms in latency.items())
            rows.append((f"рост: {size:,} сообщ., запись", f"{rate:,.0f} сообщ./с", "—", "—"))
            rows.append((f"рост: {size:,} сообщ., запросы, мс", cells, "—", "—"))
        store.close()
    return rows


def main() -> None:
    """Run the short forms and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--api-posts", type=int, default=100_000)
    parser.add_argument("--api-duration", type=int, default=10)
    parser.add_argument("--growth", default="100000,300000")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    rows = sustained_rows(args.minutes, args.rate, args.runs)
    rows += api_rows(args.api_posts, args.runs, args.api_duration)
    rows += growth_rows([int(s) for s in args.growth.split(",")], 10)
    width = max(len(r[0]) for r in rows)
    print(f"\nИнфополе, нагрузка ({os.cpu_count()} ядра; медиана {args.runs} прогонов; docs/performance.md)")
    print(f"{'показатель':<{width}}  {'значение':<58}  {'цель':<24}  выполнено")
    for figure, value, target, ok in rows:
        print(f"{figure:<{width}}  {value:<58}  {target:<24}  {ok}")


if __name__ == "__main__":
    main()
