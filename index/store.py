"""The Store protocol: the one interface to the system of record, implemented by every backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, Protocol, TypeVar, get_args, runtime_checkable

from index.models import (
    Alert,
    AlertKind,
    Delivery,
    DeliveryStatus,
    Incident,
    IncidentStatus,
    OfficialPage,
    PlanDecision,
    Post,
    SourceState,
    Subscription,
)

#: Fields a post count can be grouped by (the rollup dimensions).
CountField = Literal["sector", "territory", "source"]
#: Time buckets for counts.
Bucket = Literal["hour", "day"]


class StoreError(Exception):
    """Base of every store error."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached or is locked; retrying later may help."""


class VersionConflict(StoreError):
    """An optimistic-concurrency write lost: the stored version differs from the expected one."""


class NotFound(StoreError):
    """The requested object does not exist."""


@dataclass
class PostQuery:
    """Filters for reading posts; every field is optional and they combine with AND."""

    # Full text over Post.lemmas: the caller passes already-lemmatised words (risk's lemmatiser); every
    # word must match (AND), punctuation is ignored, ё = е; no words at all means no text filter.
    text: str | None = None
    since: datetime | None = None  # published_at >= since
    until: datetime | None = None  # published_at < until
    sector: str | None = None
    territory: str | None = None
    source: str | None = None
    kind: str | None = None
    tone: str | None = None
    page_id: str | None = None
    thread_id: str | None = None
    story_id: str | None = None
    ids: Sequence[str] | None = None
    limit: int = 50
    offset: int = 0
    newest_first: bool = True
    # When set, a full-text query's total is counted only up to this many posts: beyond it the page's
    # total is `total_cap` and `total_exact` is False (a lower bound). None: always exact.
    total_cap: int | None = None


@dataclass
class CountRow:
    """One bucket of post counts: the bucket start and the group values."""

    bucket: datetime
    count: int
    sector: str | None = None
    territory: str | None = None
    source: str | None = None


#: Post fields `post_facets` can group by.
FacetField = Literal[
    "sector", "topic", "territory", "source", "kind", "tone", "page_id", "story_id", "is_official"
]
FACET_FIELDS: tuple[FacetField, ...] = get_args(FacetField)


@dataclass
class FacetRow:
    """How many posts share one combination of field values (None: the field is not set)."""

    count: int
    values: dict[str, str | bool | None] = field(default_factory=dict)


@dataclass
class IncidentQuery:
    """Filters for reading incidents."""

    status: Sequence[IncidentStatus] | None = None
    recipient: str | None = None
    sector: str | None = None
    territory: str | None = None
    since: datetime | None = None  # created_at >= since
    until: datetime | None = None  # created_at < until
    overdue_at: datetime | None = None  # only incidents whose open deadline passed before this moment
    escalation_below: int | None = None  # only incidents whose escalation level is below this
    # Only open incidents (new, assigned, interim) whose next escalation step (Incident.step_index) is
    # due by this moment under `step_rules`, or not worked out (no basis, a stale one, other rules).
    step_due_at: datetime | None = None
    step_rules: str = ""
    limit: int = 50
    offset: int = 0


@dataclass
class AlertQuery:
    """Filters for reading alerts."""

    kind: Sequence[AlertKind] | None = None
    acknowledged: bool | None = None
    since: datetime | None = None  # created_at >= since
    limit: int = 50
    offset: int = 0


T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    """A page of results with the total number that matched."""

    items: list[T] = field(default_factory=list)
    total: int = 0
    total_exact: bool = True  # False: more than `total` matched (PostQuery.total_cap reached)


@runtime_checkable
class Store(Protocol):
    """The system of record. Every method may raise StoreUnavailable when the backend is down."""

    # Posts
    def upsert_posts(self, posts: Sequence[Post]) -> int:
        """Insert or replace posts by id; return how many ids were new. Idempotent."""
        ...

    def get_post(self, post_id: str) -> Post | None:
        """Return one post by id, or None."""
        ...

    def query_posts(self, query: PostQuery) -> Page[Post]:
        """Return the posts matching `query` (newest first by default) and the total count."""
        ...

    def count_posts(self, query: PostQuery) -> int:
        """Return how many posts match `query` (limit and offset ignored)."""
        ...

    def post_facets(self, query: PostQuery, by: Sequence[FacetField]) -> list[FacetRow]:
        """Return how many posts matching `query` share each combination of the `by` fields' values.

        Counted where the posts are (no post is read into Python); limit, offset and order are ignored;
        combinations with no post are omitted, in no particular order. Raises ValueError (Russian) for a
        field not in FACET_FIELDS.
        """
        ...

    def counts(
        self,
        since: datetime,
        until: datetime,
        by: Sequence[CountField] = (),
        bucket: Bucket = "hour",
    ) -> list[CountRow]:
        """Return post counts per time bucket (UTC) and per `by` fields, from the rollups.

        Rows are sorted by bucket then fields; empty buckets are omitted; fields not in `by` are None.
        Every hour that overlaps [since, until) counts whole (rollups are hourly).
        """
        ...

    def delete_posts_before(self, cutoff: datetime) -> int:
        """Delete every post published before `cutoff` (retention) with its counts; return how many."""
        ...

    # Incidents
    def save_incident(self, incident: Incident, expected_version: int | None = None) -> Incident:
        """Write an incident and return it with its new version (stored version + 1).

        `expected_version=None` creates it and raises VersionConflict if the id exists; otherwise the
        write succeeds only if the stored version equals `expected_version`, else VersionConflict.
        """
        ...

    def get_incident(self, incident_id: str) -> Incident | None:
        """Return one incident by id, or None."""
        ...

    def query_incidents(self, query: IncidentQuery) -> Page[Incident]:
        """Return incidents matching `query`, newest first."""
        ...

    def find_incident_for_post(self, post_id: str) -> Incident | None:
        """Return the incident a post is attached to, or None."""
        ...

    # Alerts
    def add_alert(self, alert: Alert) -> bool:
        """Store an alert unless one with the same id exists; return True if it was new."""
        ...

    def get_alert(self, alert_id: str) -> Alert | None:
        """Return one alert by id, or None."""
        ...

    def query_alerts(self, query: AlertQuery) -> Page[Alert]:
        """Return alerts matching `query`, newest first."""
        ...

    def acknowledge_alert(self, alert_id: str, by: str, at: datetime) -> Alert:
        """Mark an alert acknowledged (first acknowledgement wins); raise NotFound if absent."""
        ...

    # Sources and pages
    def get_source_state(self, name: str) -> SourceState | None:
        """Return a collector's state, or None if it never ran."""
        ...

    def save_source_state(self, state: SourceState) -> None:
        """Store a collector's state (replace by name)."""
        ...

    def list_source_states(self) -> list[SourceState]:
        """Return every collector's state."""
        ...

    def save_pages(self, pages: Sequence[OfficialPage]) -> None:
        """Store official pages (replace by id)."""
        ...

    def list_pages(self) -> list[OfficialPage]:
        """Return every official page."""
        ...

    # Content plan
    def save_plan_decision(self, decision: PlanDecision) -> None:
        """Store the information lead's decision about a content-plan slot (replace by slot_id)."""
        ...

    def list_plan_decisions(self, week: str) -> list[PlanDecision]:
        """Return the decisions of one planned week (its Monday, ISO date), by slot_id."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


@runtime_checkable
class ForgetsAuthors(Protocol):
    """A store that can forget one person (`infopole forget`); every backend should implement it."""

    def forget_author(self, author_id: str, at: datetime) -> list[Post]:
        """Delete every post whose author_id is `author_id`, with its full text and counts, and clean
        the incidents and alerts that referred to them (index.forgetting); return the deleted posts.

        Incidents keep their history: the posts leave `post_ids`, the person's name leaves audit texts,
        and an audit entry at `at` records how many posts went. Idempotent: a second call returns [].
        """
        ...


@dataclass
class DeliveryQuery:
    """Filters for reading the delivery log; they combine with AND."""

    alert_id: str | None = None
    subscription_id: str | None = None
    destination: str | None = None
    status: Sequence[DeliveryStatus] | None = None
    limit: int = 100
    offset: int = 0
    newest_first: bool = False  # default: in sending order (seq, then id)


@runtime_checkable
class AlertingStore(Protocol):
    """A store that keeps alert subscriptions, the delivery log and grouped incident writes.

    Every backend should implement it (worker.notify and the merge/split endpoints need it).
    """

    def save_incidents(self, writes: Sequence[tuple[Incident, int | None]]) -> list[Incident]:
        """Write several incidents, each under its expected version as in `save_incident`; all or none.

        Raises VersionConflict (and writes nothing) when any expected version does not match. A post
        listed by several written incidents belongs to the last one written (`find_incident_for_post`).
        """
        ...

    def save_subscription(self, subscription: Subscription) -> None:
        """Store a subscription (replace by id)."""
        ...

    def get_subscription(self, subscription_id: str) -> Subscription | None:
        """Return one subscription by id, or None."""
        ...

    def list_subscriptions(self) -> list[Subscription]:
        """Return every subscription, by id."""
        ...

    def delete_subscription(self, subscription_id: str) -> bool:
        """Delete a subscription; return False when there was none (its deliveries stay in the log)."""
        ...

    def add_delivery(self, delivery: Delivery) -> bool:
        """Store a delivery unless one with the same id exists; return True if it was new."""
        ...

    def save_delivery(self, delivery: Delivery) -> None:
        """Store a delivery (replace by id)."""
        ...

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        """Return one delivery by id, or None."""
        ...

    def query_deliveries(self, query: DeliveryQuery) -> Page[Delivery]:
        """Return the deliveries matching `query` in sending order (seq, id) unless newest_first."""
        ...
