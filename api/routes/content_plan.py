"""The content plan of the official pages: the week's slots and topics, decisions, exports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from api.auth import Permission, Principal
from api.deps import IndicatorsReader, NowDep, ProfileDep, StoreDep, require
from api.schemas import ErrorPublic
from index.models import PlanAction
from index.profile import Profile
from index.store import Store
from risk.content_plan import (
    ContentPlan,
    PlanError,
    PlanSlot,
    build_plan,
    decide,
    parse_week,
    plan_csv,
    plan_ics,
    plan_xlsx,
)
from risk.personal import mask_text

router = APIRouter(prefix="/content-plan", tags=["контент-план"])

PlanWriter = Annotated[Principal, Depends(require(Permission.content_plan_write))]

_WEEK = Query(
    description="Любая дата планируемой недели, ГГГГ-ММ-ДД (по умолчанию — следующая неделя)",
    max_length=10,
)
_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorPublic, "description": "Нет такого слота"},
    422: {"model": ErrorPublic, "description": "Решение невозможно"},
}


class DecisionIn(BaseModel):
    """The information lead's decision about one slot."""

    week: str = Field(max_length=10, description="Любая дата недели слота, ГГГГ-ММ-ДД")
    action: PlanAction = Field(description="accept — принять, move — перенести, drop — отменить")
    moved_to: datetime | None = Field(default=None, description="Новое время (для переноса)")
    suggestion_id: str | None = Field(default=None, max_length=64, description="Выбранная тема")
    comment: str = Field(default="", max_length=2000)


def _plan(store: Store, profile: Profile, now: datetime, week: str | None) -> ContentPlan:
    """Build the plan of `week` (or the coming week); raise 422 for a bad week."""
    try:
        monday = parse_week(week) if week else None
    except PlanError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    return build_plan(store, profile, now, monday)


def _pseudonymise(plan: ContentPlan, reveal: bool) -> ContentPlan:
    """Return the plan with contacts masked in example texts unless `reveal`."""
    if not reveal:
        for suggestion in plan.suggestions:
            for example in suggestion.examples:
                example.text = mask_text(example.text)
        for slot in plan.slots:
            if slot.suggestion is not None:
                for example in slot.suggestion.examples:
                    example.text = mask_text(example.text)
    return plan


@router.get(
    "",
    response_model=ContentPlan,
    summary="Контент-план недели",
    description="Для каждой официальной страницы — слоты в часы наибольшей реакции её аудитории по норме "
    "публикаций и предложенные темы по убыванию потребности: растущие темы жителей и сюжеты, открытые и "
    "просроченные инциденты, сектора, о которых страницы молчат, запланированные мероприятия. У каждой темы "
    "— основание, доказательства (числа, примеры сообщений) и тезисы. Решения по слотам учтены.",
)
def get_plan(
    store: StoreDep,
    profile: ProfileDep,
    now: NowDep,
    principal: IndicatorsReader,
    week: Annotated[str | None, _WEEK] = None,
) -> ContentPlan:
    """Return the content plan of a week."""
    return _pseudonymise(_plan(store, profile, now, week), principal.can(Permission.personal_read))


@router.post(
    "/slots/{slot_id}",
    response_model=PlanSlot,
    summary="Принять, перенести или отменить слот",
    description="Запоминает решение ответственного за информационное направление; повторное решение по "
    "тому же слоту заменяет прежнее.",
    responses=_ERRORS,
)
def decide_slot(
    slot_id: str, body: DecisionIn, store: StoreDep, profile: ProfileDep, now: NowDep, principal: PlanWriter
) -> PlanSlot:
    """Store a decision and return the slot as the plan now shows it."""
    plan = _plan(store, profile, now, body.week)
    if not any(s.id == slot_id for s in plan.slots):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="такого слота нет в плане этой недели")
    try:
        decide(
            store,
            profile,
            plan,
            slot_id,
            body.action,
            by=principal.actor,
            moved_to=body.moved_to,
            suggestion_id=body.suggestion_id,
            comment=body.comment,
            at=now,
        )
    except PlanError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    updated = _plan(store, profile, now, body.week)
    return next(s for s in updated.slots if s.id == slot_id)


_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ics": "text/calendar; charset=utf-8",
}


@router.get(
    "/export",
    summary="Выгрузить контент-план",
    description="CSV (разделитель «;»), XLSX или iCalendar (.ics) со слотами недели.",
    responses={200: {"content": {m: {} for m in _MEDIA.values()}, "description": "Файл плана"}},
    response_class=Response,
)
def export_plan(
    store: StoreDep,
    profile: ProfileDep,
    now: NowDep,
    _: IndicatorsReader,
    week: Annotated[str | None, _WEEK] = None,
    format: Annotated[Literal["csv", "xlsx", "ics"], Query(description="Формат файла")] = "csv",
) -> Response:
    """Return the plan as a file."""
    plan = _plan(store, profile, now, week)
    body: bytes
    if format == "csv":
        body = ("\ufeff" + plan_csv(plan)).encode("utf-8")
    elif format == "xlsx":
        body = plan_xlsx(plan)
    else:
        body = plan_ics(plan)
    filename = f"content-plan-{plan.week}.{format}"
    return Response(
        content=body,
        media_type=_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
