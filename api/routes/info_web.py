"""Web pages of the information lead: the official pages' health and the content plan with its decisions."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response

from api.auth import Permission
from api.deps import ContextDep, OptionalPrincipalDep
from api.views.common import (
    FormError,
    build_layout,
    denied_page,
    gate,
    login_page,
    may_see_pages,
    message_page,
    read_form,
    render,
    reveals_personal,
    see_other,
    url_with,
)
from api.views.pages import pages_view
from api.views.plan import DONE_MESSAGES, parse_decision, plan_view
from risk.content_plan import PlanError, build_plan, decide

router = APIRouter(include_in_schema=False)


@router.get("/ui/pages", name="ui_pages", response_class=HTMLResponse)
def pages(request: Request, ctx: ContextDep, principal: OptionalPrincipalDep) -> Response:
    """Show every official page's health against its norm and requirements, and the unanswered comments."""
    checked = gate(request, ctx, principal, "pages", "смотреть госпаблики", may_see_pages)
    if isinstance(checked, Response):
        return checked
    layout, who = checked
    try:
        view = pages_view(
            ctx.store, ctx.profile, request.query_params, ctx.now(), ctx.timezone, reveals_personal(who)
        )
    except FormError as exc:
        return message_page(request, "Неверный запрос", str(exc), 422, layout, "/ui/pages")
    return render(request, "pages.html", {"layout": layout, "view": view})


@router.get("/ui/content-plan", name="ui_content_plan", response_class=HTMLResponse)
def content_plan(request: Request, ctx: ContextDep, principal: OptionalPrincipalDep) -> Response:
    """Show the week's content plan: slots per page and day with topics, reasons, evidence and key points."""
    checked = gate(request, ctx, principal, "plan", "смотреть контент-план", may_see_pages)
    if isinstance(checked, Response):
        return checked
    layout, who = checked
    try:
        view = plan_view(
            ctx.store, ctx.profile, request.query_params, ctx.now(), ctx.timezone, reveals_personal(who)
        )
    except FormError as exc:
        return message_page(request, "Неверный запрос", str(exc), 422, layout, "/ui/content-plan")
    done = DONE_MESSAGES.get(request.query_params.get("done", ""))
    can_edit = who.can(Permission.content_plan_write)
    return render(
        request, "content_plan.html", {"layout": layout, "plan": view, "done": done, "can_edit": can_edit}
    )


@router.post("/ui/content-plan/slots/{slot_id}", name="ui_plan_decide")
async def decide_slot(
    slot_id: str, request: Request, ctx: ContextDep, principal: OptionalPrincipalDep
) -> Response:
    """Accept, move or drop a slot (the plan remembers) and return to the plan of that week."""
    if principal is None:
        return login_page(request, "Войдите, чтобы менять контент-план.", status.HTTP_401_UNAUTHORIZED)
    layout = build_layout(ctx, principal, "plan")
    if principal.recipient_id is not None or not principal.can(Permission.content_plan_write):
        return denied_page(request, layout, "менять контент-план")
    back = "/ui/content-plan"
    try:
        form = await read_form(request)
        back = url_with("/ui/content-plan", {"week": form.get("week")})
        decision = parse_decision(form, ctx.timezone)
        plan = build_plan(ctx.store, ctx.profile, ctx.now(), decision.week)
        decide(
            ctx.store,
            ctx.profile,
            plan,
            slot_id,
            decision.action,
            by=principal.actor,
            moved_to=decision.moved_to,
            suggestion_id=decision.suggestion_id,
            comment=decision.comment,
            at=ctx.now(),
        )
    except (FormError, PlanError) as exc:
        return message_page(request, "Решение не сохранено", str(exc), 422, layout, back)
    week = decision.week.isoformat()
    return see_other(
        url_with("/ui/content-plan", {"week": week, "done": decision.action.value}) + f"#s-{slot_id}"
    )
