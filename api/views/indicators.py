"""The indicators page (head, analyst, ЦУР) and the recipient's own rating on its main page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from api.chart import Chart, HBarChart, column_chart, hbar_chart
from api.views.common import FormError, Period, parse_period, pct, signed
from api.views.labels import KIND_LABELS, SOURCE_NAMES, TONE_LABELS, UNKNOWN
from api.views.search import territory_name
from index.profile import Profile
from index.store import IncidentQuery, Store
from risk.indicators import (
    Indicators,
    RecipientRating,
    Slice,
    compute_indicators,
    iter_incidents,
    recipient_rating,
)

#: Bars in the sector and territory charts.
TOP_BARS = 12
#: Days the recipient's own rating covers.
RATING_DAYS = 30


@dataclass(frozen=True)
class Figure:
    """A key number with its label and a note."""

    label: str
    value: str
    note: str = ""
    hot: bool = False


@dataclass
class IndicatorsView:
    """The indicators page."""

    period: Period
    slice_label: str
    params: dict[str, str]
    figures: list[Figure] = field(default_factory=list)
    by_day: Chart | None = None
    kinds: HBarChart | None = None
    tones: HBarChart | None = None
    sectors: HBarChart | None = None
    territories: HBarChart | None = None
    rating: list[RecipientRating] = field(default_factory=list)
    rating_chart: HBarChart | None = None
    sector_options: list[str] = field(default_factory=list)
    territory_options: list[tuple[str, str]] = field(default_factory=list)
    source_options: list[tuple[str, str]] = field(default_factory=list)
    recipient_options: list[tuple[str, str]] = field(default_factory=list)
    truncated: bool = False


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}".replace(".", ",") + " раб. ч"


def figures_of(ind: Indicators) -> list[Figure]:
    """Return the key numbers of the indicators."""
    vol, inc = ind.volume, ind.incidents
    out = [
        Figure(
            "сообщений", f"{vol.total:,}".replace(",", " "), signed(vol.change_pct, "%") or "раньше не было"
        ),
        Figure("доля негатива", pct(ind.negative_share)),
    ]
    if ind.tension is not None:
        change = signed(ind.tension.change_pp, "п.п.")
        out.append(
            Figure(
                "индекс социальной напряжённости",
                pct(ind.tension.index),
                change,
                hot=(ind.tension.change_pp or 0.0) > 0,
            )
        )
    out += [
        Figure("инцидентов открыто", str(inc.opened)),
        Figure("отвечено в срок", pct(inc.share_answered_on_time), f"{inc.answered_on_time} из {inc.opened}"),
        Figure("просрочено", str(inc.overdue), pct(inc.share_overdue), hot=inc.overdue > 0),
        Figure(
            "до первого ответа (медиана)",
            _hours(inc.first_answer_median_hours),
            _hours(inc.first_answer_avg_hours) + " в среднем",
        ),
        Figure("с окончательным ответом", pct(inc.share_final), f"{inc.final_answered} из {inc.opened}"),
    ]
    if inc.satisfaction is not None and inc.satisfaction.share is not None:
        sat = inc.satisfaction
        out.append(
            Figure(
                "довольны ответом", pct(sat.share), f"{sat.satisfied} из {sat.satisfied + sat.dissatisfied}"
            )
        )
    return out


def parse_slice(params: Mapping[str, str]) -> Slice:
    """Return the slice of the query parameters (empty values are no filter)."""

    def get(name: str) -> str | None:
        value = (params.get(name) or "").strip()
        if len(value) > 200:
            raise FormError(f"поле «{name}» слишком длинное")
        return value or None

    return Slice(
        sector=get("sector"),
        topic=get("topic"),
        territory=get("territory"),
        source=get("source"),
        recipient=get("recipient"),
    )


def indicators_view(
    store: Store, profile: Profile, params: Mapping[str, str], now: datetime, tz: tzinfo
) -> IndicatorsView:
    """Return the indicators of the period and slice in `params` (default: the last 7 days, everything)."""
    period = parse_period(params, now, tz)
    sl = parse_slice(params)
    ind = compute_indicators(store, profile, period.since, min(period.until, now), now, tz, sl)
    keep = {
        k: v for k, v in params.items() if k in {"sector", "topic", "territory", "source", "recipient"} and v
    }
    view = IndicatorsView(period=period, slice_label=ind.slice.label, params=keep, truncated=ind.truncated)
    view.figures = figures_of(ind)
    days = ind.volume.by_day
    view.by_day = column_chart([f"{d.day:%d.%m}" for d in days], [d.count for d in days])
    view.kinds = hbar_chart(
        [(KIND_LABELS.get(k.key or "", UNKNOWN), k.count) for k in ind.kinds],
        notes=[pct(k.share) for k in ind.kinds],
        width=520,
        label_width=160,
    )
    view.tones = hbar_chart(
        [(TONE_LABELS.get(t.key or "", UNKNOWN), t.count) for t in ind.tones],
        notes=[pct(t.share) for t in ind.tones],
        width=520,
        label_width=160,
    )
    view.sectors = hbar_chart([(c.key or UNKNOWN, c.count) for c in ind.volume.by_sector[:TOP_BARS]])
    view.territories = hbar_chart(
        [(territory_name(profile, c.key), c.count) for c in ind.volume.by_territory[:TOP_BARS]]
    )
    view.rating = ind.recipients
    rated = [r for r in ind.recipients if r.rated and r.score is not None]
    if rated:
        view.rating_chart = hbar_chart(
            [(r.name, round(r.score or 0)) for r in rated],
            notes=[f"в срок {pct(r.timeliness, 0)}, полностью {pct(r.completeness, 0)}" for r in rated],
            width=700,
            label_width=280,
        )
    rows = store.counts(period.since, min(period.until, now), by=("sector",))
    view.sector_options = sorted({r.sector for r in rows if r.sector})
    view.territory_options = [(t.id, t.name) for t in profile.walk()]
    view.source_options = list(SOURCE_NAMES.items())
    view.recipient_options = [(r.id, r.name) for r in profile.recipients]
    return view


@dataclass(frozen=True)
class OwnRating:
    """A recipient's place in the rating of the last RATING_DAYS days."""

    days: int
    row: RecipientRating | None
    rated_total: int
    timeliness: str
    completeness: str
    median: str


def own_rating(store: Store, profile: Profile, recipient: str, now: datetime) -> OwnRating:
    """Return the recipient's row of the rating over incidents opened in the last RATING_DAYS days."""
    since = now - timedelta(days=RATING_DAYS)
    incidents = list(iter_incidents(store, IncidentQuery(since=since, until=now)))
    rows = recipient_rating(incidents, now, profile)
    row = next((r for r in rows if r.recipient == recipient), None)
    return OwnRating(
        days=RATING_DAYS,
        row=row,
        rated_total=sum(1 for r in rows if r.rated),
        timeliness=pct(row.timeliness) if row else "—",
        completeness=pct(row.completeness) if row else "—",
        median=_hours(row.first_answer_median_hours) if row else "—",
    )
