"""Request and response models of the API (Base/Public families)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from index.models import (
    AlertKind,
    AuditEntry,
    IncidentStatus,
    Kind,
    Metrics,
    Outcome,
    Place,
    Priority,
    Tone,
)

#: Largest page a list endpoint returns.
MAX_LIMIT = 200
#: Page size when none is asked for.
DEFAULT_LIMIT = 50

T = TypeVar("T")


class _FromModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PagePublic(BaseModel, Generic[T]):
    """One page of a list with the total number of matches."""

    items: list[T]
    total: int = Field(description="Сколько всего найдено")
    limit: int
    offset: int


class HealthPublic(BaseModel):
    """Health check answer."""

    status: str


class ErrorPublic(BaseModel):
    """An error answer with a Russian message."""

    detail: str


# Posts


class PostBase(_FromModel):
    """What the API shows of a post (the raw source JSON is left out)."""

    source: str
    source_id: str
    url: str | None = None
    author_id: str | None = None
    author_name: str | None = None
    published_at: datetime
    collected_at: datetime
    text: str = ""
    parent_id: str | None = None
    thread_id: str | None = None
    page_id: str | None = None
    is_official: bool = False
    metrics: Metrics = Field(default_factory=Metrics)
    sector: str | None = None
    topic: str | None = None
    sector_confidence: float = 0.0
    kind: Kind | None = None
    tone: Tone | None = None
    tone_score: float = 0.0
    aggression: float = 0.0
    aggression_markers: list[str] = Field(default_factory=list)
    places: list[Place] = Field(default_factory=list)
    territory: str | None = None
    duplicate_of: str | None = None
    story_id: str | None = None
    needs_review: bool = False


class PostPublic(PostBase):
    """A post as the API returns it."""

    id: str


# Incidents


class IncidentBase(_FromModel):
    """What the API shows of an incident in lists."""

    title: str
    sector: str | None = None
    topic: str | None = None
    territory: str | None = None
    place: str | None = None
    recipient: str | None = None
    priority: Priority = Priority.normal
    status: IncidentStatus = IncidentStatus.new
    outcome: Outcome | None = None
    post_ids: list[str] = Field(default_factory=list)
    created_at: datetime
    first_answer_due: datetime | None = None
    final_answer_due: datetime | None = None
    first_answered_at: datetime | None = None
    final_answered_at: datetime | None = None
    closed_at: datetime | None = None
    escalation_level: int = 0
    version: int = 0
    updated_at: datetime


class IncidentPublic(IncidentBase):
    """An incident in a list, with whether it is overdue now."""

    id: str
    recipient_name: str | None = Field(default=None, description="Название исполнителя из профиля")
    overdue: bool = Field(default=False, description="Открыт и срок ответа истёк")


class IncidentDetail(IncidentPublic):
    """One incident with its audit trail and every attached post."""

    audit: list[AuditEntry] = Field(default_factory=list)
    posts: list[PostPublic] = Field(default_factory=list)


class TransitionIn(BaseModel):
    """Move an incident to another status."""

    to: IncidentStatus = Field(description="Новый статус")
    outcome: Outcome | None = Field(default=None, description="Итог (для закрытия)")
    comment: str = Field(default="", max_length=4000, description="Комментарий в журнал")
    version: int | None = Field(default=None, description="Версия инцидента, которую видел пользователь")


class AssignIn(BaseModel):
    """Give an incident to a recipient."""

    recipient: str = Field(min_length=1, max_length=200, description="id исполнителя из профиля")
    version: int | None = Field(default=None, description="Версия инцидента, которую видел пользователь")


# Alerts


class AlertBase(_FromModel):
    """What the API shows of an alert."""

    kind: AlertKind
    severity: int
    title: str
    text: str = ""
    created_at: datetime
    event_at: datetime | None = None
    sector: str | None = None
    territory: str | None = None
    source: str | None = None
    thread_id: str | None = None
    incident_id: str | None = None
    post_ids: list[str] = Field(default_factory=list)
    details: dict[str, object] = Field(default_factory=dict)
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None


class AlertPublic(AlertBase):
    """An alert as the API returns it."""

    id: str


# Indicators


class CountItem(BaseModel):
    """A number of messages for one value of a slice (None: not determined)."""

    key: str | None
    count: int


class DayCount(BaseModel):
    """A number of messages on one local day."""

    day: date
    count: int


class VolumeIndicators(BaseModel):
    """Message volume in the period and its change against the previous period of equal length."""

    total: int
    previous_total: int
    change: int
    change_pct: float | None = Field(description="Изменение в процентах; нет, если раньше было 0")
    by_sector: list[CountItem]
    by_territory: list[CountItem]
    by_day: list[DayCount]


class IncidentIndicators(BaseModel):
    """Incidents opened in the period and how they were answered."""

    opened: int
    answered: int = Field(description="Получили первый ответ")
    answered_on_time: int = Field(description="Первый ответ не позже срока")
    overdue: int = Field(description="Открыты, и срок ответа уже истёк")
    open: int = Field(description="Ещё открыты")
    share_answered_on_time: float | None = Field(description="Доля открытых за период, отвеченных в срок")


class IndicatorsPublic(BaseModel):
    """Monitoring indicators for a period [since, until)."""

    since: datetime
    until: datetime
    previous_since: datetime
    now: datetime
    timezone: str
    volume: VolumeIndicators
    incidents: IncidentIndicators
