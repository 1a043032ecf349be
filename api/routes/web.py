"""The built-in Russian web UI: login form, main page, alert acknowledgement, logout."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import jinja2
from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.auth import API_KEY_COOKIE, Permission
from api.dashboard import build_dashboard
from api.deps import ContextDep, OptionalPrincipalDep
from index.store import NotFound, StoreUnavailable

#: Folder with the Jinja2 templates.
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "web" / "templates"
#: Folder served under /static.
STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
#: How often the main page reloads itself.
REFRESH_S = 10
#: Largest login form body read.
_MAX_FORM_BYTES = 4096

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
)

router = APIRouter(include_in_schema=False)


def _see_main() -> RedirectResponse:
    """Return a redirect to the main page after a form post."""
    return RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)


def _message(request: Request, heading: str, message: str, code: int) -> HTMLResponse:
    """Return a small Russian message page."""
    return templates.TemplateResponse(
        request, "message.html", {"heading": heading, "message": message}, status_code=code
    )


def _login_page(request: Request, error: str | None = None, code: int = 200) -> HTMLResponse:
    """Return the login form, with an error when given."""
    response = templates.TemplateResponse(request, "login.html", {"error": error}, status_code=code)
    if request.cookies.get(API_KEY_COOKIE):
        response.delete_cookie(API_KEY_COOKIE, path="/")
    return response


@router.get("/", name="index", response_class=HTMLResponse)
def index(request: Request, ctx: ContextDep, principal: OptionalPrincipalDep) -> Response:
    """Show the main page to a logged-in user, else the login form."""
    if principal is None:
        return _login_page(request)
    try:
        page = build_dashboard(ctx, principal)
    except StoreUnavailable:
        return _message(
            request, "Хранилище недоступно", "Данные временно недоступны, страница обновится сама.", 503
        )
    return templates.TemplateResponse(request, "main.html", {"page": page, "refresh_s": REFRESH_S})


@router.post("/login", name="login", response_class=HTMLResponse)
async def login(request: Request, ctx: ContextDep) -> Response:
    """Check the key from the form and set the HttpOnly, SameSite=Strict cookie."""
    body = (await request.body())[:_MAX_FORM_BYTES].decode("utf-8", errors="replace")
    key = (parse_qs(body).get("key") or [""])[0].strip()
    if ctx.keys.authenticate(key) is None:
        return _login_page(request, "Неверный ключ доступа.", status.HTTP_401_UNAUTHORIZED)
    response = _see_main()
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
    response = _see_main()
    response.delete_cookie(API_KEY_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post("/ui/alerts/{alert_id}/ack", name="ui_ack_alert")
def ui_ack_alert(
    alert_id: str, request: Request, ctx: ContextDep, principal: OptionalPrincipalDep
) -> Response:
    """Acknowledge an alert from the «Принято» button and return to the main page."""
    if principal is None:
        return _login_page(request, "Войдите, чтобы принять уведомление.", status.HTTP_401_UNAUTHORIZED)
    if not principal.can(Permission.alerts_ack):
        return _message(request, "Нет прав", "Ваша роль не может принимать уведомления.", 403)
    try:
        ctx.store.acknowledge_alert(alert_id, by=principal.actor, at=ctx.now())
    except NotFound:
        return _message(request, "Не найдено", "Такого уведомления нет.", 404)
    return _see_main()
