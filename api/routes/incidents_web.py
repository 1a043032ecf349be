"""Web pages of incidents: the list, one incident, and its forms (answer, close, reopen, assign, comment)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response

from api.auth import Permission, Principal
from api.deps import AppContext, ContextDep, OptionalPrincipalDep
from api.views.common import (
    FormError,
    Layout,
    build_layout,
    denied_page,
    form_int,
    login_page,
    message_page,
    read_form,
    render,
    see_other,
)
from api.views.incidents import (
    DONE_MESSAGES,
    MAX_COMMENT_CHARS,
    add_comment,
    done_code,
    incident_view,
    list_incidents,
    parse_filters,
    parse_move,
)
from index.models import Incident
from index.store import VersionConflict
from risk.incidents import InvalidTransition, assign, transition

router = APIRouter(include_in_schema=False)

#: Shown when someone else changed the incident between loading the page and sending the form.
CONFLICT_MESSAGE = "Инцидент уже изменил другой пользователь. Откройте его заново и повторите действие."


def _incident_or_page(
    request: Request, ctx: AppContext, principal: Principal, layout: Layout, incident_id: str
) -> Incident | HTMLResponse:
    """Return the incident, or the 404 / 403 page when it is absent or another recipient's."""
    incident = ctx.store.get_incident(incident_id)
    if incident is None:
        return message_page(request, "Не найдено", "Такого инцидента нет.", 404, layout, "/ui/incidents")
    if not principal.may_see_recipient(incident.recipient):
        return message_page(
            request, "Нет прав", "Инцидент назначен другому исполнителю.", 403, layout, "/ui/incidents"
        )
    return incident


@router.get("/ui/incidents", name="ui_incidents", response_class=HTMLResponse)
def incidents_page(request: Request, ctx: ContextDep, principal: OptionalPrincipalDep) -> Response:
    """List incidents with filters; a recipient sees only its own."""
    if principal is None:
        return login_page(request, "Войдите, чтобы открыть инциденты.", status.HTTP_401_UNAUTHORIZED)
    layout = build_layout(ctx, principal, "incidents")
    if not principal.can(Permission.incidents_read):
        return denied_page(request, layout, "просматривать инциденты")
    try:
        flt = parse_filters(request.query_params, principal)
    except FormError as exc:
        return message_page(request, "Неверный фильтр", str(exc), 422, layout, "/ui/incidents")
    page = list_incidents(ctx.store, ctx.profile, principal, flt, ctx.now(), ctx.timezone)
    return render(request, "incidents.html", {"layout": layout, "page": page})


@router.get("/ui/incidents/{incident_id}", name="ui_incident", response_class=HTMLResponse)
def incident_page(
    incident_id: str, request: Request, ctx: ContextDep, principal: OptionalPrincipalDep
) -> Response:
    """Show one incident: deadlines, messages, journal and the forms the role may use."""
    if principal is None:
        return login_page(request, "Войдите, чтобы открыть инцидент.", status.HTTP_401_UNAUTHORIZED)
    layout = build_layout(ctx, principal, "incidents")
    if not principal.can(Permission.incidents_read):
        return denied_page(request, layout, "просматривать инциденты")
    found = _incident_or_page(request, ctx, principal, layout, incident_id)
    if not isinstance(found, Incident):
        return found
    view = incident_view(ctx.store, ctx.profile, principal, found, ctx.now(), ctx.timezone)
    done = DONE_MESSAGES.get(request.query_params.get("done", ""))
    return render(
        request,
        "incident.html",
        {"layout": layout, "inc": view, "done": done, "max_comment": MAX_COMMENT_CHARS},
    )


async def _change(
    request: Request,
    ctx: AppContext,
    principal: Principal | None,
    incident_id: str,
    permission: Permission,
    what: str,
    change: Callable[[Incident, dict[str, str]], tuple[Incident, str]],
) -> Response:
    """Check rights and version, apply `change` (→ new incident, done code) and save; else an error page."""
    if principal is None:
        return login_page(request, "Войдите, чтобы изменить инцидент.", status.HTTP_401_UNAUTHORIZED)
    layout = build_layout(ctx, principal, "incidents")
    if not principal.can(permission):
        return denied_page(request, layout, what)
    found = _incident_or_page(request, ctx, principal, layout, incident_id)
    if not isinstance(found, Incident):
        return found
    back = f"/ui/incidents/{incident_id}"
    try:
        form = await read_form(request)
        seen = form_int(form.get("version"), "версия")
        if seen != found.version:
            return message_page(request, "Инцидент изменён", CONFLICT_MESSAGE, 409, layout, back)
        new, done = change(found, form)
        ctx.store.save_incident(new, expected_version=found.version)
    except (FormError, InvalidTransition) as exc:
        return message_page(request, "Действие не выполнено", str(exc), 422, layout, back)
    except VersionConflict:
        return message_page(request, "Инцидент изменён", CONFLICT_MESSAGE, 409, layout, back)
    return see_other(f"{back}?done={done}")


@router.post("/ui/incidents/{incident_id}/transition", name="ui_incident_transition")
async def incident_transition(
    incident_id: str, request: Request, ctx: ContextDep, principal: OptionalPrincipalDep
) -> Response:
    """Answer (interim or final), close with an outcome, or reopen the incident from its page."""
    actor = principal.actor if principal else ""

    def change(incident: Incident, form: dict[str, str]) -> tuple[Incident, str]:
        to, outcome, comment = parse_move(form)
        new = transition(
            incident, to, actor=actor, at=ctx.now(), profile=ctx.profile, outcome=outcome, comment=comment
        )
        return new, done_code(incident.status, to)

    return await _change(
        request,
        ctx,
        principal,
        incident_id,
        Permission.incidents_transition,
        "менять статус инцидента",
        change,
    )


@router.post("/ui/incidents/{incident_id}/assign", name="ui_incident_assign")
async def incident_assign(
    incident_id: str, request: Request, ctx: ContextDep, principal: OptionalPrincipalDep
) -> Response:
    """Give the incident to a recipient of the profile."""
    actor = principal.actor if principal else ""

    def change(incident: Incident, form: dict[str, str]) -> tuple[Incident, str]:
        recipient = (form.get("recipient") or "").strip()
        if not recipient:
            raise FormError("выберите исполнителя")
        return assign(incident, recipient, actor=actor, at=ctx.now(), profile=ctx.profile), "assign"

    return await _change(
        request, ctx, principal, incident_id, Permission.incidents_assign, "назначать исполнителей", change
    )


@router.post("/ui/incidents/{incident_id}/comment", name="ui_incident_comment")
async def incident_comment(
    incident_id: str, request: Request, ctx: ContextDep, principal: OptionalPrincipalDep
) -> Response:
    """Attach a comment to the incident's journal without changing its status."""
    actor = principal.actor if principal else ""

    def change(incident: Incident, form: dict[str, str]) -> tuple[Incident, str]:
        text = (form.get("text") or "").strip()
        if len(text) > MAX_COMMENT_CHARS:
            raise FormError(f"текст длиннее {MAX_COMMENT_CHARS} символов — сократите его")
        return add_comment(incident, text, actor=actor, at=ctx.now()), "comment"

    return await _change(
        request,
        ctx,
        principal,
        incident_id,
        Permission.incidents_transition,
        "комментировать инциденты",
        change,
    )
