"""Monitoring indicators for a period."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ContextDep, IndicatorsReader, NowDep
from api.indicators import compute_indicators
from api.periods import resolve_period
from api.schemas import IndicatorsPublic

router = APIRouter(prefix="/indicators", tags=["показатели"])


@router.get(
    "",
    response_model=IndicatorsPublic,
    summary="Показатели за период",
    description="Объём сообщений по секторам, территориям и дням (в часовом поясе профиля), изменение "
    "к предыдущему периоду той же длины, инциденты: открыто, отвечено в срок, просрочено, открыто сейчас. "
    "По умолчанию — последние 7 дней.",
)
def indicators(
    ctx: ContextDep,
    now: NowDep,
    _: IndicatorsReader,
    since: Annotated[datetime | None, Query(description="Начало периода (включительно)")] = None,
    until: Annotated[datetime | None, Query(description="Конец периода (не включительно)")] = None,
) -> IndicatorsPublic:
    """Return the indicators for [since, until)."""
    start, end = resolve_period(since, until, now)
    return compute_indicators(ctx.store, start, end, now, ctx.timezone)
