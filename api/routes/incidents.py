"""Incidents: lists with filters, one incident with its posts, status transitions and assignment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from api.auth import Permission, Principal
from api.deps import IncidentsAssigner, IncidentsReader, IncidentsTransitioner, NowDep, ProfileDep, StoreDep
from api.periods import check_order
from api.presenters import incident_detail, incident_public
from api.schemas import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    AssignIn,
    ErrorPublic,
    IncidentDetail,
    IncidentPublic,
    PagePublic,
    TransitionIn,
)
from index.models import Incident, IncidentStatus, as_utc
from index.store import IncidentQuery, Store, VersionConflict
from risk.incidents import InvalidTransition, assign, transition

router = APIRouter(prefix="/incidents", tags=["инциденты"])

#: Shown when someone else changed the incident first.
CONFLICT_MESSAGE = "инцидент изменён другим пользователем, обновите страницу"
_NOT_FOUND = "инцидент не найден"
_NOT_YOURS = "инцидент назначен другому исполнителю"

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorPublic, "description": "Нет прав или инцидент другого исполнителя"},
    404: {"model": ErrorPublic, "description": "Нет такого инцидента"},
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    409: {"model": ErrorPublic, "description": "Недопустимый переход или инцидент уже изменён"},
}


def _load(store: Store, incident_id: str, principal: Principal) -> Incident:
    """Return the incident, or raise 404 when absent and 403 when it is another recipient's."""
    incident = store.get_incident(incident_id)
    if incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=_NOT_FOUND)
    if not principal.may_see_recipient(incident.recipient):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=_NOT_YOURS)
    return incident


def _change(
    store: Store, old: Incident, seen_version: int | None, change: Callable[[Incident], Incident]
) -> Incident:
    """Apply `change` to `old` and save it under optimistic concurrency; map failures to 409."""
    if seen_version is not None and seen_version != old.version:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=CONFLICT_MESSAGE)
    try:
        new = change(old)
    except InvalidTransition as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    try:
        return store.save_incident(new, expected_version=old.version)
    except VersionConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=CONFLICT_MESSAGE) from exc


@router.get(
    "",
    response_model=PagePublic[IncidentPublic],
    summary="Список инцидентов",
    description="Фильтры сочетаются через И; новые сначала. Исполнитель видит только свои инциденты.",
    responses={403: _ERRORS[403]},
)
def list_incidents(
    store: StoreDep,
    profile: ProfileDep,
    now: NowDep,
    principal: IncidentsReader,
    status_: Annotated[
        list[IncidentStatus] | None, Query(alias="status", description="Статусы (можно несколько)")
    ] = None,
    recipient: Annotated[str | None, Query(description="id исполнителя")] = None,
    sector: Annotated[str | None, Query(description="Сектор")] = None,
    territory: Annotated[str | None, Query(description="id территории")] = None,
    overdue: Annotated[bool, Query(description="Только просроченные на текущий момент")] = False,
    since: Annotated[datetime | None, Query(description="Создан не раньше")] = None,
    until: Annotated[datetime | None, Query(description="Создан раньше")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Размер страницы")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, description="Сдвиг от начала")] = 0,
) -> PagePublic[IncidentPublic]:
    """Return one page of incidents matching the filters."""
    check_order(since, until)
    if principal.recipient_id is not None:
        if recipient is not None and recipient != principal.recipient_id:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=_NOT_YOURS)
        recipient = principal.recipient_id
    page = store.query_incidents(
        IncidentQuery(
            status=status_ or None,
            recipient=recipient,
            sector=sector,
            territory=territory,
            since=as_utc(since) if since else None,
            until=as_utc(until) if until else None,
            overdue_at=now if overdue else None,
            limit=limit,
            offset=offset,
        )
    )
    return PagePublic[IncidentPublic](
        items=[incident_public(i, profile, now) for i in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/{incident_id}",
    response_model=IncidentDetail,
    summary="Инцидент с сообщениями",
    description="Инцидент, его журнал изменений и все прикреплённые сообщения граждан.",
    responses=_ERRORS,
)
def get_incident(
    incident_id: str, store: StoreDep, profile: ProfileDep, now: NowDep, principal: IncidentsReader
) -> IncidentDetail:
    """Return one incident with its posts."""
    incident = _load(store, incident_id, principal)
    return incident_detail(incident, store, profile, now, principal.can(Permission.personal_read))


@router.post(
    "/{incident_id}/transition",
    response_model=IncidentDetail,
    summary="Сменить статус инцидента",
    description="Переход по схеме статусов с записью в журнал. 409, если переход недопустим "
    "или инцидент уже изменил кто-то другой.",
    responses=_WRITE_ERRORS,
)
def transition_incident(
    incident_id: str,
    body: TransitionIn,
    store: StoreDep,
    profile: ProfileDep,
    now: NowDep,
    principal: IncidentsTransitioner,
) -> IncidentDetail:
    """Move the incident to `body.to` and return it."""
    old = _load(store, incident_id, principal)
    saved = _change(
        store,
        old,
        body.version,
        lambda inc: transition(
            inc,
            body.to,
            actor=principal.actor,
            at=now,
            profile=profile,
            outcome=body.outcome,
            comment=body.comment,
        ),
    )
    return incident_detail(saved, store, profile, now, principal.can(Permission.personal_read))


@router.post(
    "/{incident_id}/assign",
    response_model=IncidentDetail,
    summary="Назначить исполнителя",
    description="Передать инцидент исполнителю из профиля; запись в журнал.",
    responses={**_WRITE_ERRORS, 422: {"model": ErrorPublic, "description": "Неизвестный исполнитель"}},
)
def assign_incident(
    incident_id: str,
    body: AssignIn,
    store: StoreDep,
    profile: ProfileDep,
    now: NowDep,
    principal: IncidentsAssigner,
) -> IncidentDetail:
    """Give the incident to `body.recipient` and return it."""
    if profile.recipient(body.recipient) is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"исполнителя «{body.recipient}» нет в профиле муниципалитета",
        )
    old = _load(store, incident_id, principal)
    saved = _change(
        store,
        old,
        body.version,
        lambda inc: assign(inc, body.recipient, actor=principal.actor, at=now, profile=profile),
    )
    return incident_detail(saved, store, profile, now, principal.can(Permission.personal_read))
