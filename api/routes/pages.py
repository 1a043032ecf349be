"""Official pages (госпаблики): health against the norms and requirements, unanswered citizen comments."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.auth import Permission
from api.deps import IndicatorsReader, NowDep, ProfileDep, StoreDep
from api.periods import resolve_period
from api.schemas import ErrorPublic
from risk.pages import PageHealth, PagesReport, pages_health
from risk.personal import author_label, mask_text

router = APIRouter(prefix="/pages", tags=["госпаблики"])

#: Default period of the pages' health.
DEFAULT_PERIOD = timedelta(days=7)
_NOT_FOUND = "официальная страница не найдена"


def _pseudonymise(report: PagesReport, reveal: bool) -> PagesReport:
    """Return the report with commenters' names and contacts hidden unless `reveal`."""
    if reveal:
        return report
    for comment in report.unanswered:
        comment.author = author_label(None, comment.author, reveal=False)
        comment.text = mask_text(comment.text)
    return report


@router.get(
    "",
    response_model=PagesReport,
    summary="Состояние официальных страниц",
    description="Для каждой официальной страницы профиля: публикации в неделю против нормы категории, "
    "просмотры, вовлечённость, комментарии жителей и доля отвеченных с медианой времени ответа (рабочие "
    "часы), негатив и агрессия в комментариях, прирост подписчиков, формальные требования (выполнено / не "
    "выполнено / неизвестно) и что исправить; список неотвеченных вопросов и жалоб, старые сначала. "
    "По умолчанию — последние 7 дней. Имена жителей скрыты для ролей без доступа к персональным данным.",
)
def list_pages(
    store: StoreDep,
    profile: ProfileDep,
    now: NowDep,
    principal: IndicatorsReader,
    since: Annotated[datetime | None, Query(description="Начало периода (включительно)")] = None,
    until: Annotated[datetime | None, Query(description="Конец периода (не включительно)")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Сколько неотвеченных показать")] = 100,
) -> PagesReport:
    """Return every page's health and the unanswered comments."""
    start, end = resolve_period(since, until, now, DEFAULT_PERIOD)
    report = pages_health(store, profile, start, end, now, unanswered_limit=limit)
    return _pseudonymise(report, principal.can(Permission.personal_read))


@router.get(
    "/{page_id}",
    response_model=PageHealth,
    summary="Состояние одной страницы",
    description="Показатели и требования одной официальной страницы за период (по умолчанию 7 дней).",
    responses={404: {"model": ErrorPublic, "description": "Нет такой страницы"}},
)
def get_page(
    page_id: str,
    store: StoreDep,
    profile: ProfileDep,
    now: NowDep,
    _: IndicatorsReader,
    since: Annotated[datetime | None, Query(description="Начало периода (включительно)")] = None,
    until: Annotated[datetime | None, Query(description="Конец периода (не включительно)")] = None,
) -> PageHealth:
    """Return one page's health."""
    start, end = resolve_period(since, until, now, DEFAULT_PERIOD)
    report = pages_health(store, profile, start, end, now, page_id=page_id, unanswered_limit=0)
    if not report.pages:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=_NOT_FOUND)
    return report.pages[0]
