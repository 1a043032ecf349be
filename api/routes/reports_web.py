"""Web page of the ЦУР (and staff): order a справка or the weekly note, preview it, download the document."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import ContextDep, OptionalPrincipalDep
from api.report_files import PdfUnavailable
from api.views.common import FormError, gate, may_order_reports, message_page, render, reveals_personal
from api.views.reports import build, parse_request, reports_view
from api.views.reports import render as render_file

router = APIRouter(include_in_schema=False)


@router.get("/ui/reports", name="ui_reports", response_class=HTMLResponse)
def reports(request: Request, ctx: ContextDep, principal: OptionalPrincipalDep) -> Response:
    """Show the order form of a справка or the weekly note, with a preview when asked."""
    checked = gate(request, ctx, principal, "reports", "заказывать справки", may_order_reports)
    if isinstance(checked, Response):
        return checked
    layout, who = checked
    try:
        view = reports_view(
            ctx.store,
            ctx.profile,
            request.query_params,
            ctx.now(),
            ctx.timezone,
            reveals_personal(who),
            request.url.query,
        )
    except FormError as exc:
        return message_page(request, "Неверный запрос", str(exc), 422, layout, "/ui/reports")
    return render(request, "reports.html", {"layout": layout, "view": view})


@router.get("/ui/reports/file", name="ui_report_file")
def report_file(request: Request, ctx: ContextDep, principal: OptionalPrincipalDep) -> Response:
    """Build the ordered document and send it as a download (or an error page in Russian)."""
    checked = gate(request, ctx, principal, "reports", "заказывать справки", may_order_reports)
    if isinstance(checked, Response):
        return checked
    layout, who = checked
    try:
        order = parse_request(request.query_params, ctx.now(), ctx.timezone)
        report = build(ctx.store, ctx.profile, order, ctx.now(), reveals_personal(who))
        rendered = render_file(report, order.fmt)
    except FormError as exc:
        return message_page(request, "Неверный запрос", str(exc), 422, layout, "/ui/reports")
    except PdfUnavailable as exc:
        return message_page(request, "PDF недоступен", str(exc), 406, layout, "/ui/reports")
    return Response(
        content=rendered.content,
        media_type=rendered.media_type,
        headers={"Content-Disposition": f'attachment; filename="{rendered.filename}"'},
    )
