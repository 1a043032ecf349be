"""Liveness and readiness: is the store reachable."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import StoreDep
from api.schemas import ErrorPublic, HealthPublic
from index.store import PostQuery

router = APIRouter(tags=["служебное"])


@router.get(
    "/healthz",
    response_model=HealthPublic,
    summary="Проверка работоспособности",
    description="Без ключа. 200, если хранилище отвечает; 503 с пояснением, если нет.",
    responses={503: {"model": ErrorPublic, "description": "Хранилище недоступно"}},
)
def healthz(store: StoreDep) -> HealthPublic:
    """Run a cheap store query and report ok (StoreUnavailable becomes 503 in the app handler)."""
    store.count_posts(PostQuery(limit=1))
    return HealthPublic(status="ok")
