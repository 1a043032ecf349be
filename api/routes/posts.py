"""Posts: full-text search with filters, and one post by id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.auth import Permission
from api.deps import PostsReader, StoreDep
from api.periods import check_order
from api.presenters import post_public
from api.schemas import DEFAULT_LIMIT, MAX_LIMIT, ErrorPublic, PagePublic, PostPublic
from api.search import TOTAL_CAP, to_fulltext
from index.models import Kind, Tone, as_utc
from index.store import PostQuery

router = APIRouter(prefix="/posts", tags=["сообщения"])


@router.get(
    "",
    response_model=PagePublic[PostPublic],
    summary="Поиск сообщений",
    description="Полнотекстовый поиск по леммам и фильтры; новые сначала. "
    "Период: since ≤ published_at < until. Найденное по тексту считается точно до "
    f"{TOTAL_CAP} сообщений; если их больше, total = {TOTAL_CAP} и total_exact = false (нижняя граница).",
)
def list_posts(
    store: StoreDep,
    principal: PostsReader,
    q: Annotated[str | None, Query(max_length=500, description="Поисковый запрос")] = None,
    sector: Annotated[str | None, Query(description="Сектор (группа тем ЦУР)")] = None,
    territory: Annotated[str | None, Query(description="id территории из профиля")] = None,
    source: Annotated[str | None, Query(description="Источник: vk, tg, ok, web, im, pos, demo")] = None,
    kind: Annotated[Kind | None, Query(description="Тип сообщения")] = None,
    tone: Annotated[Tone | None, Query(description="Тональность")] = None,
    page_id: Annotated[str | None, Query(description="id госпаблика из профиля")] = None,
    thread_id: Annotated[str | None, Query(description="id корневого поста ветки")] = None,
    since: Annotated[datetime | None, Query(description="Начало периода (включительно)")] = None,
    until: Annotated[datetime | None, Query(description="Конец периода (не включительно)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Размер страницы")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, description="Сдвиг от начала")] = 0,
) -> PagePublic[PostPublic]:
    """Return one page of posts matching the filters."""
    check_order(since, until)
    text = to_fulltext(q)
    query = PostQuery(
        text=text,
        since=as_utc(since) if since else None,
        until=as_utc(until) if until else None,
        sector=sector,
        territory=territory,
        source=source,
        kind=kind.value if kind else None,
        tone=tone.value if tone else None,
        page_id=page_id,
        thread_id=thread_id,
        limit=limit,
        offset=offset,
        total_cap=TOTAL_CAP if text else None,
    )
    if q is not None and q.strip() and not text:
        return PagePublic[PostPublic](items=[], total=0, limit=limit, offset=offset)
    page = store.query_posts(query)
    return PagePublic[PostPublic](
        items=[post_public(p, principal.can(Permission.personal_read)) for p in page.items],
        total=page.total,
        total_exact=page.total_exact,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/{post_id}",
    response_model=PostPublic,
    summary="Сообщение по id",
    responses={404: {"model": ErrorPublic, "description": "Нет такого сообщения"}},
)
def get_post(post_id: str, store: StoreDep, principal: PostsReader) -> PostPublic:
    """Return one post."""
    post = store.get_post(post_id)
    if post is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="сообщение не найдено")
    return post_public(post, principal.can(Permission.personal_read))
