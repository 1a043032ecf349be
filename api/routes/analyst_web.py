"""Web pages of the analyst: search with slices, a message's context, alerts and spikes, the heat map."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import Permission
from api.deps import ContextDep, OptionalPrincipalDep
from api.views.alerts import alert_view, list_alerts, parse_alert_filters, spikes_page
from api.views.common import FormError, gate, message_page, render, reveals_personal, staff_with
from api.views.heatmap import heat_map
from api.views.indicators import indicators_view
from api.views.search import search_page
from api.views.thread import post_context

router = APIRouter(include_in_schema=False)

READ_ALERTS = staff_with(Permission.alerts_read)
READ_INDICATORS = staff_with(Permission.indicators_read)


@router.get("/ui/search", name="ui_search", response_class=HTMLResponse)
def search(request: Request, ctx: ContextDep, principal: OptionalPrincipalDep) -> Response:
    """Search messages by words and filters over a period, with the by-day chart and slices."""
    checked = gate(request, ctx, principal, "search", "искать сообщения", staff_with(Permission.posts_read))
    if isinstance(checked, Response):
        return checked
    layout, who = checked
    try:
        page = search_page(
            ctx.store, ctx.profile, request.query_params, ctx.now(), ctx.timezone, reveals_personal(who)
        )
    except FormError as exc:
        return message_page(request, "Неверный запрос", str(exc), 422, layout, "/ui/search")
    return render(request, "search.html", {"layout": layout, "page": page})


@router.get("/ui/posts/{post_id:path}", name="ui_post", response_class=HTMLResponse)
def post_page(post_id: str, request: Request, ctx: ContextDep, principal: OptionalPrincipalDep) -> Response:
    """Show a message in its full context: the thread with every comment, its incident and story."""
    checked = gate(request, ctx, principal, "search", "читать сообщения", staff_with(Permission.posts_read))
    if isinstance(checked, Response):
        return checked
    layout, who = checked
    post = ctx.store.get_post(post_id)
    if post is None:
        return message_page(request, "Не найдено", "Такого сообщения нет.", 404, layout, "/ui/search")
    page = post_context(ctx.store, ctx.profile, post, ctx.timezone, reveals_personal(who))
    return render(request, "post.html", {"layout": layout, "post": page})


@router.get("/ui/alerts", name="ui_alerts", response_class=HTMLResponse)
def alerts(request: Request, ctx: ContextDep, principal: OptionalPrincipalDep) -> Response:
    """List alerts (not acknowledged by default) with a kind filter."""
    checked = gate(
        request, ctx, principal, "alerts", "читать уведомления", staff_with(Permission.alerts_read)
    )
    if isinstance(checked, Response):
        return checked
    layout, who = checked
    try:
        flt = parse_alert_filters(request.query_params)
    except FormError as exc:
        return message_page(request, "Неверный фильтр", str(exc), 422, layout, "/ui/alerts")
    page = list_alerts(ctx.store, flt, ctx.timezone)
    can_ack = who.can(Permission.alerts_ack)
    return render(request, "alerts.html", {"layout": layout, "page": page, "can_ack": can_ack})


@router.get("/ui/alerts/{alert_id}", name="ui_alert", response_class=HTMLResponse)
def alert_page(alert_id: str, request: Request, ctx: ContextDep, principal: OptionalPrincipalDep) -> Response:
    """Show one alert with its explanation: what drove it, examples, the chart, links to the thread."""
    checked = gate(
        request, ctx, principal, "alerts", "читать уведомления", staff_with(Permission.alerts_read)
    )
    if isinstance(checked, Response):
        return checked
    layout, who = checked
    alert = ctx.store.get_alert(alert_id)
    if alert is None:
        return message_page(request, "Не найдено", "Такого уведомления нет.", 404, layout, "/ui/alerts")
    view = alert_view(ctx.store, ctx.profile, alert, ctx.now(), ctx.timezone, reveals_personal(who))
    can_ack = who.can(Permission.alerts_ack) and alert.acknowledged_at is None
    return render(request, "alert.html", {"layout": layout, "a": view, "can_ack": can_ack})


@router.get("/ui/spikes", name="ui_spikes", response_class=HTMLResponse)
def spikes(request: Request, ctx: ContextDep, principal: OptionalPrincipalDep) -> Response:
    """Show the volume spikes with their explanation and an hourly chart each, newest first."""
    checked = gate(request, ctx, principal, "spikes", "смотреть всплески", staff_with(Permission.alerts_read))
    if isinstance(checked, Response):
        return checked
    layout, who = checked
    try:
        views, total, prev_href, next_href = spikes_page(
            ctx.store, ctx.profile, request.query_params, ctx.now(), ctx.timezone, reveals_personal(who)
        )
    except FormError as exc:
        return message_page(request, "Неверный запрос", str(exc), 422, layout, "/ui/spikes")
    return render(
        request,
        "spikes.html",
        {"layout": layout, "spikes": views, "total": total, "prev_href": prev_href, "next_href": next_href},
    )


@router.get("/ui/map", name="ui_map", response_class=HTMLResponse)
def territory_map(request: Request, ctx: ContextDep, principal: OptionalPrincipalDep) -> Response:
    """Show the heat map by territory for a period and a metric."""
    checked = gate(request, ctx, principal, "map", "смотреть карту", staff_with(Permission.indicators_read))
    if isinstance(checked, Response):
        return checked
    layout, _ = checked
    try:
        page = heat_map(ctx.store, ctx.profile, request.query_params, ctx.now(), ctx.timezone)
    except FormError as exc:
        return message_page(request, "Неверный запрос", str(exc), 422, layout, "/ui/map")
    return render(request, "map.html", {"layout": layout, "page": page})


@router.get("/ui/indicators", name="ui_indicators", response_class=HTMLResponse)
def indicators(request: Request, ctx: ContextDep, principal: OptionalPrincipalDep) -> Response:
    """Show the indicators of a period and slice: volumes, shares, tension, incidents, recipients' rating."""
    checked = gate(request, ctx, principal, "indicators", "смотреть показатели", READ_INDICATORS)
    if isinstance(checked, Response):
        return checked
    layout, _ = checked
    try:
        view = indicators_view(ctx.store, ctx.profile, request.query_params, ctx.now(), ctx.timezone)
    except FormError as exc:
        return message_page(request, "Неверный запрос", str(exc), 422, layout, "/ui/indicators")
    return render(request, "indicators.html", {"layout": layout, "view": view})
