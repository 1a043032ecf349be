"""Measure the spike detector on the NAB Twitter volume series (read from ../shared/data/nab-tweets).

Usage: .venv/bin/python bench/spikes.py [--data ../shared/data/nab-tweets] [--files A.csv,B.csv]

For every series `risk.spikes.detect_series` runs once over the whole file (it is causal: each step is
judged only on what came before it). Figures, per series and overall:

- windows detected: share of labelled windows [start, end] with at least one alarm inside;
- false-alarm episodes per day: alarms outside every window, alarms within one hour of each other being
  one episode, divided by the series' length in days;
- delay: the first alarm inside a window minus the window's labelled point. NAB builds each window
  centred on its labelled anomaly (window length = 10% of the file / number of anomalies, half before and
  half after), so the labelled point is start + (end - start) / 2; a negative delay is an alarm before it.

Issue target: ≥ 94% windows with ≤ 0.10 false episodes/day and a median delay ≤ 30 min.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from risk.spikes import detect_series  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "nab-tweets"
#: Alarms closer than this belong to one episode.
EPISODE_GAP = pd.Timedelta(hours=1)


@dataclass
class SeriesScore:
    """The figures of one series."""

    name: str
    windows: int = 0
    detected: int = 0
    false_episodes: int = 0
    days: float = 0.0
    delays_min: list[float] = field(default_factory=list)
    alarms: int = 0


def score_series(
    name: str, df: pd.DataFrame, windows: list[tuple[pd.Timestamp, pd.Timestamp]]
) -> SeriesScore:
    """Run the detector on one series and score its alarms against the labelled windows."""
    times = pd.to_datetime(df["timestamp"])
    out = SeriesScore(
        name=name, windows=len(windows), days=(times.max() - times.min()) / pd.Timedelta(days=1)
    )
    alarms = sorted(pd.Timestamp(a["timestamp"]) for a in detect_series(df))
    out.alarms = len(alarms)
    for start, end in windows:
        inside = [t for t in alarms if start <= t <= end]
        if inside:
            out.detected += 1
            label = start + (end - start) / 2
            out.delays_min.append((inside[0] - label) / pd.Timedelta(minutes=1))
    last: pd.Timestamp | None = None
    for t in alarms:
        if any(start <= t <= end for start, end in windows):
            continue
        if last is None or t - last > EPISODE_GAP:
            out.false_episodes += 1
        last = t
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the per-series and overall figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--files", default="", help="comma-separated file names (default: all in windows.json)"
    )
    args = parser.parse_args(argv)
    labels_path = args.data / "windows.json"
    if not labels_path.exists():
        print(f"no data: {labels_path}")
        return 2
    labels: dict[str, list[list[str]]] = json.loads(labels_path.read_text(encoding="utf-8"))
    names = [n for n in args.files.split(",") if n] or sorted(labels)
    scores: list[SeriesScore] = []
    started = time.perf_counter()
    header = f"{'series':28} {'windows':>9} {'false ep.':>10} {'per day':>8} {'delays, min':<30}"
    print(header)
    for name in names:
        df = pd.read_csv(args.data / name)
        labelled = [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in labels.get(name, [])]
        s = score_series(name, df, labelled)
        scores.append(s)
        delays = ", ".join(f"{d:+.0f}" for d in s.delays_min)
        print(
            f"{name:28} {s.detected:>4}/{s.windows:<4} {s.false_episodes:>10} "
            f"{s.false_episodes / s.days:>8.3f} {delays:<30}"
        )
    windows = sum(s.windows for s in scores)
    detected = sum(s.detected for s in scores)
    false_eps = sum(s.false_episodes for s in scores)
    days = sum(s.days for s in scores)
    delays_all = [d for s in scores for d in s.delays_min]
    median = statistics.median(delays_all) if delays_all else float("nan")
    print(
        f"OVERALL: windows detected {detected}/{windows} = {detected / max(windows, 1):.1%}; "
        f"false-alarm episodes {false_eps} in {days:.1f} days = {false_eps / max(days, 1e-9):.3f}/day; "
        f"median delay {median:+.0f} min; {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
