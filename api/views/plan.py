"""The content plan page: the week's slots per page and day, suggested topics with reasons and evidence,
and the information lead's decisions (accept, move, drop) through plain forms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from api.chart import HBarChart, hbar_chart
from api.views.common import FormError, form_text, local_time, shown_text
from index.models import PlanAction, Priority
from index.profile import Profile
from index.store import Store
from risk.content_plan import (
    KIND_TITLES,
    STATUS_TITLES,
    ContentPlan,
    PlanError,
    PlanSlot,
    PlanSuggestion,
    build_plan,
    parse_week,
)
from risk.incidents import PRIORITY_NAMES

#: Names of the weekdays, Monday first.
WEEKDAYS = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")
#: Suggestions drawn in the ranking chart.
CHART_SUGGESTIONS = 12
#: Confirmation messages after a decision (the `done` query value).
DONE_MESSAGES: Mapping[str, str] = {
    PlanAction.accept.value: "Слот принят.",
    PlanAction.move.value: "Слот перенесён.",
    PlanAction.drop.value: "Слот отменён.",
}
#: Russian names of the evidence keys of a suggestion.
EVIDENCE_NAMES: Mapping[str, str] = {
    "messages_7d": "сообщений за 7 дней",
    "messages_prev_7d": "за 7 дней до того",
    "change_pct": "изменение, %",
    "territory": "где больше всего",
    "messages": "сообщений",
    "priority": "приоритет",
    "overdue": "просрочен",
    "page_posts_7d": "публикаций страниц за 7 дней",
    "event_start": "начало",
}
#: Priority values that can be named.
PRIORITY_VALUES = frozenset(p.value for p in Priority)
#: Evidence keys that are internal ids, not shown.
HIDDEN_EVIDENCE = frozenset({"incident_id", "story_id"})


@dataclass(frozen=True)
class SuggestionView:
    """A suggested topic as the page shows it."""

    id: str
    kind: str
    title: str
    reason: str
    key_points: list[str]
    evidence: list[tuple[str, str]]
    examples: list[tuple[str, str, str]]  # (post id, local time, text)


@dataclass(frozen=True)
class SlotView:
    """One publication slot."""

    id: str
    page: str
    network: str
    when: str
    when_input: str  # «2026-11-02T10:00» for <input type=datetime-local>
    status: str
    status_name: str
    title: str
    suggestion: SuggestionView | None
    decided: str
    comment: str


@dataclass
class PlanView:
    """The content plan page of one week."""

    week: str
    week_label: str
    min_input: str
    max_input: str
    prev_week: str
    next_week: str
    days: list[str]
    grid: list[tuple[str, int, list[list[SlotView]]]]  # (page name, norm, slots per weekday)
    slots: list[SlotView] = field(default_factory=list)
    suggestions: list[SuggestionView] = field(default_factory=list)
    ranking: HBarChart | None = None
    counts: dict[str, int] = field(default_factory=dict)


def parse_week_param(value: str | None) -> date | None:
    """Return the Monday of the week containing the date `value`, or None; raise FormError when malformed."""
    if not value:
        return None
    try:
        return parse_week(value)
    except PlanError as exc:
        raise FormError(str(exc)) from exc


def _input_time(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def _evidence(suggestion: PlanSuggestion, tz: tzinfo) -> list[tuple[str, str]]:
    """Return the suggestion's evidence as (Russian name, value) pairs."""
    out: list[tuple[str, str]] = []
    for key, value in suggestion.evidence.items():
        if value is None or key in HIDDEN_EVIDENCE:
            continue
        if key == "overdue":
            text = "да" if value else "нет"
        elif key == "priority":
            text = PRIORITY_NAMES.get(Priority(value), str(value)) if value in PRIORITY_VALUES else str(value)
        elif key == "event_start" and isinstance(value, str):
            try:
                text = local_time(datetime.fromisoformat(value), tz)
            except ValueError:
                text = value
        elif isinstance(value, float):
            text = f"{value:.1f}".replace(".", ",")
        else:
            text = str(value)
        out.append((EVIDENCE_NAMES.get(key, key), text))
    return out


def suggestion_view(suggestion: PlanSuggestion, tz: tzinfo, reveal: bool) -> SuggestionView:
    """Return a suggestion for the page (example texts masked unless `reveal`)."""
    return SuggestionView(
        id=suggestion.id,
        kind=KIND_TITLES.get(suggestion.kind, suggestion.kind),
        title=suggestion.title,
        reason=suggestion.reason,
        key_points=list(suggestion.key_points),
        evidence=_evidence(suggestion, tz),
        examples=[
            (e.post_id, local_time(e.published_at, tz), shown_text(e.text, reveal))
            for e in suggestion.examples[:3]
        ],
    )


def slot_view(slot: PlanSlot, tz: tzinfo, reveal: bool) -> SlotView:
    """Return a slot for the page."""
    decided = ""
    if slot.decided_by:
        state = STATUS_TITLES.get(slot.status, slot.status)
        decided = f"{state}: {slot.decided_by}, {local_time(slot.decided_at, tz)}"
    return SlotView(
        id=slot.id,
        page=slot.page_name,
        network=slot.network,
        when=slot.local_time,
        when_input=_input_time(slot.at, tz),
        status=slot.status,
        status_name=STATUS_TITLES.get(slot.status, slot.status),
        title=slot.title,
        suggestion=suggestion_view(slot.suggestion, tz, reveal) if slot.suggestion else None,
        decided=decided,
        comment=slot.comment,
    )


def plan_view(
    store: Store, profile: Profile, params: Mapping[str, str], now: datetime, tz: tzinfo, reveal: bool
) -> PlanView:
    """Return the content plan of the week in `params` (any date of it; default the coming week)."""
    plan = build_plan(store, profile, now, parse_week_param(params.get("week")))
    return lay_out(plan, tz, reveal)


def lay_out(plan: ContentPlan, tz: tzinfo, reveal: bool) -> PlanView:
    """Return the page of a built plan: a page × weekday grid, the slots and the ranked suggestions."""
    monday = date.fromisoformat(plan.week)
    days = [f"{WEEKDAYS[i]} {monday + timedelta(days=i):%d.%m}" for i in range(7)]
    slots = [slot_view(s, tz, reveal) for s in plan.slots]
    grid: list[tuple[str, int, list[list[SlotView]]]] = []
    for page in plan.pages:
        cells: list[list[SlotView]] = [[] for _ in range(7)]
        for raw, view in zip(plan.slots, slots, strict=True):
            if raw.page_id == page.page_id:
                cells[raw.at.astimezone(tz).weekday()].append(view)
        grid.append((page.name, page.norm_per_week, cells))
    suggestions = [suggestion_view(s, tz, reveal) for s in plan.suggestions]
    ranked = plan.suggestions[:CHART_SUGGESTIONS]
    counts: dict[str, int] = {}
    for slot in plan.slots:
        name = STATUS_TITLES.get(slot.status, slot.status)
        counts[name] = counts.get(name, 0) + 1
    return PlanView(
        week=plan.week,
        week_label=f"{monday:%d.%m.%Y} — {monday + timedelta(days=6):%d.%m.%Y}",
        min_input=_input_time(plan.week_start, tz),
        max_input=_input_time(plan.week_end - timedelta(minutes=1), tz),
        prev_week=(monday - timedelta(days=7)).isoformat(),
        next_week=(monday + timedelta(days=7)).isoformat(),
        days=days,
        grid=grid,
        slots=slots,
        suggestions=suggestions,
        ranking=hbar_chart([(s.title, round(s.score)) for s in ranked], width=640, label_width=300)
        if ranked
        else None,
        counts=counts,
    )


@dataclass(frozen=True)
class Decision:
    """A decision form, checked."""

    week: date
    action: PlanAction
    moved_to: datetime | None
    suggestion_id: str | None
    comment: str


def parse_decision(form: Mapping[str, str], tz: tzinfo) -> Decision:
    """Return the decision of a slot form; raise FormError for a bad action, week or time."""
    week = parse_week_param(form.get("week"))
    if week is None:
        raise FormError("не указана неделя плана")
    try:
        action = PlanAction(form.get("action", ""))
    except ValueError as exc:
        raise FormError("неизвестное решение по слоту") from exc
    moved_to = None
    if action == PlanAction.move:
        text = (form.get("moved_to") or "").strip()
        try:
            moved_to = datetime.strptime(text, "%Y-%m-%dT%H:%M").replace(tzinfo=tz)
        except ValueError as exc:
            raise FormError("для переноса укажите новые дату и время") from exc
    suggestion_id = (form.get("suggestion_id") or "").strip() or None
    return Decision(week, action, moved_to, suggestion_id, form_text(form.get("comment")))
