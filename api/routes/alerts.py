"""Alerts for the head of the centre: lists, one alert, acknowledgement (also by a signed link from
Telegram or e-mail), the delivery log, and who gets which alerts (subscriptions)."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse

from api.deps import (
    AlertsAcker,
    AlertsReader,
    ContextDep,
    NowDep,
    StoreDep,
    SubscriptionsManager,
)
from api.presenters import alert_public
from api.schemas import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    AlertPublic,
    DeliveryPublic,
    ErrorPublic,
    NotifyChannelPublic,
    PagePublic,
    SubscriptionIn,
    SubscriptionPublic,
)
from api.views.common import FormError, local_time, read_form, render
from index.models import Alert, AlertKind, DeliveryStatus, NotifyChannel, Subscription
from index.store import AlertingStore, AlertQuery, DeliveryQuery, NotFound, Store
from risk.alerts import verify_ack_token

router = APIRouter(prefix="/alerts", tags=["уведомления"])

#: Shown when the store keeps no delivery log.
NO_DELIVERY_LOG = "это хранилище не ведёт журнал доставки уведомлений"
_ALERT_NOT_FOUND = "уведомление не найдено"
_SUBSCRIPTION_NOT_FOUND = "подписка не найдена"
#: Who an acknowledgement by link is written as.
LINK_ACTOR_PREFIX = "по ссылке: "


def _alerting(store: Store) -> AlertingStore:
    """Return the store's delivery log, or answer 501 when the backend has none."""
    if not isinstance(store, AlertingStore):
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, detail=NO_DELIVERY_LOG)
    return cast(AlertingStore, store)


def _subscription_public(sub: Subscription) -> SubscriptionPublic:
    """Return the API view of a subscription (webhook keys hidden)."""
    data = sub.model_dump(exclude={"channels"})
    channels = [
        NotifyChannelPublic(kind=c.kind, address=c.address, has_secret=bool(c.secret)) for c in sub.channels
    ]
    return SubscriptionPublic(**data, channels=channels)


# Subscriptions (declared before /{alert_id} so the paths do not collide)


@router.get(
    "/subscriptions",
    response_model=list[SubscriptionPublic],
    summary="Подписки на уведомления",
    description="Кто получает какие уведомления и куда (Telegram, почта, вебхук).",
)
def list_subscriptions(store: StoreDep, _: SubscriptionsManager) -> list[SubscriptionPublic]:
    """Return every subscription."""
    return [_subscription_public(s) for s in _alerting(store).list_subscriptions()]


@router.put(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionPublic,
    summary="Создать или изменить подписку",
    description="Виды уведомлений, важность, сектора, территории, тихие часы, лимит в час и адреса. "
    "Ключ подписи вебхука, не переданный заново, сохраняется.",
    responses={422: {"model": ErrorPublic, "description": "Неверные поля"}},
)
def put_subscription(
    subscription_id: str,
    body: SubscriptionIn,
    store: StoreDep,
    now: NowDep,
    _: SubscriptionsManager,
) -> SubscriptionPublic:
    """Create or replace the subscription `subscription_id`."""
    alerting = _alerting(store)
    if not subscription_id.strip() or len(subscription_id) > 100 or ":" in subscription_id:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="id подписки: до 100 символов, без двоеточия"
        )
    old = alerting.get_subscription(subscription_id)
    kept = {c.destination: c.secret for c in old.channels} if old else {}
    channels = []
    for channel in body.channels:
        made = NotifyChannel(kind=channel.kind, address=channel.address, secret=channel.secret)
        if made.secret is None:
            made = made.model_copy(update={"secret": kept.get(made.destination)})
        channels.append(made)
    sub = Subscription(
        id=subscription_id,
        **body.model_dump(exclude={"channels"}),
        channels=channels,
        created_at=old.created_at if old else now,
    )
    alerting.save_subscription(sub)
    return _subscription_public(sub)


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Удалить подписку",
    description="Уже отправленное остаётся в журнале доставки; неотправленное этой подписке не уйдёт.",
    responses={404: {"model": ErrorPublic, "description": "Нет такой подписки"}},
)
def delete_subscription(subscription_id: str, store: StoreDep, _: SubscriptionsManager) -> Response:
    """Delete a subscription."""
    if not _alerting(store).delete_subscription(subscription_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=_SUBSCRIPTION_NOT_FOUND)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/deliveries",
    response_model=PagePublic[DeliveryPublic],
    summary="Журнал доставки",
    description="Каждое уведомление по каждому адресу: статус, попытки и ошибки. status=failed — "
    "то, что не удалось доставить; status=pending с ошибкой — канал сейчас недоступен.",
)
def list_deliveries(
    store: StoreDep,
    _: AlertsReader,
    status_: Annotated[
        list[DeliveryStatus] | None, Query(alias="status", description="Статусы (можно несколько)")
    ] = None,
    alert_id: Annotated[str | None, Query(description="id уведомления")] = None,
    subscription_id: Annotated[str | None, Query(description="id подписки")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Размер страницы")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, description="Сдвиг от начала")] = 0,
) -> PagePublic[DeliveryPublic]:
    """Return one page of the delivery log, newest first."""
    page = _alerting(store).query_deliveries(
        DeliveryQuery(
            alert_id=alert_id,
            subscription_id=subscription_id,
            status=status_ or None,
            limit=limit,
            offset=offset,
            newest_first=True,
        )
    )
    return PagePublic[DeliveryPublic](
        items=[DeliveryPublic.model_validate(d) for d in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


# Alerts


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


@router.get(
    "/{alert_id}",
    response_model=AlertPublic,
    summary="Одно уведомление",
    responses={404: {"model": ErrorPublic, "description": "Нет такого уведомления"}},
)
def get_alert(alert_id: str, store: StoreDep, _: AlertsReader) -> AlertPublic:
    """Return one alert."""
    alert = store.get_alert(alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=_ALERT_NOT_FOUND)
    return alert_public(alert)


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
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=_ALERT_NOT_FOUND) from exc
    return alert_public(alert)


# Acknowledgement by a signed link (Telegram button, e-mail link): no API key, the signature is the key.


def _link_subject(ctx: ContextDep, alert_id: str, subscriber: str, token: str) -> Alert | None:
    """Return the alert a valid link acknowledges, or None when the link is wrong or the alert is gone."""
    if not subscriber or not verify_ack_token(ctx.settings.ack_link_secret, alert_id, subscriber, token):
        return None
    return ctx.store.get_alert(alert_id)


def _ack_page(request: Request, ctx: ContextDep, alert: Alert | None, **extra: object) -> HTMLResponse:
    """Return the acknowledgement page of an alert (or of a wrong link)."""
    code = status.HTTP_200_OK if alert is not None else status.HTTP_404_NOT_FOUND
    context: dict[str, object] = {"alert": alert, "tz": ctx.timezone, "local_time": local_time, **extra}
    return render(request, "ack.html", context, code)


@router.get(
    "/{alert_id}/ack-link",
    response_class=HTMLResponse,
    summary="Страница принятия уведомления по ссылке",
    description="Ссылка из Telegram или письма: показывает уведомление и кнопку «Принять». "
    "Сама ссылка ничего не меняет (её могут открыть почтовые проверки ссылок).",
)
def ack_link_page(
    alert_id: str,
    request: Request,
    ctx: ContextDep,
    s: Annotated[str, Query(max_length=200, description="id подписки")] = "",
    t: Annotated[str, Query(max_length=200, description="Подпись ссылки")] = "",
) -> HTMLResponse:
    """Show the alert and the acknowledgement button when the link is valid."""
    alert = _link_subject(ctx, alert_id, s, t)
    return _ack_page(request, ctx, alert, subscriber=s, token=t, done=False)


@router.post(
    "/{alert_id}/ack-link",
    response_class=HTMLResponse,
    summary="Принять уведомление по ссылке",
    description="Кнопка «Принять» со страницы ссылки: принимает уведомление от имени подписчика.",
)
async def ack_link_accept(alert_id: str, request: Request, ctx: ContextDep) -> HTMLResponse:
    """Acknowledge the alert as the link's subscriber."""
    try:
        form = await read_form(request)
    except FormError:
        form = {}
    subscriber, token = form.get("s", ""), form.get("t", "")
    alert = _link_subject(ctx, alert_id, subscriber, token)
    if alert is None:
        return _ack_page(request, ctx, None, done=False)
    store = ctx.store
    who = subscriber
    if isinstance(store, AlertingStore):
        sub = store.get_subscription(subscriber)
        who = sub.name if sub else subscriber
    alert = store.acknowledge_alert(alert_id, by=f"{LINK_ACTOR_PREFIX}{who}", at=ctx.now())
    return _ack_page(request, ctx, alert, done=True)


@router.get(
    "/{alert_id}/deliveries",
    response_model=list[DeliveryPublic],
    summary="Доставка одного уведомления",
    description="По каждому адресу: отправлено, ждёт (тихие часы, лимит), повторяется или не удалось.",
    responses={404: {"model": ErrorPublic, "description": "Нет такого уведомления"}},
)
def alert_deliveries(alert_id: str, store: StoreDep, _: AlertsReader) -> list[DeliveryPublic]:
    """Return the delivery log of one alert."""
    if store.get_alert(alert_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=_ALERT_NOT_FOUND)
    page = _alerting(store).query_deliveries(DeliveryQuery(alert_id=alert_id, limit=MAX_LIMIT))
    return [DeliveryPublic.model_validate(d) for d in page.items]
