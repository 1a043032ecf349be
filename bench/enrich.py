"""Benchmark the understanding step: posts/s (median of 5 runs) and peak RSS on realistic texts.

Usage: .venv/bin/python bench/enrich.py [--data ../shared/data] [--n 5000] [--runs 5] [--no-profile]

Everything `infopole enrich` does per post is timed: cleaning, lemmas, sector, tone, kind, aggression,
places against the demo profile's gazetteer, natasha NER on the posts that need it, near-duplicates
and stories.

Texts: the dev tweet set (../shared/data/dev/rusentitweet/train.csv, read at run time, never copied);
without it, a built-in set of short Russian complaints is used. The first run starts with cold lemma
caches; the median shows the steady state of a long-running worker.

The machine may be shared, so each rate is also given per CPU second of this process (what one idle
core would do), next to the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.models import Post  # noqa: E402
from risk.dedup import Deduper  # noqa: E402
from risk.places import needs_ner  # noqa: E402
from risk.understand import NER_KINDS, Understander  # noqa: E402

#: Posts per dedup batch (the worker's ingest messages carry 100 items).
BATCH = 100

_FALLBACK = [
    "Третий день нет горячей воды на ул. Ленина 15, когда дадут??",
    "На Мира огромная яма, все машины бьют",
    "мусор не вывозят неделю во дворе Садовой 3",
    "Спасибо за новую площадку во дворе! 👍",
    "Подскажите, во сколько откроется МФЦ?",
    "вы там все бездельники в администрации, пойдём в прокуратуру",
]


def load_texts(data: Path, n: int) -> tuple[list[str], str]:
    """Return up to n texts and where they came from."""
    path = data / "dev" / "rusentitweet" / "train.csv"
    if path.is_file():
        import pandas as pd

        texts = pd.read_csv(path)["text"].dropna().astype(str).tolist()[:n]
        return texts, str(path)
    return [f"{_FALLBACK[i % len(_FALLBACK)]} {i}" for i in range(n)], "built-in complaints"


def main() -> int:
    """Print posts/s of the Understander and of dedup+stories, and the peak RSS."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-profile", action="store_true", help="no gazetteer (NER on more posts)")
    args = parser.parse_args()
    texts, origin = load_texts(args.data, args.n)
    at = datetime(2026, 1, 12, tzinfo=UTC)
    posts = [
        Post(id=f"b:{i}", source="bench", source_id=str(i), published_at=at, text=t)
        for i, t in enumerate(texts)
    ]
    profile = None
    if not args.no_profile:
        from crawlers.demo import DEMO_PROFILE_PATH
        from index.profile import load_profile

        profile = load_profile(DEMO_PROFILE_PATH)
    start = time.perf_counter()
    understander = Understander(profile)
    build_s = time.perf_counter() - start
    rates: list[float] = []
    cpu_rates: list[float] = []
    for _ in range(args.runs):
        start, cpu = time.perf_counter(), time.process_time()
        out = understander.understand_many(posts)
        rates.append(len(posts) / (time.perf_counter() - start))
        cpu_rates.append(len(posts) / (time.process_time() - cpu))
    dedup_rates: list[float] = []
    dedup_cpu_rates: list[float] = []
    for _ in range(args.runs):
        deduper = Deduper()
        start, cpu = time.perf_counter(), time.process_time()
        marked = []
        for first in range(0, len(out), BATCH):  # the worker's batches
            marked += deduper.mark(out[first : first + BATCH])
        dedup_rates.append(len(out) / (time.perf_counter() - start))
        dedup_cpu_rates.append(len(out) / (time.process_time() - cpu))
    from risk.text import analyse

    ner_share = sum(
        1
        for p in out
        if p.kind in NER_KINDS and needs_ner(analyse(p.text), [x for x in p.places if x.territory])
    ) / max(1, len(out))
    u_rate, d_rate = statistics.median(rates), statistics.median(dedup_rates)
    rss = psutil.Process().memory_info()
    peak = getattr(rss, "peak_wset", None) or _peak_rss_bytes()
    print(
        f"texts: {len(posts)} from {origin}; mean length {statistics.mean(len(t) for t in texts):.0f} chars"
    )
    print(f"Understander built in {build_s:.2f} s")
    u_cpu, d_cpu = statistics.median(cpu_rates), statistics.median(dedup_cpu_rates)
    runs = ", ".join(f"{r:,.0f}" for r in rates)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"understand_many: median {statistics.median(rates):,.0f} posts/s (runs: {runs}); "
        f"{u_cpu:,.0f} posts per CPU second"
    )
    print(f"  posts that went through NER: {ner_share:.1%}; places found: {sum(bool(p.places) for p in out)}")
    duplicates = sum(bool(p.duplicate_of) for p in marked)
    print(
        f"dedup + stories (batches of {BATCH}): median {d_rate:,.0f} posts/s, {d_cpu:,.0f} per CPU second; "
        f"duplicates {duplicates}"
    )
    print(
        f"whole enrich step: {1 / (1 / u_rate + 1 / d_rate):,.0f} posts/s; "
        f"{1 / (1 / u_cpu + 1 / d_cpu):,.0f} posts per CPU second"
    )
    print(f"peak RSS: {peak / 2**20:.0f} MiB")
    return 0


def _peak_rss_bytes() -> int:
    """Return the process's peak resident set size in bytes (Linux: ru_maxrss is in KiB)."""
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


if __name__ == "__main__":
    raise SystemExit(main())
