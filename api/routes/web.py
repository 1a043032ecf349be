"""The built-in Russian web UI: login form, main page, alert acknowledgement, logout, and the role pages.

Every page is server-rendered (Jinja2, autoescaped) with inline SVG charts; no scripts (the CSP forbids
them), so every action is a plain HTML form. The role pages live in api/routes/*_web.py and are
included into this router.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response

from api.auth import API_KEY_COOKIE, Permission
from api.dashboard import build_dashboard
from api.deps import ContextDep, OptionalPrincipalDep
from api.routes import analyst_web, incidents_web, info_web, reports_web
from api.views.common import (
    TEMPLATES_DIR,
    FormError,
    build_layout,
    login_page,
    message_page,
    read_form,
    render,
    safe_next,
    see_other,
    templates,
)
from api.views.head import tension_tile
from api.views.indicators import own_rating
from index.store import NotFound, StoreUnavailable

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "router", "templates"]

#: Folder served under /static.
STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
#: How often the main page reloads itself.
REFRESH_S = 10

#: The site icon (SVG), served at /favicon.ico so browsers find it without a request that fails.
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" '
    'fill="#1d3557"/><path d="M6 24 L12 14 L17 19 L26 8" stroke="#f4a261" stroke-width="3" '
    'fill="none"/></svg>'
)

router = APIRouter(include_in_schema=False)


@router.get("/favicon.ico", name="favicon")
def favicon() -> Response:
    """Return the site icon (no key needed)."""
    return Response(FAVICON_SVG, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


@router.get("/", name="index", response_class=HTMLResponse)
def index(request: Request, ctx: ContextDep, principal: OptionalPrincipalDep) -> Response:
    """Show the main page to a logged-in user, else the login form."""
    if principal is None:
        return login_page(request)
    layout = build_layout(ctx, principal, "index")
    try:
        page = build_dashboard(ctx, principal)
        tension = tension_tile(ctx, principal)
        rating = (
            own_rating(ctx.store, ctx.profile, principal.recipient_id, ctx.now())
            if principal.recipient_id is not None
            else None
        )
    except StoreUnavailable:
        return message_page(
            request, "Хранилище недоступно", "Данные временно недоступны, обновите страницу позже.", 503
        )
    return render(
        request,
        "main.html",
        {"page": page, "layout": layout, "refresh_s": REFRESH_S, "tension": tension, "rating": rating},
    )


@router.post("/login", name="login", response_class=HTMLResponse)
async def login(request: Request, ctx: ContextDep) -> Response:
    """Check the key from the form, set the HttpOnly, SameSite=Strict cookie and go where the user was."""
    try:
        form = await read_form(request)
    except FormError:
        return login_page(request, "Неверный ключ доступа.", status.HTTP_401_UNAUTHORIZED)
    key = form.get("key", "").strip()
    if ctx.keys.authenticate(key) is None:
        return login_page(request, "Неверный ключ доступа.", status.HTTP_401_UNAUTHORIZED)
    response = see_other(safe_next(form.get("next")))
    response.set_cookie(
        API_KEY_COOKIE,
        key,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", name="logout")
def logout() -> Response:
    """Forget the login cookie and return to the login form."""
    response = see_other("/")
    response.delete_cookie(API_KEY_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post("/ui/alerts/{alert_id}/ack", name="ui_ack_alert")
async def ui_ack_alert(
    alert_id: str, request: Request, ctx: ContextDep, principal: OptionalPrincipalDep
) -> Response:
    """Acknowledge an alert from the «Принято» button and return to the page it was pressed on."""
    if principal is None:
        return login_page(request, "Войдите, чтобы принять уведомление.", status.HTTP_401_UNAUTHORIZED)
    layout = build_layout(ctx, principal, "alerts")
    if not principal.can(Permission.alerts_ack):
        return message_page(request, "Нет прав", "Ваша роль не может принимать уведомления.", 403, layout)
    try:
        form = await read_form(request)
        ctx.store.acknowledge_alert(alert_id, by=principal.actor, at=ctx.now())
    except FormError as exc:
        return message_page(request, "Неверный запрос", str(exc), 422, layout)
    except NotFound:
        return message_page(request, "Не найдено", "Такого уведомления нет.", 404, layout)
    return see_other(safe_next(form.get("next")))


router.include_router(incidents_web.router)
router.include_router(analyst_web.router)
router.include_router(info_web.router)
router.include_router(reports_web.router)
