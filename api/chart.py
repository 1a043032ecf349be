"""Lay out a stacked bar chart of message volume by day and sector as plain shapes for an inline SVG."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

#: Colours of the sector series, in order of volume (the last one is for «прочее»).
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
#: How many sectors get their own colour; the rest are summed as «прочее».
MAX_SERIES = len(PALETTE) - 1
OTHER_LABEL = "прочее"
UNKNOWN_LABEL = "не определён"


@dataclass(frozen=True)
class Bar:
    """One rectangle of the chart with its hover text."""

    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


@dataclass(frozen=True)
class Label:
    """A text label at a position."""

    x: float
    y: float
    text: str


@dataclass
class Chart:
    """Everything the template needs to draw the chart."""

    width: int
    height: int
    plot_top: float
    plot_bottom: float
    plot_left: float
    plot_right: float
    bars: list[Bar] = field(default_factory=list)
    x_labels: list[Label] = field(default_factory=list)
    y_labels: list[Label] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (colour, sector name)
    total: int = 0


def _nice_max(value: int) -> int:
    """Return a round axis maximum ≥ value (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def series_names(counts: dict[tuple[date, str | None], int]) -> list[str | None]:
    """Return the sectors that get their own series, largest first."""
    totals: Counter[str | None] = Counter()
    for (_, sector), n in counts.items():
        totals[sector] += n
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
    return [s for s, n in ranked[:MAX_SERIES] if n > 0]


def stacked_chart(
    days: list[date],
    counts: dict[tuple[date, str | None], int],
    width: int = 760,
    height: int = 260,
) -> Chart:
    """Return a stacked bar chart: one bar per day, one segment per sector (small sectors as «прочее»)."""
    left, right, top, bottom = 40.0, width - 10.0, 10.0, height - 30.0
    chart = Chart(width, height, top, bottom, left, right)
    names = series_names(counts)
    colours: dict[str | None, str] = {s: PALETTE[i] for i, s in enumerate(names)}
    has_other = any(n > 0 and s not in colours for (_, s), n in counts.items())
    chart.legend = [(colours[s], s or UNKNOWN_LABEL) for s in names]
    if has_other:
        chart.legend.append((PALETTE[-1], OTHER_LABEL))
    per_day: dict[date, list[tuple[str, str, int]]] = {d: [] for d in days}
    for d in days:
        other = 0
        for (day, sector), n in counts.items():
            if day != d or n <= 0:
                continue
            if sector in colours:
                per_day[d].append((colours[sector], sector or UNKNOWN_LABEL, n))
            else:
                other += n
        per_day[d].sort(key=lambda seg: PALETTE.index(seg[0]))
        if other:
            per_day[d].append((PALETTE[-1], OTHER_LABEL, other))
    day_totals = {d: sum(seg[2] for seg in segs) for d, segs in per_day.items()}
    chart.total = sum(day_totals.values())
    axis_max = _nice_max(max(day_totals.values(), default=0))
    scale = (bottom - top) / axis_max
    slot = (right - left) / max(len(days), 1)
    bar_width = slot * 0.7
    for i, d in enumerate(days):
        x = left + i * slot + (slot - bar_width) / 2
        y = bottom
        for colour, name, n in per_day[d]:
            h = n * scale
            y -= h
            title = f"{d:%d.%m}: {name} — {n}"
            chart.bars.append(Bar(round(x, 1), round(y, 1), round(bar_width, 1), round(h, 1), colour, title))
        chart.x_labels.append(Label(round(x + bar_width / 2, 1), bottom + 16, f"{d:%d.%m}"))
    for value in sorted({0, axis_max // 2, axis_max}):
        chart.y_labels.append(Label(left - 6, round(bottom - value * scale + 4, 1), str(value)))
    return chart
