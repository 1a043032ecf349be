"""Alerts for the head of the centre: lists and acknowledgement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import AlertsAcker, AlertsReader, NowDep, StoreDep
from api.presenters import alert_public
from api.schemas import DEFAULT_LIMIT, MAX_LIMIT, AlertPublic, ErrorPublic, PagePublic
from index.models import AlertKind
from index.store import AlertQuery, NotFound

router = APIRouter(prefix="/alerts", tags=["уведомления"])


@router.get(
    "",
    response_model=PagePublic[AlertPublic],
    summary="Список уведомлений",
    description="Новые сначала. acknowledged=false — только непринятые.",
)
def list_alerts(
    store: StoreDep,
    _: AlertsReader,
    kind: Annotated[list[AlertKind] | None, Query(description="Виды (можно несколько)")] = None,
    acknowledged: Annotated[bool | None, Query(description="Принято или нет")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Размер страницы")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, description="Сдвиг от начала")] = 0,
) -> PagePublic[AlertPublic]:
    """Return one page of alerts matching the filters."""
    page = store.query_alerts(
        AlertQuery(kind=kind or None, acknowledged=acknowledged, limit=limit, offset=offset)
    )
    return PagePublic[AlertPublic](
        items=[alert_public(a) for a in page.items], total=page.total, limit=limit, offset=offset
    )


@router.post(
    "/{alert_id}/ack",
    response_model=AlertPublic,
    summary="Принять уведомление",
    description="Отметить уведомление принятым; первое принятие сохраняется, повторное ничего не меняет.",
    responses={404: {"model": ErrorPublic, "description": "Нет такого уведомления"}},
)
def acknowledge(alert_id: str, store: StoreDep, now: NowDep, principal: AlertsAcker) -> AlertPublic:
    """Acknowledge the alert as the caller and return it."""
    try:
        alert = store.acknowledge_alert(alert_id, by=principal.actor, at=now)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="уведомление не найдено") from exc
    return alert_public(alert)
