"""Monitoring indicators for a period and a slice."""

from __future__ import annotations

import json
from dataclasses import astuple
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ContextDep, IndicatorsReader, NowDep
from api.indicators import compute_indicators, whole_hours
from api.periods import resolve_period
from risk.indicators import Indicators, Slice

router = APIRouter(prefix="/indicators", tags=["показатели"])

_TEXT = {"max_length": 200}


@router.get(
    "",
    response_model=Indicators,
    summary="Показатели за период",
    description="Объём сообщений и его изменение к предыдущему периоду той же длины (по секторам, "
    "территориям, источникам и дням в часовом поясе профиля), доли по типам и тональности, темы, индекс "
    "социальной напряжённости, инциденты (открыто, отвечено в срок, просрочено, время до первого ответа в "
    "рабочих часах, окончательные ответы, удовлетворённость) и рейтинг исполнителей. Срез — любые из "
    "параметров sector, topic, territory, source, recipient, page. По умолчанию — последние 7 дней. "
    "Формулы — в docs/indicators.md. Ответ для периода и среза хранится до двух минут (настройка "
    "API__INDICATORS_TTL_S) и, пока пересчитывается, выдаётся прежний.",
)
def indicators(
    ctx: ContextDep,
    now: NowDep,
    _: IndicatorsReader,
    since: Annotated[datetime | None, Query(description="Начало периода (включительно)")] = None,
    until: Annotated[datetime | None, Query(description="Конец периода (не включительно)")] = None,
    sector: Annotated[str | None, Query(description="Сектор", **_TEXT)] = None,
    topic: Annotated[str | None, Query(description="Тема", **_TEXT)] = None,
    territory: Annotated[str | None, Query(description="id территории (с вложенными)", **_TEXT)] = None,
    source: Annotated[str | None, Query(description="Источник: vk, tg, ok, web...", **_TEXT)] = None,
    recipient: Annotated[str | None, Query(description="id исполнителя", **_TEXT)] = None,
    page: Annotated[str | None, Query(description="id официальной страницы", **_TEXT)] = None,
) -> Indicators:
    """Return the indicators for [since, until) and the slice."""
    start, end = resolve_period(since, until, now)
    sl = Slice(
        sector=sector, topic=topic, territory=territory, source=source, recipient=recipient, page_id=page
    )

    def compute() -> Indicators:
        return compute_indicators(ctx.store, start, end, now, ctx.timezone, ctx.profile, sl)

    if ctx.indicators_cache is None:
        return compute()
    return ctx.indicators_cache.get(_cache_key(since, until, start, end, sl), compute)


def _cache_key(
    since: datetime | None, until: datetime | None, start: datetime, end: datetime, sl: Slice
) -> str:
    """Return the cache key of a request: its whole hours, or for a period up to now its start only.

    A period up to now moves every hour; keyed by its start alone, the answer kept for the last hour is
    served (saying its own since and until) while the new hour's one is computed, instead of making
    the first caller of each hour wait.
    """
    first, last = whole_hours(start, end)
    if until is None:
        period = ["to-now", None if since is None else first.isoformat()]
    else:
        period = [first.isoformat(), last.isoformat()]
    return json.dumps([*period, *astuple(sl)], ensure_ascii=False)
