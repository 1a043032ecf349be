"""Health of collection: what each run brought, how late the newest item is, when a source is silent.

A source is silent when the newest item it brought is older than `silence_factor` times its usual gap
between items (the median gap of the newest publication times it collected) and older than
`silence_min_hours`; that raises one `source` alert per silent episode (the id is built from the
source and its newest item, so re-checking does not repeat it). Rejected credentials raise one alert
per token and reason. Both are addressed to the analyst (details["audience"]).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from index.models import Alert, AlertKind, SourceState, as_utc, stable_id

#: Newest publication times kept per source to estimate its usual gap.
ITEM_TIMES_KEPT = 64
#: Items-per-run counts kept per source.
RUNS_KEPT = 20
#: Fewest publication times that give a usual gap.
MIN_TIMES_FOR_GAP = 3
#: Who source alerts are for.
AUDIENCE = "analyst"
#: Russian names of the sources for alert texts and the UI.
SOURCE_TITLES = {
    "vk": "ВКонтакте",
    "ok": "Одноклассники",
    "tg": "Telegram",
    "telegram": "Telegram",
    "web": "новостные сайты",
    "demo": "демо-поток",
}


def source_title(name: str) -> str:
    """Return the Russian name of a source."""
    return SOURCE_TITLES.get(name, name)


def record_items(state: SourceState, times: Iterable[datetime]) -> None:
    """Remember the newest publication times among `times` (the usual gap and the lag use them)."""
    merged = {as_utc(t) for t in state.item_times} | {as_utc(t) for t in times}
    if not merged:
        return
    kept = sorted(merged)[-ITEM_TIMES_KEPT:]
    state.item_times = kept
    newest = kept[-1]
    if state.newest_item_at is None or newest > as_utc(state.newest_item_at):
        state.newest_item_at = newest


def record_run(state: SourceState, items: int) -> None:
    """Append one run's item count (the last RUNS_KEPT are kept)."""
    state.run_items = [*state.run_items, items][-RUNS_KEPT:]
    state.items_last_run = items


def record_errors(state: SourceState, errors: dict[str, int]) -> None:
    """Add error counts by kind."""
    for kind, count in errors.items():
        state.errors[kind] = state.errors.get(kind, 0) + int(count)


def usual_gap(state: SourceState) -> timedelta | None:
    """Return the median gap between consecutive newest publication times, or None without history."""
    times = sorted(as_utc(t) for t in state.item_times)
    if len(times) < MIN_TIMES_FOR_GAP:
        return None
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    return timedelta(seconds=statistics.median(gaps))


def lag(state: SourceState, now: datetime) -> timedelta | None:
    """Return how old the newest collected item is (stream time vs now), or None if none came yet."""
    if state.newest_item_at is None:
        return None
    return max(timedelta(0), as_utc(now) - as_utc(state.newest_item_at))


def silence_threshold(state: SourceState, factor: float, min_hours: float) -> timedelta:
    """Return how long this source may stay quiet before it counts as silent."""
    floor = timedelta(hours=min_hours)
    gap = usual_gap(state)
    return floor if gap is None else max(floor, gap * factor)


def is_silent(state: SourceState, now: datetime, factor: float, min_hours: float) -> bool:
    """Return whether the newest item is older than the silence threshold."""
    current = lag(state, now)
    return current is not None and current > silence_threshold(state, factor, min_hours)


def _duration(delta: timedelta) -> str:
    """Return a short Russian duration ("3 ч 20 мин", "2 дн 4 ч")."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} дн {hours} ч"
    if hours:
        return f"{hours} ч {mins} мин"
    return f"{mins} мин"


def silence_alert(state: SourceState, now: datetime, factor: float, min_hours: float) -> Alert:
    """Return the alert for a silent source (one per episode: keyed by its newest item)."""
    newest = as_utc(state.newest_item_at) if state.newest_item_at else as_utc(now)
    current = lag(state, now) or timedelta(0)
    gap = usual_gap(state)
    usual = f"обычно новое сообщение раз в {_duration(gap)}" if gap else "истории ещё мало"
    title = f"Источник «{source_title(state.name)}» молчит {_duration(current)}"
    text = (
        f"Последнее собранное сообщение опубликовано {newest:%d.%m.%Y %H:%M} UTC; {usual}. "
        "Проверьте токены, доступность API и работу обработчиков."
    )
    if state.last_error:
        text += f" Последняя ошибка: {state.last_error}"
    return Alert(
        id=stable_id("source-silent", state.name, newest.isoformat()),
        kind=AlertKind.source,
        severity=6,
        title=title,
        text=text,
        created_at=as_utc(now),
        event_at=newest,
        source=state.name,
        details={
            "audience": AUDIENCE,
            "problem": "silent",
            "lag_s": int(current.total_seconds()),
            "usual_gap_s": int(gap.total_seconds()) if gap else None,
            "threshold_s": int(silence_threshold(state, factor, min_hours).total_seconds()),
        },
    )


def credentials_alert(source: str, credential_id: str | None, reason: str, now: datetime) -> Alert:
    """Return the alert for rejected credentials (one per source, token and reason)."""
    return Alert(
        id=stable_id("source-credentials", source, credential_id or "", reason),
        kind=AlertKind.source,
        severity=7,
        title=f"Источник «{source_title(source)}»: сбор приостановлен, нужен новый токен",
        text=reason,
        created_at=as_utc(now),
        event_at=as_utc(now),
        source=source,
        details={"audience": AUDIENCE, "problem": "credentials", "credential": credential_id},
    )


@dataclass
class SourceHealth:
    """What the analyst sees of one source."""

    name: str
    title: str
    status: str  # ok | silent | paused | failing | never | disabled
    status_text: str  # Russian
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    items_last_run: int = 0
    run_items: list[int] = field(default_factory=list)
    items_total: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    newest_item_at: datetime | None = None
    lag_s: int | None = None
    usual_gap_s: int | None = None
    silence_threshold_s: int | None = None
    paused_until: datetime | None = None
    last_error: str | None = None


def health_of(state: SourceState, now: datetime, factor: float, min_hours: float) -> SourceHealth:
    """Return the health summary of one source state at `now`."""
    now = as_utc(now)
    current = lag(state, now)
    gap = usual_gap(state)
    paused = state.paused_until is not None and as_utc(state.paused_until) > now
    failing = state.last_error_at is not None and (
        state.last_success_at is None or as_utc(state.last_error_at) > as_utc(state.last_success_at)
    )
    if paused:
        status, text = "paused", f"приостановлен до {as_utc(state.paused_until or now):%d.%m %H:%M} UTC"
        if state.paused_reason:
            text += f": {state.paused_reason}"
    elif is_silent(state, now, factor, min_hours):
        status, text = "silent", f"молчит {_duration(current or timedelta(0))}"
    elif failing:
        status, text = "failing", f"ошибка: {state.last_error or 'неизвестно'}"
    elif state.last_success_at is None:
        status, text = "never", "ещё не собирал"
    else:
        status, text = "ok", "работает"
    return SourceHealth(
        name=state.name,
        title=source_title(state.name),
        status=status,
        status_text=text,
        last_run_at=state.last_run_at,
        last_success_at=state.last_success_at,
        items_last_run=state.items_last_run,
        run_items=list(state.run_items),
        items_total=state.items_total,
        errors=dict(state.errors),
        newest_item_at=state.newest_item_at,
        lag_s=int(current.total_seconds()) if current is not None else None,
        usual_gap_s=int(gap.total_seconds()) if gap is not None else None,
        silence_threshold_s=int(silence_threshold(state, factor, min_hours).total_seconds()),
        paused_until=state.paused_until if paused else None,
        last_error=state.last_error,
    )
