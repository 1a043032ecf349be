"""Incidents: lists with filters, one incident with its posts, status transitions and assignment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, cast

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
    MergeIn,
    PagePublic,
    SplitIn,
    SplitPublic,
    TransitionIn,
)
from index.models import Incident, IncidentStatus, as_utc
from index.store import AlertingStore, IncidentQuery, PostQuery, Store, VersionConflict
from risk.incidents import InvalidTransition, assign, merge_incidents, split_incident, transition

router = APIRouter(prefix="/incidents", tags=["инциденты"])

#: Shown when someone else changed the incident first.
CONFLICT_MESSAGE = "инцидент изменён другим пользователем, обновите страницу"
_NOT_FOUND = "инцидент не найден"
_NOT_YOURS = "инцидент назначен другому исполнителю"
#: Shown when the store cannot write two incidents at once (merge and split need it).
NO_GROUPED_WRITES = "это хранилище не умеет объединять и разделять инциденты"

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


def _grouped(store: Store) -> AlertingStore:
    """Return the store's grouped writes, or answer 501 when the backend cannot write two at once."""
    if not isinstance(store, AlertingStore):
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, detail=NO_GROUPED_WRITES)
    return cast(AlertingStore, store)


def _check_seen(incident: Incident, seen_version: int | None) -> None:
    """Answer 409 when the user saw an older version of the incident."""
    if seen_version is not None and seen_version != incident.version:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=CONFLICT_MESSAGE)


@router.post(
    "/{incident_id}/merge",
    response_model=IncidentDetail,
    summary="Объединить инциденты",
    description="Перенести все сообщения этого инцидента в другой (`into`): он остаётся в работе, "
    "этот закрывается со ссылкой на него. Оба журнала получают запись.",
    responses=_WRITE_ERRORS,
)
def merge_incident(
    incident_id: str,
    body: MergeIn,
    store: StoreDep,
    profile: ProfileDep,
    now: NowDep,
    principal: IncidentsAssigner,
) -> IncidentDetail:
    """Merge the incident into `body.into` and return the merged one."""
    grouped = _grouped(store)
    source = _load(store, incident_id, principal)
    target = _load(store, body.into, principal)
    _check_seen(source, body.version)
    _check_seen(target, body.into_version)
    try:
        merged, emptied = merge_incidents(target, source, actor=principal.actor, at=now, profile=profile)
    except InvalidTransition as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    try:
        # The emptied one first: the merged one, written last, owns every message.
        _, saved = grouped.save_incidents([(emptied, source.version), (merged, target.version)])
    except VersionConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=CONFLICT_MESSAGE) from exc
    return incident_detail(saved, store, profile, now, principal.can(Permission.personal_read))


@router.post(
    "/{incident_id}/split",
    response_model=SplitPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Разделить инцидент",
    description="Выделить выбранные сообщения в новый инцидент (тот же исполнитель, свой срок первого "
    "ответа от самого раннего из них). Хотя бы одно сообщение должно остаться.",
    responses={**_WRITE_ERRORS, 422: {"model": ErrorPublic, "description": "Сообщения не найдены"}},
)
def split_incident_route(
    incident_id: str,
    body: SplitIn,
    store: StoreDep,
    profile: ProfileDep,
    now: NowDep,
    principal: IncidentsAssigner,
) -> SplitPublic:
    """Move `body.post_ids` into a new incident; return both."""
    grouped = _grouped(store)
    incident = _load(store, incident_id, principal)
    _check_seen(incident, body.version)
    wanted = list(dict.fromkeys(body.post_ids))
    posts = store.query_posts(PostQuery(ids=wanted, limit=len(wanted))).items
    missing = sorted(set(wanted) - {p.id for p in posts})
    if missing:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"сообщения не найдены: {', '.join(missing[:10])}"
        )
    try:
        rest, fresh = split_incident(incident, posts, actor=principal.actor, at=now, profile=profile)
    except InvalidTransition as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    try:
        created, kept = grouped.save_incidents([(fresh, None), (rest, incident.version)])
    except VersionConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=CONFLICT_MESSAGE) from exc
    reveal = principal.can(Permission.personal_read)
    return SplitPublic(
        rest=incident_detail(kept, store, profile, now, reveal),
        split=incident_detail(created, store, profile, now, reveal),
    )
