"""Request and response models of the API (Base/Public families)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Generic, TypeVar
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from index.models import (
    AlertKind,
    AuditEntry,
    ChannelKind,
    CitizenReaction,
    DeliveryAttempt,
    DeliveryStatus,
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
    total_exact: bool = Field(
        default=True, description="false — найдено больше, чем total (total — нижняя граница)"
    )
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
    merged_into: str | None = Field(default=None, description="Объединён вручную с этим инцидентом")
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
    reactions: list[CitizenReaction] = Field(
        default_factory=list, description="Реакции жителей после ответа: доволен, недоволен, неясно"
    )


class SplitPublic(BaseModel):
    """The two incidents after a split."""

    rest: IncidentDetail = Field(description="Инцидент с оставшимися сообщениями")
    split: IncidentDetail = Field(description="Новый инцидент с выделенными сообщениями")


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


class MergeIn(BaseModel):
    """Move every message of this incident into another one."""

    into: str = Field(min_length=1, max_length=200, description="id инцидента, в который объединить")
    version: int | None = Field(
        default=None, description="Версия этого инцидента, которую видел пользователь"
    )
    into_version: int | None = Field(default=None, description="Версия целевого инцидента")


class SplitIn(BaseModel):
    """Move chosen messages of this incident into a new one."""

    post_ids: list[str] = Field(
        min_length=1, max_length=1000, description="id сообщений для нового инцидента"
    )
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


class NotifyChannelIn(BaseModel):
    """One address of a subscriber: a Telegram chat, an e-mail address or a webhook URL."""

    kind: ChannelKind = Field(description="telegram, email или webhook")
    address: str = Field(min_length=1, max_length=500, description="id чата, адрес почты или URL")
    secret: str | None = Field(
        default=None, max_length=200, description="Ключ подписи вебхука (не показывается обратно)"
    )

    @model_validator(mode="after")
    def _check_address(self) -> NotifyChannelIn:
        address = self.address.strip()
        if self.kind == ChannelKind.email and ("@" not in address or " " in address):
            raise ValueError(f"неверный адрес почты: {address}")
        if self.kind == ChannelKind.webhook:
            url = urlparse(address)
            if url.scheme not in ("http", "https") or not url.netloc:
                raise ValueError(f"адрес вебхука должен начинаться с http:// или https://: {address}")
        if self.kind == ChannelKind.telegram and not (
            address.lstrip("-").isdigit() or address.startswith("@")
        ):
            raise ValueError(f"чат Telegram — это число (id чата) или @имя канала: {address}")
        if self.secret is not None and self.kind != ChannelKind.webhook:
            raise ValueError("ключ подписи бывает только у вебхука")
        self.address = address
        return self


class NotifyChannelPublic(BaseModel):
    """An address as the API shows it (a webhook's key only as "has one")."""

    kind: ChannelKind
    address: str
    has_secret: bool = False


class SubscriptionIn(BaseModel):
    """Which alerts a person wants, and where."""

    name: str = Field(min_length=1, max_length=200, description="Кто получает (ФИО, должность)")
    channels: list[NotifyChannelIn] = Field(min_length=1, max_length=10, description="Куда слать")
    kinds: list[AlertKind] = Field(default_factory=list, description="Виды уведомлений; пусто — все")
    min_severity: int = Field(default=1, ge=1, le=10, description="Не ниже этой важности")
    sectors: list[str] = Field(default_factory=list, description="Сектора; пусто — все")
    territories: list[str] = Field(default_factory=list, description="id территорий; пусто — все")
    quiet_from: time | None = Field(default=None, description="Начало тихих часов (местное время)")
    quiet_to: time | None = Field(default=None, description="Конец тихих часов")
    timezone: str | None = Field(default=None, description="Часовой пояс; по умолчанию — муниципалитета")
    urgent_severity: int = Field(default=9, ge=1, le=10, description="С этой важности — без тихих часов")
    max_per_hour: int = Field(default=6, ge=1, le=1000, description="Больше в час — в сводку")
    active: bool = True

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"неизвестный часовой пояс: {value}") from exc
        return value

    @model_validator(mode="after")
    def _quiet_pair(self) -> SubscriptionIn:
        if (self.quiet_from is None) != (self.quiet_to is None):
            raise ValueError("тихие часы задаются парой: начало и конец")
        return self


class SubscriptionPublic(BaseModel):
    """A subscription as the API returns it."""

    id: str
    name: str
    channels: list[NotifyChannelPublic]
    kinds: list[AlertKind]
    min_severity: int
    sectors: list[str]
    territories: list[str]
    quiet_from: time | None = None
    quiet_to: time | None = None
    timezone: str | None = None
    urgent_severity: int
    max_per_hour: int
    active: bool
    created_at: datetime


class DeliveryPublic(_FromModel):
    """One alert on its way to one address, with every attempt."""

    id: str
    alert_id: str
    subscription_id: str
    channel: ChannelKind
    address: str
    status: DeliveryStatus
    created_at: datetime
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    digest_id: str | None = None
    attempts: list[DeliveryAttempt] = Field(default_factory=list)
    last_error: str | None = None
    note: str = ""


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
