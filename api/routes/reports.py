"""Справки on request and the weekly analytic note: JSON for the UI, DOCX / Markdown / PDF files."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Response, status

from api.auth import Permission, Principal
from api.deps import IndicatorsReader, NowDep, ProfileDep, StoreDep
from api.periods import resolve_period
from api.report_files import MEDIA_TYPES, PdfUnavailable, render_report
from api.schemas import ErrorPublic
from index.models import as_utc
from index.profile import Profile
from index.store import Store
from risk.indicators import Slice
from risk.reports import Report, ReportKind, build_report, last_week

router = APIRouter(prefix="/reports", tags=["справки"])

#: Default period of a справка.
DEFAULT_PERIOD = timedelta(days=7)
_TEXT = {"max_length": 200}
FileFormat = Literal["docx", "md", "pdf"]
_FILE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {MEDIA_TYPES[f]: {} for f in ("docx", "md", "pdf")}, "description": "Документ"},
    406: {"model": ErrorPublic, "description": "PDF недоступен: LibreOffice не установлен"},
}


def _reveal(principal: Principal) -> bool:
    return principal.can(Permission.personal_read)


def _weekly_period(
    since: datetime | None, until: datetime | None, now: datetime, profile: Profile
) -> tuple[datetime, datetime]:
    if since is None and until is None:
        return last_week(now, ZoneInfo(profile.timezone))
    return resolve_period(since, until, now, timedelta(days=7))


def _file(report: Report, fmt: FileFormat) -> Response:
    try:
        rendered = render_report(report, fmt)
    except PdfUnavailable as exc:
        raise HTTPException(status.HTTP_406_NOT_ACCEPTABLE, detail=str(exc)) from exc
    return Response(
        content=rendered.content,
        media_type=rendered.media_type,
        headers={"Content-Disposition": f'attachment; filename="{rendered.filename}"'},
    )


def _reference(
    store: Store,
    profile: Profile,
    now: datetime,
    principal: Principal,
    since: datetime | None,
    until: datetime | None,
    sl: Slice,
) -> Report:
    start, end = resolve_period(since, until, now, DEFAULT_PERIOD)
    return build_report(store, profile, "reference", start, end, now, sl, reveal_personal=_reveal(principal))


def _weekly(
    store: Store,
    profile: Profile,
    now: datetime,
    principal: Principal,
    since: datetime | None,
    until: datetime | None,
) -> Report:
    start, end = _weekly_period(since, until, now, profile)
    kind: ReportKind = "weekly"
    return build_report(
        store, profile, kind, as_utc(start), as_utc(end), now, reveal_personal=_reveal(principal)
    )


_REFERENCE_DESCRIPTION = (
    "Справка по теме или сектору, территории и периоду (по умолчанию — последние 7 дней): ключевые числа с "
    "изменением, каналы, основные темы с примерами, территории, тональность, резонансные публикации, "
    "инциденты и сроки, работа исполнителей, риски и рекомендации. Числа совпадают с /indicators за тот же "
    "период и срез. Имена жителей скрыты для ролей без доступа к персональным данным."
)


@router.get(
    "/reference", response_model=Report, summary="Справка (данные)", description=_REFERENCE_DESCRIPTION
)
def reference(
    store: StoreDep,
    profile: ProfileDep,
    now: NowDep,
    principal: IndicatorsReader,
    since: Annotated[datetime | None, Query(description="Начало периода (включительно)")] = None,
    until: Annotated[datetime | None, Query(description="Конец периода (не включительно)")] = None,
    sector: Annotated[str | None, Query(description="Сектор", **_TEXT)] = None,
    topic: Annotated[str | None, Query(description="Тема", **_TEXT)] = None,
    territory: Annotated[str | None, Query(description="id территории (с вложенными)", **_TEXT)] = None,
    source: Annotated[str | None, Query(description="Источник", **_TEXT)] = None,
) -> Report:
    """Return a справка's content."""
    sl = Slice(sector=sector, topic=topic, territory=territory, source=source)
    return _reference(store, profile, now, principal, since, until, sl)


@router.get(
    "/reference/file",
    summary="Справка (документ)",
    description=_REFERENCE_DESCRIPTION
    + " Формат: docx (с графиками), md или pdf (если установлен LibreOffice).",
    response_class=Response,
    responses=_FILE_RESPONSES,
)
def reference_file(
    store: StoreDep,
    profile: ProfileDep,
    now: NowDep,
    principal: IndicatorsReader,
    since: Annotated[datetime | None, Query(description="Начало периода (включительно)")] = None,
    until: Annotated[datetime | None, Query(description="Конец периода (не включительно)")] = None,
    sector: Annotated[str | None, Query(description="Сектор", **_TEXT)] = None,
    topic: Annotated[str | None, Query(description="Тема", **_TEXT)] = None,
    territory: Annotated[str | None, Query(description="id территории (с вложенными)", **_TEXT)] = None,
    source: Annotated[str | None, Query(description="Источник", **_TEXT)] = None,
    format: Annotated[FileFormat, Query(description="docx, md или pdf")] = "docx",
) -> Response:
    """Return a справка as a document."""
    sl = Slice(sector=sector, topic=topic, territory=territory, source=source)
    return _file(_reference(store, profile, now, principal, since, until, sl), format)


_WEEKLY_DESCRIPTION = (
    "Еженедельная аналитическая записка для руководителя: по умолчанию — последняя полная неделя "
    "(понедельник–воскресенье в часовом поясе профиля); всё, что в справке, плюс госпаблики."
)


@router.get(
    "/weekly", response_model=Report, summary="Еженедельная записка (данные)", description=_WEEKLY_DESCRIPTION
)
def weekly(
    store: StoreDep,
    profile: ProfileDep,
    now: NowDep,
    principal: IndicatorsReader,
    since: Annotated[datetime | None, Query(description="Начало периода (включительно)")] = None,
    until: Annotated[datetime | None, Query(description="Конец периода (не включительно)")] = None,
) -> Report:
    """Return the weekly note's content."""
    return _weekly(store, profile, now, principal, since, until)


@router.get(
    "/weekly/file",
    summary="Еженедельная записка (документ)",
    description=_WEEKLY_DESCRIPTION
    + " Формат: docx (с графиками), md или pdf (если установлен LibreOffice).",
    response_class=Response,
    responses=_FILE_RESPONSES,
)
def weekly_file(
    store: StoreDep,
    profile: ProfileDep,
    now: NowDep,
    principal: IndicatorsReader,
    since: Annotated[datetime | None, Query(description="Начало периода (включительно)")] = None,
    until: Annotated[datetime | None, Query(description="Конец периода (не включительно)")] = None,
    format: Annotated[FileFormat, Query(description="docx, md или pdf")] = "docx",
) -> Response:
    """Return the weekly note as a document."""
    return _file(_weekly(store, profile, now, principal, since, until), format)
