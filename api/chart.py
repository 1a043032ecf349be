"""Lay out charts as plain shapes for inline SVG: stacked and single columns, ranked bars, heat colours."""

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


#: Colour of plain bars and of highlighted ones (a spike's hours).
BAR_COLOUR = "#457b9d"
HIGHLIGHT_COLOUR = "#d62728"
#: Sequential palette of the heat map, from calm to hot.
HEAT_PALETTE = ("#fff5eb", "#fee6ce", "#fdd0a2", "#fdae6b", "#fd8d3c", "#f16913", "#d94801", "#8c2d04")


@dataclass(frozen=True)
class HBarRow:
    """One row of a horizontal bar chart: label, value, bar geometry and an optional link."""

    label: str
    value: int
    y: float
    width: float
    color: str
    href: str | None = None
    note: str = ""  # shown after the value, e.g. a share


@dataclass
class HBarChart:
    """A horizontal bar chart (ranked slices: sectors, territories, sources, topics)."""

    width: int
    height: int
    label_width: float
    bar_height: float
    rows: list[HBarRow] = field(default_factory=list)
    total: int = 0


def hbar_chart(
    items: list[tuple[str, int]],
    width: int = 560,
    label_width: int = 220,
    bar_height: int = 18,
    hrefs: list[str | None] | None = None,
    notes: list[str] | None = None,
) -> HBarChart:
    """Return a horizontal bar chart of `items` (label, value) in the given order, bars scaled to the max."""
    gap = 6
    chart = HBarChart(
        width=width,
        height=max(len(items), 1) * (bar_height + gap) + gap,
        label_width=label_width,
        bar_height=bar_height,
        total=sum(v for _, v in items),
    )
    top = max((v for _, v in items), default=0) or 1
    room = width - label_width - (200 if notes else 60)  # the value (and note) is written after the bar
    for i, (label, value) in enumerate(items):
        chart.rows.append(
            HBarRow(
                label=label,
                value=value,
                y=gap + i * (bar_height + gap),
                width=round(max(value, 0) / top * room, 1),
                color=PALETTE[i % (len(PALETTE) - 1)] if hrefs is None else BAR_COLOUR,
                href=hrefs[i] if hrefs else None,
                note=notes[i] if notes else "",
            )
        )
    return chart


def column_chart(
    labels: list[str],
    values: list[int],
    highlight: set[int] | None = None,
    titles: list[str] | None = None,
    width: int = 760,
    height: int = 200,
    max_ticks: int = 12,
) -> Chart:
    """Return a one-series column chart (hourly or daily counts); columns in `highlight` are red."""
    left, right, top, bottom = 40.0, width - 36.0, 10.0, height - 30.0
    chart = Chart(width, height, top, bottom, left, right)
    chart.total = sum(values)
    axis_max = _nice_max(max(values, default=0))
    scale = (bottom - top) / axis_max
    slot = (right - left) / max(len(values), 1)
    bar_width = max(slot * 0.8, 1.0)
    every = max(1, -(-len(labels) // max_ticks))  # ceil: at most max_ticks labels
    marked = highlight or set()
    for i, value in enumerate(values):
        x = left + i * slot + (slot - bar_width) / 2
        h = value * scale
        colour = HIGHLIGHT_COLOUR if i in marked else BAR_COLOUR
        title = titles[i] if titles else f"{labels[i]} — {value}"
        chart.bars.append(
            Bar(round(x, 1), round(bottom - h, 1), round(bar_width, 1), round(h, 1), colour, title)
        )
        if i % every == 0:
            chart.x_labels.append(Label(round(x + bar_width / 2, 1), bottom + 16, labels[i]))
    for value in sorted({0, axis_max // 2, axis_max}):
        chart.y_labels.append(Label(left - 6, round(bottom - value * scale + 4, 1), str(value)))
    return chart


def heat_colour(share: float) -> str:
    """Return the heat-map colour of `share` in [0, 1] (0 is the calmest)."""
    clipped = min(max(share, 0.0), 1.0)
    return HEAT_PALETTE[min(int(clipped * len(HEAT_PALETTE)), len(HEAT_PALETTE) - 1)]


def text_colour(background: str) -> str:
    """Return black or white, whichever reads better on `background` (#rrggbb)."""
    r, g, b = (int(background[i : i + 2], 16) for i in (1, 3, 5))
    return "#1d2733" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#ffffff"
