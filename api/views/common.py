"""Shared plumbing of the web UI: templates, the page layout and menu per role, forms, periods, errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import jinja2
from fastapi import Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from api.auth import API_KEY_COOKIE, Permission, Principal
from api.deps import AppContext
from risk.personal import author_label, mask_text

#: Folder with the Jinja2 templates.
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "web" / "templates"
#: Largest form body accepted (bytes): a 4,000-character Cyrillic text url-encoded is about 24 KB.
MAX_FORM_BYTES = 65_536
#: Longest free text accepted from a form (characters).
MAX_TEXT_CHARS = 2_000
#: Longest period a page accepts (days).
MAX_PERIOD_DAYS = 366

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
)


class FormError(ValueError):
    """A form or query value the page cannot use (message in Russian, shown to the user)."""


def local_time(value: datetime | None, tz: tzinfo) -> str:
    """Return `value` as «дд.мм.гггг чч:мм» in `tz`, or a dash when absent."""
    if value is None:
        return "—"
    return value.astimezone(tz).strftime("%d.%m.%Y %H:%M")


@dataclass(frozen=True)
class NavItem:
    """One entry of the top menu."""

    key: str
    href: str
    label: str


@dataclass
class Layout:
    """What every page's frame shows: the clock, the role and the menu for that role."""

    now: str
    timezone: str
    role: str
    nav: list[NavItem] = field(default_factory=list)
    active: str = ""


def may_see_pages(principal: Principal) -> bool:
    """Return whether the caller sees the official pages' health and the content plan."""
    return principal.recipient_id is None and principal.can(Permission.indicators_read)


def may_order_reports(principal: Principal) -> bool:
    """Return whether the caller orders справки (staff with indicators, as the /reports routes allow)."""
    return principal.recipient_id is None and principal.can(Permission.indicators_read)


def reveals_personal(principal: Principal) -> bool:
    """Return whether the caller sees citizens' names and contacts (otherwise they are pseudonymised)."""
    return principal.can(Permission.personal_read)


def nav_for(principal: Principal) -> list[NavItem]:
    """Return the menu of what `principal` may open."""
    staff = principal.recipient_id is None
    items = [NavItem("index", "/", "Обстановка")]
    if principal.can(Permission.incidents_read):
        items.append(NavItem("incidents", "/ui/incidents", "Инциденты"))
    if principal.can(Permission.alerts_read):
        items.append(NavItem("alerts", "/ui/alerts", "Уведомления"))
        items.append(NavItem("spikes", "/ui/spikes", "Всплески"))
    if staff and principal.can(Permission.posts_read):
        items.append(NavItem("search", "/ui/search", "Поиск"))
    if staff and principal.can(Permission.indicators_read):
        items.append(NavItem("indicators", "/ui/indicators", "Показатели"))
        items.append(NavItem("map", "/ui/map", "Карта"))
    if may_see_pages(principal):
        items.append(NavItem("pages", "/ui/pages", "Госпаблики"))
    if may_see_pages(principal):
        items.append(NavItem("plan", "/ui/content-plan", "Контент-план"))
    if may_order_reports(principal):
        items.append(NavItem("reports", "/ui/reports", "Справки"))
    return items


def build_layout(ctx: AppContext, principal: Principal, active: str) -> Layout:
    """Return the page frame for `principal` with `active` highlighted in the menu."""
    return Layout(
        now=local_time(ctx.now(), ctx.timezone),
        timezone=str(ctx.timezone),
        role=principal.title,
        nav=nav_for(principal),
        active=active,
    )


def render(
    request: Request, template: str, context: Mapping[str, Any], status_code: int = 200
) -> HTMLResponse:
    """Render a template with `context`."""
    return templates.TemplateResponse(request, template, dict(context), status_code=status_code)


def message_page(
    request: Request,
    heading: str,
    message: str,
    code: int,
    layout: Layout | None = None,
    back: str | None = None,
) -> HTMLResponse:
    """Return a small Russian message page with a link back (to the main page by default)."""
    return render(
        request,
        "message.html",
        {"heading": heading, "message": message, "layout": layout, "back": safe_next(back)},
        code,
    )


def safe_next(value: str | None) -> str:
    """Return `value` if it is a path of this site, else "/" (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ch in value for ch in "\r\n\t"):
        return "/"
    return value


def login_page(request: Request, error: str | None = None, code: int = 200) -> HTMLResponse:
    """Return the login form (with an error when given) that comes back to this page after login."""
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    next_path = safe_next(path) if request.method == "GET" else "/"
    response = render(request, "login.html", {"error": error, "next": next_path}, code)
    if request.cookies.get(API_KEY_COOKIE):
        response.delete_cookie(API_KEY_COOKIE, path="/")
    return response


def see_other(path: str) -> RedirectResponse:
    """Return a 303 redirect to a path of this site (after a form post)."""
    return RedirectResponse(safe_next(path), status_code=status.HTTP_303_SEE_OTHER)


def denied_page(request: Request, layout: Layout, what: str) -> HTMLResponse:
    """Return the 403 page: this role may not do `what`."""
    return message_page(request, "Нет прав", f"Ваша роль не может {what}.", 403, layout)


def url_with(path: str, params: Mapping[str, str | int | None]) -> str:
    """Return `path` with the non-empty `params` as its query string."""
    kept = {k: str(v) for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


async def read_form(request: Request) -> dict[str, str]:
    """Return the url-encoded form fields (first value of each).

    Raises FormError when the body is longer than MAX_FORM_BYTES (nothing is cut silently).
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise FormError("форма слишком большая — сократите текст")
        chunks.append(chunk)
    body = b"".join(chunks).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def form_text(value: str | None, limit: int = MAX_TEXT_CHARS) -> str:
    """Return stripped free text; raise FormError when it is longer than `limit` characters."""
    text = (value or "").strip()
    if len(text) > limit:
        raise FormError(f"текст длиннее {limit} символов — сократите его")
    return text


def form_int(value: str | None, name: str, default: int | None = None, minimum: int = 0) -> int:
    """Return an integer field; raise FormError when it is missing (without default) or not a number."""
    if value is None or not value.strip():
        if default is None:
            raise FormError(f"не заполнено поле «{name}»")
        return default
    try:
        number = int(value.strip())
    except ValueError as exc:
        raise FormError(f"поле «{name}» должно быть целым числом") from exc
    if number < minimum:
        raise FormError(f"поле «{name}» не может быть меньше {minimum}")
    return number


def parse_day(value: str | None, name: str) -> date | None:
    """Return a date from «гггг-мм-дд» (an <input type=date>) or «дд.мм.гггг»; None when empty."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise FormError(f"поле «{name}»: дата должна быть в виде дд.мм.гггг")


@dataclass(frozen=True)
class Period:
    """A period of whole local days: [since, until) in UTC, and the dates as the form shows them."""

    since: datetime
    until: datetime
    first_day: date
    last_day: date

    @property
    def days(self) -> int:
        """Return the number of local days."""
        return (self.last_day - self.first_day).days + 1

    @property
    def label(self) -> str:
        """Return «01.11.2026 — 07.11.2026»."""
        return f"{self.first_day:%d.%m.%Y} — {self.last_day:%d.%m.%Y}"


def day_start(day: date, tz: tzinfo) -> datetime:
    """Return local midnight of `day` as an aware datetime in `tz`."""
    return datetime.combine(day, time.min, tzinfo=tz)


def parse_period(params: Mapping[str, str], now: datetime, tz: tzinfo, default_days: int = 7) -> Period:
    """Return the period of the `since`/`until` dates (inclusive local days), by default the last days.

    Raises FormError when a date is malformed, the start is after the end or the period is too long.
    """
    today = now.astimezone(tz).date()
    last = parse_day(params.get("until"), "по") or today
    first = parse_day(params.get("since"), "с") or last - timedelta(days=default_days - 1)
    if first > last:
        raise FormError("начало периода позже его конца")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise FormError(f"период длиннее {MAX_PERIOD_DAYS} дней — сократите его")
    return Period(
        since=day_start(first, tz),
        until=day_start(last + timedelta(days=1), tz),
        first_day=first,
        last_day=last,
    )


def pct(share: float | None, digits: int = 1) -> str:
    """Return a share 0..1 as Russian percent text («12,5 %»), or a dash when unknown."""
    if share is None:
        return "—"
    return f"{share * 100:.{digits}f}".replace(".", ",") + " %"


def signed(value: float | None, unit: str, digits: int = 1) -> str:
    """Return a signed change with its unit («+5,0 п.п.», «−12 %»), or an empty string when unknown."""
    if value is None:
        return ""
    text = f"{abs(value):.{digits}f}".replace(".", ",")
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{text} {unit}"


def gate(
    request: Request,
    ctx: AppContext,
    principal: Principal | None,
    active: str,
    what: str,
    allowed: Callable[[Principal], bool],
) -> tuple[Layout, Principal] | HTMLResponse:
    """Return the page layout and the caller, or the login page (401) / the 403 page for `what`."""
    if principal is None:
        return login_page(request, "Войдите, чтобы открыть эту страницу.", status.HTTP_401_UNAUTHORIZED)
    layout = build_layout(ctx, principal, active)
    if not allowed(principal):
        return denied_page(request, layout, what)
    return layout, principal


def staff_with(permission: Permission) -> Callable[[Principal], bool]:
    """Return a check: the caller holds `permission` and is not a recipient."""
    return lambda p: p.recipient_id is None and p.can(permission)


def holder_of(permission: Permission) -> Callable[[Principal], bool]:
    """Return a check: the caller holds `permission`."""
    return lambda p: p.can(permission)


def shown_author(author_id: str | None, author_name: str | None, reveal: bool, official: bool = False) -> str:
    """Return the author as this caller may see it: the name, or «житель #abcd12» without personal access."""
    return author_label(author_id, author_name, reveal=reveal, official=official)


def shown_text(text: str, reveal: bool) -> str:
    """Return a citizen's text, with phones, e-mails and profile links masked without personal access."""
    return text if reveal else mask_text(text)
