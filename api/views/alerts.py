"""Alert pages: the list, one alert with its explanation, and the spikes page with an hourly chart each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

from api.chart import Chart, HBarChart, column_chart, hbar_chart
from api.dashboard import ALERT_KIND_LABELS
from api.views.common import FormError, form_int, local_time, pct, shown_text, url_with
from api.views.labels import source_name
from api.views.search import territory_name
from index.models import Alert, AlertKind, as_utc
from index.profile import Profile
from index.store import AlertQuery, Store

#: Alerts per list page.
ALERT_ROWS = 50
#: Spikes per spikes page (each draws a chart).
SPIKE_ROWS = 10
#: Hours before the episode and after its peak the spike chart shows.
HOURS_BEFORE = 24
HOURS_AFTER = 6
#: Example messages listed per alert.
MAX_EXAMPLES = 5

#: Russian names of the numbers in a conflict alert's details.
CONFLICT_FIGURES: Mapping[str, str] = {
    "comments": "комментариев",
    "authors": "авторов",
    "negative_share": "доля негатива",
    "aggressive_share": "доля агрессии",
    "score": "оценка конфликтности",
    "contested_replies": "споров с ответом страницы",
}


@dataclass
class AlertFilters:
    """What the alert list is filtered by."""

    kind: AlertKind | None = None
    state: str = "open"  # open: not acknowledged; all
    offset: int = 0


def parse_alert_filters(params: Mapping[str, str]) -> AlertFilters:
    """Return the alert list filters; raise FormError for an unknown kind or state."""
    kind_text = params.get("kind") or None
    try:
        kind = AlertKind(kind_text) if kind_text else None
    except ValueError as exc:
        raise FormError("неизвестный вид уведомления") from exc
    state = params.get("state") or "open"
    if state not in {"open", "all"}:
        raise FormError("неизвестный фильтр уведомлений")
    return AlertFilters(kind=kind, state=state, offset=form_int(params.get("offset"), "сдвиг", default=0))


@dataclass(frozen=True)
class AlertLine:
    """One alert in a list."""

    id: str
    kind: str
    severity: int
    title: str
    text: str
    at: str
    acknowledged: str  # «принято 06.03.2024 13:00 (head#…)» or ""


@dataclass
class AlertList:
    """One page of alerts."""

    filters: AlertFilters
    rows: list[AlertLine]
    total: int
    kind_options: list[tuple[str, str]]
    prev_href: str | None = None
    next_href: str | None = None


def alert_line(alert: Alert, tz: tzinfo) -> AlertLine:
    """Return the list line of an alert."""
    ack = ""
    if alert.acknowledged_at is not None:
        ack = f"принято {local_time(alert.acknowledged_at, tz)} ({alert.acknowledged_by or '—'})"
    return AlertLine(
        id=alert.id,
        kind=ALERT_KIND_LABELS.get(alert.kind, alert.kind.value),
        severity=alert.severity,
        title=alert.title,
        text=alert.text,
        at=local_time(alert.event_at or alert.created_at, tz),
        acknowledged=ack,
    )


def list_alerts(store: Store, flt: AlertFilters, tz: tzinfo) -> AlertList:
    """Return one page of alerts, newest first."""
    page = store.query_alerts(
        AlertQuery(
            kind=[flt.kind] if flt.kind else None,
            acknowledged=False if flt.state == "open" else None,
            limit=ALERT_ROWS,
            offset=flt.offset,
        )
    )
    base: dict[str, str | int | None] = {"kind": flt.kind.value if flt.kind else None, "state": flt.state}
    out = AlertList(
        filters=flt,
        rows=[alert_line(a, tz) for a in page.items],
        total=page.total,
        kind_options=[(k.value, v) for k, v in ALERT_KIND_LABELS.items()],
    )
    if flt.offset > 0:
        out.prev_href = url_with("/ui/alerts", {**base, "offset": max(flt.offset - ALERT_ROWS, 0)})
    if flt.offset + ALERT_ROWS < page.total:
        out.next_href = url_with("/ui/alerts", {**base, "offset": flt.offset + ALERT_ROWS})
    return out


@dataclass(frozen=True)
class Example:
    """An example message of an alert."""

    id: str
    text: str


@dataclass
class AlertView:
    """One alert with its explanation laid out for the page."""

    line: AlertLine
    kind_code: str
    sector: str | None
    territory: str | None
    source: str | None
    figures: list[tuple[str, str]] = field(default_factory=list)
    topics: HBarChart | None = None
    places: HBarChart | None = None
    sources: HBarChart | None = None
    examples: list[Example] = field(default_factory=list)
    chart: Chart | None = None
    chart_note: str = ""
    thread_id: str | None = None
    incident_id: str | None = None
    post_ids: list[str] = field(default_factory=list)


def pairs(value: Any) -> list[tuple[str, int]]:
    """Return [(name, count)] from a details value like [["ЖКХ", 5], ...]; malformed items are skipped."""
    out: list[tuple[str, int]] = []
    if not isinstance(value, list | tuple):
        return out
    for item in value:
        if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[1], int | float):
            out.append((str(item[0]), int(item[1])))
    return out


def examples(value: Any, reveal: bool = True) -> list[Example]:
    """Return the examples of a details value like [{"id": ..., "text": ...}], masked unless `reveal`."""
    out: list[Example] = []
    if isinstance(value, list):
        for item in value[:MAX_EXAMPLES]:
            if isinstance(item, Mapping) and item.get("id"):
                out.append(Example(id=str(item["id"]), text=shown_text(str(item.get("text", "")), reveal)))
    return out


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _when(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            return as_utc(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def spike_chart(store: Store, alert: Alert, now: datetime, tz: tzinfo) -> tuple[Chart | None, str]:
    """Return the hourly count of the alert's sector (and territory) around the spike, the episode in red."""
    peak = _when(alert.details.get("hour")) or alert.event_at
    if peak is None or alert.sector is None:
        return None, ""
    start = _when(alert.details.get("episode_start")) or peak
    since = (start - timedelta(hours=HOURS_BEFORE)).replace(minute=0, second=0, microsecond=0)
    until = min(peak + timedelta(hours=HOURS_AFTER + 1), max(now, peak + timedelta(hours=1)))
    hours = [since + timedelta(hours=i) for i in range(int((until - since).total_seconds() // 3600))]
    counts = dict.fromkeys(hours, 0)
    for row in store.counts(since, until, by=("sector", "territory"), bucket="hour"):
        if row.sector != alert.sector:
            continue
        if alert.territory is not None and row.territory != alert.territory:
            continue
        bucket = as_utc(row.bucket)
        if bucket in counts:
            counts[bucket] += row.count
    marked = {i for i, h in enumerate(hours) if start.replace(minute=0, second=0, microsecond=0) <= h <= peak}
    labels = [h.astimezone(tz).strftime("%d.%m %H:00") for h in hours]
    chart = column_chart(labels, [counts[h] for h in hours], highlight=marked, max_ticks=8)
    note = (
        "Сообщений в час по сектору" + (" и территории" if alert.territory else "") + "; красным — всплеск."
    )
    return chart, note


def alert_view(
    store: Store, profile: Profile, alert: Alert, now: datetime, tz: tzinfo, reveal: bool = True
) -> AlertView:
    """Return one alert with its explanation: figures, topics, places, sources, examples, chart, links."""
    d = alert.details
    line = alert_line(alert, tz)
    if not reveal:
        line = replace(line, text=shown_text(line.text, reveal))
    view = AlertView(
        line=line,
        kind_code=alert.kind.value,
        sector=alert.sector,
        territory=territory_name(profile, alert.territory) if alert.territory else None,
        source=source_name(alert.source) if alert.source else None,
        thread_id=alert.thread_id,
        incident_id=alert.incident_id,
        post_ids=list(alert.post_ids[:20]),
    )
    if alert.kind == AlertKind.spike:
        observed, expected = _number(d.get("observed")), _number(d.get("expected"))
        if observed is not None:
            view.figures.append(("сообщений за час", f"{observed:.0f}"))
        if expected is not None:
            view.figures.append(("обычно за час", f"{expected:.1f}".replace(".", ",")))
        negative = _number(d.get("negative_share"))
        if negative is not None:
            view.figures.append(("доля негатива", pct(negative)))
        reach = _number(d.get("reach"))
        if reach is not None:
            view.figures.append(("охват", f"{reach:,.0f}".replace(",", " ")))
        p_value = _number(d.get("p_value"))
        if p_value is not None:
            view.figures.append(("вероятность случайности", f"{p_value:.1e}"))
        view.topics = _bars(pairs(d.get("topics")))
        view.places = _bars(pairs(d.get("places")))
        view.sources = _bars([(source_name(k), n) for k, n in pairs(d.get("sources"))])
        view.examples = examples(d.get("examples"), reveal)
        view.chart, view.chart_note = spike_chart(store, alert, now, tz)
    elif alert.kind == AlertKind.conflict:
        for key, label in CONFLICT_FIGURES.items():
            value = _number(d.get(key))
            if value is None:
                continue
            view.figures.append(
                (label, pct(value) if key.endswith("_share") else f"{value:g}".replace(".", ","))
            )
    else:
        for key, value in sorted(d.items()):
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                view.figures.append((str(key), str(value)))
    return view


def _bars(items: Sequence[tuple[str, int]]) -> HBarChart | None:
    """Return a bar chart of non-empty items, or None."""
    return hbar_chart(list(items), width=460, label_width=240) if items else None


def spikes_page(
    store: Store, profile: Profile, params: Mapping[str, str], now: datetime, tz: tzinfo, reveal: bool = True
) -> tuple[list[AlertView], int, str | None, str | None]:
    """Return the spike alerts of one page with their explanations, the total and the pager links."""
    offset = form_int(params.get("offset"), "сдвиг", default=0)
    page = store.query_alerts(AlertQuery(kind=[AlertKind.spike], limit=SPIKE_ROWS, offset=offset))
    views = [alert_view(store, profile, a, now, tz, reveal) for a in page.items]
    prev_href = url_with("/ui/spikes", {"offset": max(offset - SPIKE_ROWS, 0)}) if offset > 0 else None
    next_href = (
        url_with("/ui/spikes", {"offset": offset + SPIKE_ROWS}) if offset + SPIKE_ROWS < page.total else None
    )
    return views, page.total, prev_href, next_href
