"""Charts of a report as PNG images (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

#: Chart size in inches and resolution.
SIZE_IN = (7.0, 3.0)
DPI = 130
COLOR = "#2f6fae"


def _png(fig: Figure) -> bytes:
    """Return the figure as PNG bytes and close it."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str) -> bytes:
    """Return a vertical bar chart (e.g. messages by day)."""
    fig, ax = plt.subplots(figsize=SIZE_IN)
    ax.bar(range(len(values)), values, color=COLOR)
    ax.set_xticks(range(len(labels)), list(labels), rotation=45 if len(labels) > 8 else 0, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def hbar_chart(labels: Sequence[str], values: Sequence[float], title: str) -> bytes:
    """Return a horizontal bar chart, the first label on top (e.g. top topics)."""
    fig, ax = plt.subplots(figsize=(SIZE_IN[0], max(1.6, 0.45 * len(values) + 0.8)))
    shown = [label if len(label) <= 45 else label[:44] + "…" for label in labels]
    ax.barh(range(len(values)), values, color=COLOR)
    ax.set_yticks(range(len(shown)), shown, fontsize=8)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)
