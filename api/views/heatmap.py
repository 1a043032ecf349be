"""The heat map by territory: a tile per district and settlement of the profile's tree (or their GeoJSON
boundaries when every one has them), coloured by messages, complaints, negative share or open incidents."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from api.chart import heat_colour, text_colour
from api.views.common import FormError, Period, parse_period, pct, url_with
from index.models import Kind, Tone
from index.profile import Profile, Territory
from index.store import IncidentQuery, PostQuery, Store
from risk.incidents import OPEN_STATUSES

#: What the colour can show: key → (Russian name, whether it is a share).
METRICS: Mapping[str, tuple[str, bool]] = {
    "messages": ("сообщений", False),
    "complaints": ("жалоб", False),
    "negative": ("доля негатива", True),
    "incidents": ("открытых инцидентов", False),
}
#: Levels drawn as tiles (the region and municipality are the whole map).
TILE_LEVELS = frozenset({"district", "settlement"})
#: Tile grid geometry (SVG units).
COLUMNS = 4
TILE_W = 190
TILE_H = 96
GAP = 8
#: Boundary map size (SVG units).
MAP_W = 760
MAP_H = 520


@dataclass(frozen=True)
class Tile:
    """One territory on the map."""

    id: str
    name: str
    level: str
    parent: str
    x: float
    y: float
    fill: str
    ink: str
    value: str
    messages: int
    complaints: int
    negative_share: float | None
    negative_text: str
    incidents: int
    href: str
    path: str = ""  # SVG path of the boundary when drawn as a map


@dataclass
class HeatMap:
    """The heat map page."""

    period: Period
    metric: str
    metric_name: str
    tiles: list[Tile] = field(default_factory=list)
    width: int = 0
    height: int = 0
    boundaries: bool = False
    unplaced: int = 0  # messages of the period without a territory
    legend: list[tuple[str, str]] = field(default_factory=list)
    metric_options: list[tuple[str, str]] = field(default_factory=list)


def subtree(node: Territory) -> Iterator[Territory]:
    """Yield a territory and everything under it."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.children)


def map_territories(profile: Profile) -> list[tuple[Territory, str]]:
    """Return (territory, parent name) of the districts and settlements, in tree order (all when none)."""
    parents = profile.parents()
    names = {t.id: t.name for t in profile.walk()}
    chosen = [t for t in profile.walk() if t.level in TILE_LEVELS] or list(profile.walk())
    return [(t, names.get(parents.get(t.id, ""), "")) for t in chosen]


def _rings(geometry: Mapping[str, Any]) -> list[list[tuple[float, float]]]:
    """Return the outer and inner rings of a GeoJSON Polygon or MultiPolygon as (lon, lat) lists."""
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    polygons: list[Any] = []
    if kind == "Polygon" and isinstance(coords, list):
        polygons = [coords]
    elif kind == "MultiPolygon" and isinstance(coords, list):
        polygons = coords
    rings: list[list[tuple[float, float]]] = []
    for polygon in polygons:
        if not isinstance(polygon, list):
            continue
        for ring in polygon:
            points = [
                (float(p[0]), float(p[1]))
                for p in ring
                if isinstance(p, list | tuple)
                and len(p) >= 2
                and all(isinstance(v, int | float) for v in p[:2])
            ]
            if len(points) >= 3:
                rings.append(points)
    return rings


def boundary_paths(territories: Sequence[Territory]) -> dict[str, str] | None:
    """Return SVG paths of every territory's boundary fitted to MAP_W × MAP_H, or None if one lacks it."""
    rings_of: dict[str, list[list[tuple[float, float]]]] = {}
    for t in territories:
        rings = _rings(t.boundary) if t.boundary else []
        if not rings:
            return None
        rings_of[t.id] = rings
    points = [p for rings in rings_of.values() for ring in rings for p in ring]
    lon0, lon1 = min(p[0] for p in points), max(p[0] for p in points)
    lat0, lat1 = min(p[1] for p in points), max(p[1] for p in points)
    kx = math.cos(math.radians((lat0 + lat1) / 2))  # equirectangular: shrink longitudes at this latitude
    span_x, span_y = max((lon1 - lon0) * kx, 1e-9), max(lat1 - lat0, 1e-9)
    scale = min((MAP_W - 2 * GAP) / span_x, (MAP_H - 2 * GAP) / span_y)
    out: dict[str, str] = {}
    for tid, rings in rings_of.items():
        parts = []
        for ring in rings:
            xy = [(GAP + (lon - lon0) * kx * scale, GAP + (lat1 - lat) * scale) for lon, lat in ring]
            parts.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in xy) + " Z")
        out[tid] = " ".join(parts)
    return out


def heat_map(store: Store, profile: Profile, params: Mapping[str, str], now: datetime, tz: tzinfo) -> HeatMap:
    """Return the heat map of the period and metric in `params`; raise FormError for bad values."""
    metric = params.get("metric") or "messages"
    if metric not in METRICS:
        raise FormError("неизвестный показатель карты")
    period = parse_period(params, now, tz)
    name, is_share = METRICS[metric]
    page = HeatMap(period=period, metric=metric, metric_name=name)
    page.metric_options = [(k, v[0]) for k, v in METRICS.items()]
    by_territory: Counter[str | None] = Counter()
    for row in store.counts(period.since, period.until, by=("territory",), bucket="hour"):
        by_territory[row.territory] += row.count
    page.unplaced = by_territory.get(None, 0)
    chosen = map_territories(profile)
    figures: list[tuple[int, int, float | None, int]] = []
    for node, _ in chosen:
        ids = [t.id for t in subtree(node)]
        messages = sum(by_territory.get(i, 0) for i in ids)
        complaints = negative = 0
        if messages:
            for tid in ids:
                if not by_territory.get(tid):
                    continue
                base = PostQuery(since=period.since, until=period.until, territory=tid)
                complaints += store.count_posts(_with(base, kind=Kind.complaint.value))
                negative += store.count_posts(_with(base, tone=Tone.negative.value))
        incidents = sum(
            store.query_incidents(IncidentQuery(status=sorted(OPEN_STATUSES), territory=tid, limit=1)).total
            for tid in ids
        )
        figures.append((messages, complaints, negative / messages if messages else None, incidents))
    values = [_metric_value(metric, f) for f in figures]
    top = max(values, default=0.0) or 1.0
    paths = boundary_paths([n for n, _ in chosen])
    page.boundaries = paths is not None
    for i, ((node, parent), f, value) in enumerate(zip(chosen, figures, values, strict=True)):
        fill = heat_colour(value / top if not is_share else value)
        col, line = i % COLUMNS, i // COLUMNS
        page.tiles.append(
            Tile(
                id=node.id,
                name=node.name,
                level=node.level,
                parent=parent,
                x=GAP + col * (TILE_W + GAP),
                y=GAP + line * (TILE_H + GAP),
                fill=fill,
                ink=text_colour(fill),
                value=pct(f[2]) if is_share else str(int(value)),
                messages=f[0],
                complaints=f[1],
                negative_share=f[2],
                negative_text=pct(f[2]),
                incidents=f[3],
                href=url_with(
                    "/ui/search",
                    {
                        "territory": node.id,
                        "since": period.first_day.isoformat(),
                        "until": period.last_day.isoformat(),
                    },
                ),
                path=paths.get(node.id, "") if paths else "",
            )
        )
    lines = max(1, math.ceil(len(page.tiles) / COLUMNS))
    page.width, page.height = (
        (MAP_W, MAP_H) if page.boundaries else (GAP + COLUMNS * (TILE_W + GAP), GAP + lines * (TILE_H + GAP))
    )
    steps = 4
    if is_share:
        page.legend = [(heat_colour(k / steps), pct(k / steps, 0)) for k in range(steps + 1)]
    else:
        page.legend = [(heat_colour(k / steps), str(round(top * k / steps))) for k in range(steps + 1)]
    return page


def _with(query: PostQuery, **changes: str) -> PostQuery:
    """Return a copy of `query` with `changes`."""
    values = dict(query.__dict__)
    values.update(changes)
    return PostQuery(**values)


def _metric_value(metric: str, figures: tuple[int, int, float | None, int]) -> float:
    """Return the number the colour shows."""
    messages, complaints, negative, incidents = figures
    if metric == "complaints":
        return float(complaints)
    if metric == "negative":
        return negative or 0.0
    if metric == "incidents":
        return float(incidents)
    return float(messages)
