"""Health of collection: every source's last run, items per run, errors, lag and silence."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.auth import Permission, Principal
from api.deps import ContextDep, NowDep, StoreDep, require
from crawlers.catalog import source_statuses
from crawlers.health import health_of
from index.models import SourceState

router = APIRouter(prefix="/sources", tags=["источники"])

SourcesReader = Annotated[Principal, Depends(require(Permission.sources_read))]


class SourcePublic(BaseModel):
    """The health of one source as the analyst sees it."""

    name: str = Field(description="Имя источника: vk, ok, tg, web…")
    title: str = Field(description="Название по-русски")
    enabled: bool = Field(description="Настроен ли источник (есть ключи и цели)")
    disabled_reason: str | None = Field(None, description="Почему источник отключён")
    status: str = Field(description="ok, silent, paused, failing, never или disabled")
    status_text: str = Field(description="Состояние по-русски")
    last_run_at: datetime | None = None
    last_success_at: datetime | None = Field(None, description="Последний успешный проход")
    items_last_run: int = Field(0, description="Сообщений за последний проход")
    run_items: list[int] = Field(default_factory=list, description="Сообщений за последние проходы")
    items_total: int = 0
    errors: dict[str, int] = Field(default_factory=dict, description="Ошибки по видам (vk/15, vk/6…)")
    newest_item_at: datetime | None = Field(None, description="Время публикации самого нового сообщения")
    lag_s: int | None = Field(None, description="Отставание: сейчас минус время самого нового сообщения, с")
    usual_gap_s: int | None = Field(None, description="Обычный промежуток между сообщениями, с")
    silence_threshold_s: int | None = Field(None, description="Затишье, после которого источник молчит, с")
    paused_until: datetime | None = None
    last_error: str | None = None


@router.get(
    "",
    response_model=list[SourcePublic],
    summary="Состояние сбора",
    description=(
        "По каждому источнику: последний успешный проход, сообщений за проход, ошибки по видам, "
        "отставание и признак молчания. Роли: администратор, аналитик, руководитель."
    ),
)
def list_sources(ctx: ContextDep, store: StoreDep, now: NowDep, _: SourcesReader) -> list[SourcePublic]:
    """Return the health of every known source, configured or not."""
    states = {s.name: s for s in store.list_source_states()}
    statuses = source_statuses(ctx.settings, ctx.profile)
    cfg = ctx.settings.collect
    out: list[SourcePublic] = []
    for name in sorted(set(states) | set(statuses)):
        reason = statuses.get(name)  # None: configured (or a source of another kind, e.g. the demo)
        state = states.get(name) or SourceState(name=name)
        health = health_of(state, now, cfg.silence_factor, cfg.silence_min_hours)
        public = SourcePublic(**dataclasses.asdict(health), enabled=reason is None, disabled_reason=reason)
        if reason is not None:
            public.status, public.status_text = "disabled", reason
        out.append(public)
    return out
