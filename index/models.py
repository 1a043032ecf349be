"""Domain models shared by every layer: posts, incidents, alerts, source states, official pages."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Return `value` as an aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def stable_id(*parts: object, length: int = 16) -> str:
    """Return a deterministic hex id of `length` characters built from `parts`."""
    digest = hashlib.sha1("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return digest[:length]


class Kind(StrEnum):
    """What a message is: only complaints (and some questions) need an answer."""

    complaint = "complaint"
    question = "question"
    suggestion = "suggestion"
    gratitude = "gratitude"
    information = "information"


class Tone(StrEnum):
    """Sentiment of a message."""

    negative = "negative"
    neutral = "neutral"
    positive = "positive"


class Metrics(BaseModel):
    """Reach and engagement counters as the source reported them (None when unknown)."""

    views: int | None = None
    likes: int | None = None
    reposts: int | None = None
    comments: int | None = None
    followers: int | None = None

    def reach(self) -> int:
        """Return a rough reach: views if known, else followers, else 0."""
        return int(self.views or self.followers or 0)


class Place(BaseModel):
    """A place resolved in a text against the gazetteer."""

    model_config = ConfigDict(frozen=True)

    level: str  # district | settlement | street | house
    name: str  # canonical name from the gazetteer
    territory: str | None = None  # territory id from the profile (district or settlement)
    house: str | None = None
    span: tuple[int, int] | None = None  # character offsets in the cleaned text


class Post(BaseModel):
    """One public post or comment, as collected plus what the understanding step adds."""

    id: str  # globally unique: "vk:-1_123", "vk:-1_123:c45", "tg:-100123:77", "demo:000001"
    source: str  # vk | tg | ok | web | im | pos | demo
    source_id: str  # the id within the source
    url: str | None = None
    author_id: str | None = None  # pseudonymised author id (keyed hash), never the raw account id
    author_name: str | None = None
    published_at: datetime
    collected_at: datetime = Field(default_factory=utcnow)
    text: str = ""
    raw: dict[str, Any] = Field(default_factory=dict)
    parent_id: str | None = None  # the post or comment this one answers
    thread_id: str | None = None  # the root post of the thread (itself for a root post)
    page_id: str | None = None  # official page id from the profile when posted on one
    is_official: bool = False  # written by the official page itself
    metrics: Metrics = Field(default_factory=Metrics)

    # Added by the understanding step (risk.understand).
    lemmas: str = ""
    sector: str | None = None
    topic: str | None = None
    sector_confidence: float = 0.0
    kind: Kind | None = None
    tone: Tone | None = None
    tone_score: float = 0.0  # -1 (very negative) .. 1 (very positive)
    aggression: float = 0.0  # 0..1
    aggression_markers: list[str] = Field(default_factory=list)
    places: list[Place] = Field(default_factory=list)
    territory: str | None = None  # most specific territory id resolved (settlement or district)
    duplicate_of: str | None = None
    story_id: str | None = None
    needs_review: bool = False

    @field_validator("published_at", "collected_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return as_utc(value)


class IncidentStatus(StrEnum):
    """Incident workflow: new → assigned → interim → final → closed."""

    new = "new"
    assigned = "assigned"
    interim = "interim"  # an interim public answer was given
    final = "final"  # the final answer was given
    closed = "closed"


class Priority(StrEnum):
    """How fast an incident must be answered."""

    normal = "normal"
    high = "high"
    critical = "critical"


class Outcome(StrEnum):
    """How a closed incident ended."""

    solved = "решено"
    explained = "разъяснено"
    redirected = "перенаправлено"
    no_answer_needed = "не требует ответа"


class AuditEntry(BaseModel):
    """One change of an incident: who, when, what."""

    at: datetime
    actor: str
    action: str
    detail: str = ""
    count: int = 1  # how many like changes the entry stands for (messages attached in one stretch)


class CitizenReaction(BaseModel):
    """How a citizen reacted after the answer: a follow-up message and its verdict (risk.satisfaction)."""

    post_id: str
    at: datetime  # when the follow-up was published
    verdict: str  # доволен | недоволен | неясно
    cues: list[str] = Field(default_factory=list)

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return as_utc(value)


class PriorityBasis(BaseModel):
    """What an incident's priority was last judged on, so that a new message needs no re-read of the others.

    It holds for the incident only while `messages` and `last_post_id` still describe its `post_ids`: a
    change made elsewhere (a split, a merge, forgetting someone) leaves it stale without the writer having
    to know, and the priority is then judged again from the messages.
    """

    messages: int  # len(post_ids) when it was worked out
    last_post_id: str  # post_ids[-1] then
    reach: int = 0  # summed reach (Metrics.reach) of the messages as they were when attached
    author_posts: list[str] = Field(default_factory=list)  # one message of each distinct author, ≤ 10


class Incident(BaseModel):
    """One problem at one place, with every citizen message about it attached."""

    id: str
    title: str
    sector: str | None = None
    topic: str | None = None
    territory: str | None = None
    place: str | None = None  # street or settlement name the problem is at
    recipient: str | None = None  # recipient id from the profile
    priority: Priority = Priority.normal
    status: IncidentStatus = IncidentStatus.new
    outcome: Outcome | None = None
    post_ids: list[str] = Field(default_factory=list)
    created_at: datetime  # when the first message was published
    first_answer_due: datetime | None = None
    final_answer_due: datetime | None = None
    first_answered_at: datetime | None = None
    final_answered_at: datetime | None = None
    closed_at: datetime | None = None
    escalation_level: int = 0  # 0 none, 1 warned, 2 recipient's head, 3 head of МЦУ, 4 ЦУР
    audit: list[AuditEntry] = Field(default_factory=list)
    reactions: list[CitizenReaction] = Field(default_factory=list)  # citizens' follow-ups after answers
    merged_into: str | None = None  # set when merged by hand into another incident (then closed)
    version: int = 0  # optimistic concurrency: bumped by the store on every write
    updated_at: datetime = Field(default_factory=utcnow)
    # When the open deadline's next escalation step falls due (UTC; None: no step left), as the
    # escalation run worked it out for `next_step_basis` ("<rules>:<escalation_state()>"). Stores index
    # it only while the basis is the incident as it is (`step_index`): any change of status, deadline,
    # level, recipient or merge makes it "not worked out" without the writer having to know.
    next_step_at: datetime | None = None
    next_step_basis: str | None = None
    priority_basis: PriorityBasis | None = None  # see PriorityBasis; None: judge from the messages

    def current_priority_basis(self) -> PriorityBasis | None:
        """Return the priority basis if it still describes the incident's messages, else None."""
        basis = self.priority_basis
        if basis is None or not self.post_ids:
            return None
        if basis.messages != len(self.post_ids) or basis.last_post_id != self.post_ids[-1]:
            return None
        return basis

    @field_validator(
        "created_at",
        "first_answer_due",
        "final_answer_due",
        "first_answered_at",
        "final_answered_at",
        "closed_at",
        "updated_at",
        "next_step_at",
    )
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    def escalation_state(self) -> str:
        """Return what its escalation steps depend on: status, deadlines, level, recipient, merge."""
        first = self.first_answer_due.isoformat() if self.first_answer_due else ""
        final = self.final_answer_due.isoformat() if self.final_answer_due else ""
        return "|".join(
            (
                self.status.value,
                first,
                final,
                str(self.escalation_level),
                self.recipient or "",
                self.merged_into or "",
            )
        )

    def with_step_plan(self, rules: str, next_at: datetime | None) -> Incident:
        """Return a copy with `next_at` as its next escalation step, worked out under `rules` for now."""
        return self.model_copy(
            update={"next_step_at": next_at, "next_step_basis": f"{rules}:{self.escalation_state()}"}
        )

    def step_index(self) -> tuple[str | None, datetime | None]:
        """Return (rules, next step's time) for a store's escalation index; (None, None): not worked out.

        The rules are those `next_step_basis` names; a basis of another state of the incident (written
        before a change) counts as not worked out, so the escalation run works the steps out again.
        """
        basis = self.next_step_basis
        if basis is None:
            return None, None
        rules, _, state = basis.partition(":")
        if state != self.escalation_state():
            return None, None
        return rules, self.next_step_at


class AlertKind(StrEnum):
    """What an alert is about."""

    spike = "spike"
    conflict = "conflict"
    story = "story"
    incident = "incident"  # a critical incident opened
    overdue = "overdue"
    source = "source"  # a collector is silent or failing


class Alert(BaseModel):
    """A notification for the head of the centre, one per episode."""

    id: str  # deterministic per episode, so re-detection does not duplicate
    kind: AlertKind
    severity: int = Field(ge=1, le=10)
    title: str
    text: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    event_at: datetime | None = None  # when the thing happened (stream time)
    sector: str | None = None
    territory: str | None = None
    source: str | None = None
    thread_id: str | None = None
    incident_id: str | None = None
    post_ids: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None

    @field_validator("created_at", "event_at", "acknowledged_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)


class SourceState(BaseModel):
    """A collector's cursor and health."""

    name: str  # "vk:wall:-12345", "tg:channel:foo", "demo"
    cursor: dict[str, Any] = Field(default_factory=dict)
    last_success_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None
    errors: dict[str, int] = Field(default_factory=dict)  # error kind -> count
    items_total: int = 0
    items_last_run: int = 0
    # Health of collection (worker.source_health): runs, pauses and the stream time of what came in.
    last_run_at: datetime | None = None
    run_items: list[int] = Field(default_factory=list)  # items of the most recent runs, oldest first
    newest_item_at: datetime | None = None  # publication time of the newest item ever collected
    item_times: list[datetime] = Field(default_factory=list)  # newest publication times, for the usual gap
    paused_until: datetime | None = None  # no polling before this (bad credentials, long rate limits)
    paused_reason: str | None = None  # Russian reason shown to the analyst
    paused_credential: str | None = None  # fingerprint of the paused token; a new token lifts the pause

    @field_validator("last_success_at", "last_error_at", "last_run_at", "newest_item_at", "paused_until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)


class FollowerCount(BaseModel):
    """The number of a page's subscribers at one moment (for subscriber growth)."""

    at: datetime
    followers: int

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return as_utc(value)


class OfficialPage(BaseModel):
    """An official page (госпаблик) of the municipality on a network."""

    id: str  # profile id, e.g. "vk-admin"
    network: str  # vk | ok | tg
    name: str
    url: str
    owner_id: str | None = None  # the network's id of the page
    category: str = "активный"  # флагманский | активный | визитка
    norm_per_week: int = 3
    followers: int | None = None
    verified: bool | None = None
    description: str | None = None
    contacts: str | None = None
    # Formal requirements to an official page (None: not known, shown as «неизвестно»).
    has_gosmetka: bool | None = None  # the «Госорганизация» mark; `verified` stands in when unknown
    has_avatar: bool | None = None
    has_cover: bool | None = None
    has_pos_widget: bool | None = None  # ПОС widgets «Сообщить о проблеме» / «Высказать мнение»
    comments_open: bool | None = None
    followers_history: list[FollowerCount] = Field(default_factory=list)  # oldest first


class PlanAction(StrEnum):
    """What the information lead decided about a content-plan slot."""

    accept = "accept"
    move = "move"
    drop = "drop"


class PlanDecision(BaseModel):
    """The information lead's decision about one slot of a week's content plan (replace by slot_id)."""

    slot_id: str
    week: str  # the Monday of the planned week, ISO date in the profile's time zone ("2026-11-09")
    page_id: str
    action: PlanAction
    moved_to: datetime | None = None  # the new publication time of a moved slot
    suggestion_id: str | None = None  # the suggestion accepted for the slot
    title: str | None = None  # the accepted topic as shown then (suggestions change as data comes)
    comment: str = ""
    by: str
    at: datetime = Field(default_factory=utcnow)

    @field_validator("moved_to", "at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)


class ChannelKind(StrEnum):
    """Where an alert can be delivered."""

    telegram = "telegram"  # a chat id of the Telegram bot
    email = "email"  # an e-mail address
    webhook = "webhook"  # a URL receiving signed JSON


class NotifyChannel(BaseModel):
    """One address of a subscriber on one channel."""

    kind: ChannelKind
    address: str  # chat id, e-mail address or URL
    secret: str | None = None  # webhook: HMAC-SHA256 key of the signature header (never shown back)

    @property
    def destination(self) -> str:
        """Return the key deliveries to this address are ordered and throttled by: "kind:address"."""
        return f"{self.kind.value}:{self.address}"


class Subscription(BaseModel):
    """One person's alerts: which ones (kinds, severity, sectors, territories) and where they go."""

    id: str
    name: str  # who, as shown in the delivery log and acknowledgements
    channels: list[NotifyChannel] = Field(default_factory=list)
    kinds: list[AlertKind] = Field(default_factory=list)  # empty: every kind
    min_severity: int = Field(default=1, ge=1, le=10)
    sectors: list[str] = Field(default_factory=list)  # empty: every sector
    territories: list[str] = Field(default_factory=list)  # empty: every territory (with their children)
    quiet_from: time | None = None  # quiet hours in `timezone` (e.g. 22:00–08:00); held for a digest
    quiet_to: time | None = None
    timezone: str | None = None  # defaults to the profile's
    urgent_severity: int = Field(default=9, ge=1, le=10)  # from this severity on: no quiet hours, no limit
    max_per_hour: int = Field(default=6, ge=1)  # more to one address in an hour wait for a digest
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return as_utc(value)


class DeliveryStatus(StrEnum):
    """Where one alert stands on its way to one address."""

    pending = "pending"  # to be sent (again, after a failed attempt, from next_attempt_at)
    held = "held"  # quiet hours or the hourly limit: goes out in a digest from next_attempt_at
    sent = "sent"
    digested = "digested"  # went out inside a digest
    skipped = "skipped"  # acknowledged or unsubscribed before it went out
    failed = "failed"  # given up: a permanent error or too many attempts


class DeliveryAttempt(BaseModel):
    """One try to deliver: when, and the error if it failed."""

    at: datetime
    ok: bool
    error: str | None = None

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return as_utc(value)


class Delivery(BaseModel):
    """One alert to one address of one subscription, with every attempt (the delivery log)."""

    id: str  # deterministic: alert × subscription × address
    alert_id: str
    subscription_id: str
    channel: ChannelKind
    address: str
    destination: str  # "kind:address": deliveries to it go out in `seq` order
    seq: int  # creation order (nanoseconds), the order of sending to one destination
    status: DeliveryStatus = DeliveryStatus.pending
    created_at: datetime = Field(default_factory=utcnow)
    next_attempt_at: datetime | None = None  # not before this (retry back-off, end of quiet hours)
    sent_at: datetime | None = None
    digest_id: str | None = None  # the digest it went out in
    attempts: list[DeliveryAttempt] = Field(default_factory=list)
    last_error: str | None = None
    note: str = ""  # why it is held, skipped or failed (Russian)

    @field_validator("created_at", "next_attempt_at", "sent_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)
