"""Charts of a report as PNG images (matplotlib's object API on the Agg canvas, no display needed).

Margins are laid out from the label lengths instead of `tight_layout` (which draws every chart twice), and
no pyplot figure manager is involved: a report's five charts render in a fraction of a second.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: Chart size in inches and resolution.
SIZE_IN = (7.0, 3.0)
DPI = 130
COLOR = "#2f6fae"
#: Tick label font size, in points, and the average width of a character in it, in inches.
TICK_PT = 8
CHAR_IN = TICK_PT * 0.55 / 72
#: Space for the title above the axes and for the tick labels below them, in inches.
TOP_IN = 0.35
BOTTOM_IN = 0.35


def _figure(width_in: float, height_in: float, left_in: float, bottom_in: float) -> Figure:
    """Return a figure with one axes inside the given margins (inches)."""
    fig = Figure(figsize=(width_in, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    right_in = 0.25
    fig.add_axes(
        (
            left_in / width_in,
            bottom_in / height_in,
            max(0.1, (width_in - left_in - right_in) / width_in),
            max(0.1, (height_in - bottom_in - TOP_IN) / height_in),
        )
    )
    return fig


def _png(fig: Figure) -> bytes:
    """Return the figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str) -> bytes:
    """Return a vertical bar chart (e.g. messages by day)."""
    rotate = len(labels) > 8
    longest = max((len(label) for label in labels), default=0)
    bottom = BOTTOM_IN + (longest * CHAR_IN * 0.71 if rotate else 0.0)
    fig = _figure(*SIZE_IN, left_in=0.2 + 7 * CHAR_IN, bottom_in=bottom)
    ax = fig.axes[0]
    ax.bar(range(len(values)), values, color=COLOR)
    ax.set_xticks(range(len(labels)), list(labels), rotation=45 if rotate else 0, fontsize=TICK_PT)
    ax.tick_params(axis="y", labelsize=TICK_PT)
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def hbar_chart(labels: Sequence[str], values: Sequence[float], title: str) -> bytes:
    """Return a horizontal bar chart, the first label on top (e.g. top topics)."""
    shown = [label if len(label) <= 45 else label[:44] + "…" for label in labels]
    longest = max((len(label) for label in shown), default=0)
    height = max(1.6, 0.45 * len(values) + 0.8)
    fig = _figure(SIZE_IN[0], height, left_in=0.2 + longest * CHAR_IN, bottom_in=BOTTOM_IN)
    ax = fig.axes[0]
    ax.barh(range(len(values)), values, color=COLOR)
    ax.set_yticks(range(len(shown)), shown, fontsize=TICK_PT)
    ax.tick_params(axis="x", labelsize=TICK_PT)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)
