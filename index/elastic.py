"""The Store on Elasticsearch 8: monthly post indices, aggregations for counts, optimistic concurrency."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError, TransportError

from index.es_bulk import BulkOp, BulkWriteError, bulk_write
from index.es_compat import PlainJsonNode
from index.es_docs import (
    alert_doc,
    alert_from_doc,
    delivery_doc,
    delivery_from_doc,
    incident_doc,
    incident_from_doc,
    page_doc,
    post_doc,
    post_from_doc,
    query_words,
    source_doc,
    subscription_doc,
    subscription_from_doc,
)
from index.es_setup import (
    Kind,
    Layout,
    bootstrap,
    create_month_index,
    mapping_properties,
    month_start,
    next_month,
    parse_month,
)
from index.forgetting import scrub_alert, scrub_incident
from index.models import (
    Alert,
    Delivery,
    DeliveryStatus,
    Incident,
    IncidentStatus,
    OfficialPage,
    PlanDecision,
    Post,
    SourceState,
    Subscription,
    as_utc,
)
from index.store import (
    FACET_FIELDS,
    AlertQuery,
    Bucket,
    CountField,
    CountRow,
    DeliveryQuery,
    FacetField,
    FacetRow,
    IncidentQuery,
    NotFound,
    Page,
    PostQuery,
    StoreError,
    StoreUnavailable,
    VersionConflict,
)

log = logging.getLogger(__name__)

__all__ = ["BulkWriteError", "ElasticStore", "connect"]

#: Group-by fields of `counts`, in row order.
_COUNT_FIELDS: tuple[CountField, ...] = ("sector", "territory", "source")
#: Buckets of one composite aggregation page (below the default search.max_buckets of 65,536).
COMPOSITE_PAGE = 50_000
#: The deepest from + size a plain search may ask for (index.max_result_window).
MAX_WINDOW = 10_000
#: Ids per lookup request.
_LOOKUP_IDS = 1_000
#: Statuses whose first answer is still due, and whose final answer is still due.
_FIRST_DUE = [IncidentStatus.new.value, IncidentStatus.assigned.value]
_FINAL_DUE = [IncidentStatus.interim.value]
_OPEN_STATUSES = (IncidentStatus.new, IncidentStatus.assigned, IncidentStatus.interim)
#: Incident fields of the escalation index, added to incident indices made before them.
_STEP_FIELDS = ("next_step_at", "next_step_basis", "step_rules", "step_due_at")

#: Attempts of a read-modify-write before giving up.
_RMW_ATTEMPTS = 8
#: Posts, incidents or alerts read per request while forgetting an author.
_FORGET_PAGE = 500


def _step_due(rules: str, moment: str) -> dict[str, Any]:
    """Return the filter of incidents whose next escalation step is due by `moment` under `rules`, or
    not worked out under them (no step index, or another rules' one)."""
    return {
        "bool": {
            "should": [
                {"bool": {"must_not": [{"term": {"step_rules": rules}}]}},
                {
                    "bool": {
                        "filter": [
                            {"term": {"step_rules": rules}},
                            {"range": {"step_due_at": {"lte": moment}}},
                        ]
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }


def connect(
    url: str,
    user: str = "",
    password: str = "",
    *,
    plain_json: bool = False,
    ca_certs: str | None = None,
    timeout_s: float = 30.0,
) -> Elasticsearch:
    """Return a client for `url` (basic auth when a password is given; plain JSON for osmem/OpenSearch)."""
    options: dict[str, Any] = {"request_timeout": timeout_s, "retry_on_timeout": True, "max_retries": 2}
    if password:
        options["basic_auth"] = (user or "elastic", password)
    if ca_certs:
        options["ca_certs"] = ca_certs
    if plain_json:
        options["node_class"] = PlainJsonNode
    return Elasticsearch(url, **options)


def _iso(value: datetime) -> str:
    """Return `value` in UTC as an ISO string with milliseconds."""
    return as_utc(value).isoformat(timespec="milliseconds")


def _hour_floor(value: datetime) -> datetime:
    """Return the start of the UTC hour holding `value`."""
    return as_utc(value).replace(minute=0, second=0, microsecond=0)


def _hour_ceil(value: datetime) -> datetime:
    """Return the first whole UTC hour at or after `value`."""
    floor = _hour_floor(value)
    return floor if floor == as_utc(value) else floor + timedelta(hours=1)


def _check_paging(limit: int, offset: int) -> None:
    """Raise ValueError for a negative limit or offset."""
    if limit < 0 or offset < 0:
        raise ValueError("limit и offset не могут быть отрицательными")


class ElasticStore:
    """The Store on an Elasticsearch 8 cluster (or osmem-server in tests, with lifecycle off)."""

    def __init__(
        self,
        client: Elasticsearch,
        layout: Layout | None = None,
        *,
        refresh: bool | str = "wait_for",
        setup: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        page_cache_s: float = 300.0,
    ) -> None:
        """Use `client`; with `setup`, put the lifecycle policy and templates and create the indices.

        `refresh` is passed to every write: "wait_for" (default) makes writes visible to the next
        read, as the Store contract requires; False suits bulk loads that refresh at the end.
        """
        self.client = client
        self.layout = layout or Layout()
        self.refresh = refresh
        self._sleep = sleep
        self._known: set[str] = set()
        self._lock = threading.Lock()
        self._page_cache_s = page_cache_s
        self._pages_at = -1.0e9
        self._pages: dict[str, OfficialPage] = {}
        if setup:
            with self._guard():
                bootstrap(self.client, self.layout)
                self._ensure_step_fields()

    def _ensure_step_fields(self) -> None:
        """Add the escalation index fields to an incident index made before them (additive, idempotent).

        Without them an existing index cannot filter on each incident's next step: every open incident
        would count as not worked out and every escalation run would read them all.
        """
        properties = mapping_properties("incidents")
        self.client.indices.put_mapping(
            index=self._alias("incidents"), properties={name: properties[name] for name in _STEP_FIELDS}
        )

    # Plumbing

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn connection failures and server errors into StoreUnavailable with a Russian message."""
        try:
            yield
        except (NotFoundError, ConflictError):
            raise
        except ApiError as exc:
            if exc.meta.status == 429 or exc.meta.status >= 500:
                raise StoreUnavailable(f"Elasticsearch перегружен или недоступен: {exc}") from exc
            raise StoreError(f"Elasticsearch отклонил запрос: {exc}") from exc
        except TransportError as exc:
            raise StoreUnavailable(f"Elasticsearch недоступен: {exc}") from exc

    def _alias(self, kind: Kind) -> str:
        return self.layout.alias(kind)

    def _search(self, kind: Kind, **body: Any) -> dict[str, Any]:
        """Run a search on `kind`'s alias and return the response body (empty before the first post)."""
        if kind == "posts":
            body = {"ignore_unavailable": True, "allow_no_indices": True, **body}
        with self._guard():
            return dict(self.client.search(index=self._alias(kind), **body))

    def _page(
        self, kind: Kind, query: dict[str, Any], sort: list[dict[str, Any]], limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Return hits `offset`..`offset + limit` of a sorted query and the total (deep: search_after)."""
        hits, total, _ = self._page_counted(kind, query, sort, limit, offset, None)
        return hits, total

    def _page_counted(
        self,
        kind: Kind,
        query: dict[str, Any],
        sort: list[dict[str, Any]],
        limit: int,
        offset: int,
        cap: int | None,
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """Return hits `offset`..`offset + limit`, the total counted up to `cap` (None: all) and if exact."""
        track: int | bool = True if cap is None else cap
        if offset + limit <= MAX_WINDOW:
            response = self._search(
                kind, query=query, sort=sort, from_=offset, size=limit, track_total_hits=track
            )
            return list(response["hits"]["hits"]), *_total_of(response)
        skipped, after = 0, None
        total, exact, hits = 0, True, []
        while True:
            size = min(MAX_WINDOW, offset + limit - skipped)
            extra: dict[str, Any] = {} if after is None else {"search_after": after}
            response = self._search(kind, query=query, sort=sort, size=size, track_total_hits=track, **extra)
            total, exact = _total_of(response)
            batch = list(response["hits"]["hits"])
            if not batch:
                break
            start = max(0, offset - skipped)
            hits.extend(batch[start:])
            skipped += len(batch)
            after = batch[-1]["sort"]
            if skipped >= offset + limit:
                break
        return hits[:limit], total, exact

    def forget_indices(self) -> None:
        """Forget which monthly indices exist (after indices were deleted or swapped elsewhere)."""
        with self._lock:
            self._known.clear()

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    def __enter__(self) -> ElasticStore:
        """Return the store itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the store."""
        self.close()

    # Posts

    def _pages_by_id(self) -> dict[str, OfficialPage]:
        """Return the official pages by id, re-read at most every `page_cache_s` seconds."""
        now = time.monotonic()
        if now - self._pages_at > self._page_cache_s:
            self._pages = {page.id: page for page in self.list_pages()}
            self._pages_at = now
        return self._pages

    def _locate(self, ids: Sequence[str], fields: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
        """Return the stored hits (index and the `fields` asked for) of the post ids that exist."""
        found: dict[str, dict[str, Any]] = {}
        source: bool | list[str] = list(fields) if fields else False
        for start in range(0, len(ids), _LOOKUP_IDS):
            part = list(ids[start : start + _LOOKUP_IDS])
            response = self._search("posts", query={"ids": {"values": part}}, size=len(part), source=source)
            for hit in response["hits"]["hits"]:
                found[hit["_id"]] = hit
        return found

    def _ensure_month(self, name: str, start: datetime) -> None:
        """Create the monthly index `name` unless it (or an alias of that name) exists."""
        if name in self._known:
            return
        with self._guard():
            if not self.client.indices.exists(index=name):
                create_month_index(self.client, self.layout, name, start)
        with self._lock:
            self._known.add(name)

    def _official_replies(self, post_ids: Sequence[str]) -> dict[str, datetime]:
        """Return, per post id, when the official page first replied to it (stored replies only)."""
        replies: dict[str, datetime] = {}
        for start in range(0, len(post_ids), _LOOKUP_IDS):
            part = list(post_ids[start : start + _LOOKUP_IDS])
            response = self._search(
                "posts",
                size=0,
                query={"bool": {"filter": [{"terms": {"parent_id": part}}, {"term": {"is_official": True}}]}},
                aggs={
                    "parents": {
                        "terms": {"field": "parent_id", "size": len(part)},
                        "aggs": {"first": {"min": {"field": "published_at"}}},
                    }
                },
            )
            for bucket in response.get("aggregations", {}).get("parents", {}).get("buckets", []):
                value = bucket["first"]["value"]
                if value is not None:
                    replies[str(bucket["key"])] = datetime.fromtimestamp(value / 1000, UTC)
        return replies

    def upsert_posts(self, posts: Sequence[Post]) -> int:
        """Insert or replace posts by id in their monthly indices; return how many ids were new.

        A post whose publication month changed is deleted from its old month. Comments under official
        pages get `answered_at` (the page's first direct reply). Raises BulkWriteError listing the ids
        that could not be written after retries; the rest are written.
        """
        latest = {post.id: post for post in posts}
        if not latest:
            return 0
        ids = list(latest)
        existing = self._locate(ids)
        pages = self._pages_by_id() if any(p.page_id for p in latest.values()) else {}

        replies: dict[str, datetime] = {}
        for post in latest.values():
            if post.is_official and post.parent_id:
                first = replies.get(post.parent_id)
                if first is None or post.published_at < first:
                    replies[post.parent_id] = post.published_at
        commented = [p.id for p in latest.values() if p.page_id and not p.is_official]
        for post_id, at in self._official_replies(commented).items():
            if post_id not in replies or at < replies[post_id]:
                replies[post_id] = at

        ops: list[BulkOp] = []
        moves: list[BulkOp] = []
        for post in latest.values():
            start = month_start(post.published_at)
            target = self.layout.month_index(post.published_at)
            self._ensure_month(target, start)
            page = pages.get(post.page_id) if post.page_id else None
            doc = post_doc(post, page, replies.get(post.id))
            ops.append(BulkOp("index", target, post.id, doc))
            hit = existing.get(post.id)
            if hit is not None:
                stored = parse_month(hit["_index"])
                if stored is None or stored[0] != start:
                    moves.append(BulkOp("delete", hit["_index"], post.id))
        result = bulk_write(self.client, [*ops, *moves], refresh=self.refresh, sleep=self._sleep)
        self._mark_answered({k: v for k, v in replies.items() if k not in latest}, result.failures)
        result.raise_for_failures()
        return sum(1 for post_id in ids if post_id not in existing)

    def _mark_answered(self, replies: Mapping[str, datetime], failures: dict[str, str]) -> None:
        """Set `answered_at` on stored posts (outside the batch) the official page has replied to."""
        if not replies:
            return
        stored = self._locate(list(replies), fields=["answered_at"])
        ops = []
        for post_id, hit in stored.items():
            current = (hit.get("_source") or {}).get("answered_at")
            at = replies[post_id]
            if current is None or datetime.fromisoformat(current) > at:
                ops.append(BulkOp("update", hit["_index"], post_id, {"doc": {"answered_at": at.isoformat()}}))
        if ops:
            result = bulk_write(self.client, ops, refresh=self.refresh, sleep=self._sleep)
            failures.update(result.failures)

    def get_post(self, post_id: str) -> Post | None:
        """Return one post by id, or None."""
        response = self._search("posts", query={"ids": {"values": [post_id]}}, size=1)
        hits = response["hits"]["hits"]
        return post_from_doc(hits[0]["_source"]) if hits else None

    @staticmethod
    def _post_query(query: PostQuery) -> dict[str, Any]:
        """Return the bool query of a PostQuery (AND of every filter given)."""
        filters: list[dict[str, Any]] = []
        must: list[dict[str, Any]] = []
        if query.text is not None:
            words = query_words(query.text)
            if words:
                must.append({"match": {"lemmas": {"query": " ".join(words), "operator": "and"}}})
        window: dict[str, str] = {}
        if query.since is not None:
            window["gte"] = _iso(query.since)
        if query.until is not None:
            window["lt"] = _iso(query.until)
        if window:
            filters.append({"range": {"published_at": window}})
        for name in ("sector", "territory", "source", "kind", "tone", "page_id", "thread_id", "story_id"):
            value = getattr(query, name)
            if value is not None:
                filters.append({"term": {name: str(value)}})
        if query.ids is not None:
            filters.append({"terms": {"id": list(query.ids)}})
        return {"bool": {"filter": filters, "must": must}}

    def query_posts(self, query: PostQuery) -> Page[Post]:
        """Return the posts matching `query` (newest first by default) and the total count."""
        _check_paging(query.limit, query.offset)
        order = "desc" if query.newest_first else "asc"
        sort = [{"published_at": {"order": order}}, {"id": {"order": order}}]
        cap = query.total_cap if query.text is not None and query_words(query.text) else None
        hits, total, exact = self._page_counted(
            "posts", self._post_query(query), sort, query.limit, query.offset, cap
        )
        items = [post_from_doc(hit["_source"]) for hit in hits]
        return Page(items=items, total=total, total_exact=exact)

    def count_posts(self, query: PostQuery) -> int:
        """Return how many posts match `query` (limit and offset ignored)."""
        with self._guard():
            response = self.client.count(
                index=self._alias("posts"),
                query=self._post_query(query),
                ignore_unavailable=True,
                allow_no_indices=True,
            )
        return int(response["count"])

    def post_facets(self, query: PostQuery, by: Sequence[FacetField]) -> list[FacetRow]:
        """Return how many posts matching `query` share each combination of the `by` fields (composite)."""
        unknown = [name for name in by if name not in FACET_FIELDS]
        if unknown:
            raise ValueError(f"нельзя группировать по полям: {', '.join(map(str, unknown))}")
        fields = list(dict.fromkeys(by))
        if not fields:
            total = self.count_posts(query)
            return [FacetRow(count=total)] if total else []
        sources = [{name: {"terms": {"field": name, "missing_bucket": True}}} for name in fields]
        body: dict[str, Any] = {
            "size": 0,
            "query": self._post_query(query),
            "aggs": {"facets": {"composite": {"size": COMPOSITE_PAGE, "sources": sources}}},
        }
        rows: list[FacetRow] = []
        while True:
            response = self._search("posts", **body)
            aggregation = response.get("aggregations", {}).get("facets", {"buckets": []})
            for item in aggregation["buckets"]:
                key = item["key"]
                values: dict[str, str | bool | None] = {}
                for name in fields:
                    value = key.get(name)
                    if name == "is_official" and value is not None:
                        values[name] = value in (True, 1, "true")
                    else:
                        values[name] = None if value is None else str(value)
                rows.append(FacetRow(count=int(item["doc_count"]), values=values))
            after = aggregation.get("after_key")
            if not after or len(aggregation["buckets"]) < COMPOSITE_PAGE:
                return rows
            body["aggs"]["facets"]["composite"]["after"] = after

    def count_aggregation(
        self, since: datetime, until: datetime, by: Sequence[CountField] = (), bucket: Bucket = "hour"
    ) -> dict[str, Any]:
        """Return the search body of `counts`: a composite aggregation over the whole hours of the window."""
        histogram: dict[str, Any] = {"field": "published_at"}
        if bucket == "hour":
            histogram["fixed_interval"] = "1h"
        else:
            histogram["calendar_interval"] = "1d"
        sources: list[dict[str, Any]] = [{"bucket": {"date_histogram": histogram}}]
        fields = [name for name in _COUNT_FIELDS if name in by]
        sources += [{name: {"terms": {"field": name, "missing_bucket": True}}} for name in fields]
        window = {"gte": _iso(_hour_floor(since)), "lt": _iso(_hour_ceil(until))}
        return {
            "size": 0,
            "query": {"range": {"published_at": window}},
            "aggs": {"counts": {"composite": {"size": COMPOSITE_PAGE, "sources": sources}}},
        }

    def counts(
        self,
        since: datetime,
        until: datetime,
        by: Sequence[CountField] = (),
        bucket: Bucket = "hour",
    ) -> list[CountRow]:
        """Return post counts per UTC bucket and per `by` fields as one composite aggregation (paged).

        Every hour that overlaps [since, until) counts whole, as with the sqlite rollups.
        """
        unknown = [name for name in by if name not in _COUNT_FIELDS]
        if unknown:
            raise ValueError(f"нельзя группировать по полям: {', '.join(map(str, unknown))}")
        if bucket not in ("hour", "day"):
            raise ValueError(f"неизвестный интервал: {bucket}")
        body = self.count_aggregation(since, until, by, bucket)
        rows: list[CountRow] = []
        starts: dict[int, datetime] = {}
        while True:
            response = self._search("posts", **body)
            aggregation = response.get("aggregations", {}).get("counts", {"buckets": []})
            for item in aggregation["buckets"]:
                key = item["key"]
                millis = int(key["bucket"])
                if millis not in starts:
                    starts[millis] = datetime.fromtimestamp(millis / 1000, UTC)
                rows.append(
                    CountRow(
                        bucket=starts[millis],
                        count=int(item["doc_count"]),
                        sector=key.get("sector"),
                        territory=key.get("territory"),
                        source=key.get("source"),
                    )
                )
            after = aggregation.get("after_key")
            if not after or len(aggregation["buckets"]) < COMPOSITE_PAGE:
                return rows
            body["aggs"]["counts"]["composite"]["after"] = after

    def delete_posts_before(self, cutoff: datetime) -> int:
        """Delete every post published before `cutoff`: whole months by index, the rest by query."""
        cutoff = as_utc(cutoff)
        deleted = 0
        with self._guard():
            indices = self.client.indices.get_alias(
                index=self.layout.pattern("posts"), ignore_unavailable=True, allow_no_indices=True
            )
        for name in sorted(indices):
            parsed = parse_month(name)
            if parsed is None:
                continue
            start = parsed[0]
            with self._guard():
                if next_month(start) <= cutoff:
                    deleted += int(self.client.count(index=name)["count"])
                    self.client.indices.delete(index=name)
                    self.forget_indices()
                elif start < cutoff:
                    response = self.client.delete_by_query(
                        index=name,
                        query={"range": {"published_at": {"lt": _iso(cutoff)}}},
                        refresh=True,
                        conflicts="proceed",
                    )
                    deleted += int(response.get("deleted", 0))
        return deleted

    # Incidents

    def save_incident(self, incident: Incident, expected_version: int | None = None) -> Incident:
        """Write an incident; an update succeeds only if nobody wrote it since (if_seq_no/if_primary_term)."""
        index = self._alias("incidents")
        if expected_version is None:
            saved = incident.model_copy(update={"version": 1})
            try:
                with self._guard():
                    self.client.index(
                        index=index,
                        id=saved.id,
                        document=incident_doc(saved),
                        op_type="create",
                        refresh=self.refresh,
                    )
            except ConflictError as exc:
                raise VersionConflict(f"инцидент {saved.id} уже существует") from exc
            return saved
        try:
            with self._guard():
                current = self.client.get(index=index, id=incident.id)
        except NotFoundError as exc:
            raise VersionConflict(
                f"инцидент {incident.id} не существует, ожидалась версия {expected_version}"
            ) from exc
        stored_version = int(current["_source"].get("version", 0))
        if stored_version != expected_version:
            raise VersionConflict(
                f"инцидент {incident.id} имеет версию {stored_version}, ожидалась версия {expected_version}: "
                "его изменил кто-то другой, обновите и повторите"
            )
        saved = incident.model_copy(update={"version": expected_version + 1})
        try:
            with self._guard():
                self.client.index(
                    index=index,
                    id=saved.id,
                    document=incident_doc(saved),
                    if_seq_no=int(current["_seq_no"]),
                    if_primary_term=int(current["_primary_term"]),
                    refresh=self.refresh,
                )
        except ConflictError as exc:
            raise VersionConflict(
                f"инцидент {incident.id} изменён одновременно другим обработчиком, ожидалась версия "
                f"{expected_version}: обновите и повторите"
            ) from exc
        return saved

    def save_incidents(self, writes: Sequence[tuple[Incident, int | None]]) -> list[Incident]:
        """Write several incidents, each under its expected version; all or none as far as ES allows.

        Every expected version is checked first (nothing is written on a mismatch), then each incident
        is written guarded by the if_seq_no/if_primary_term read in the check. Elasticsearch has no
        multi-document transactions: if another writer changes one of them between the check and the
        write, the incidents already written are put back (again guarded, so a newer write by someone
        else is never overwritten) and VersionConflict is raised; a crash or outage in that window can
        still leave the earlier incidents written. The last one written owns shared posts.
        """
        ids = [incident.id for incident, _ in writes]
        if len(set(ids)) != len(ids):
            raise ValueError("один и тот же инцидент указан в групповой записи дважды")
        index = self._alias("incidents")
        stored: dict[str, dict[str, Any] | None] = {}
        for incident, expected in writes:
            try:
                with self._guard():
                    stored[incident.id] = dict(self.client.get(index=index, id=incident.id))
            except NotFoundError:
                stored[incident.id] = None
            self._check_version(incident.id, stored[incident.id], expected)
        base = time.time_ns()
        done: list[tuple[str, dict[str, Any] | None, int, int]] = []
        saved_all: list[Incident] = []
        for i, (incident, expected) in enumerate(writes):
            saved = incident.model_copy(update={"version": 1 if expected is None else expected + 1})
            hit = stored[incident.id]
            guard: dict[str, Any] = (
                {"op_type": "create"}
                if hit is None
                else {"if_seq_no": int(hit["_seq_no"]), "if_primary_term": int(hit["_primary_term"])}
            )
            last = i == len(writes) - 1
            try:
                with self._guard():
                    response = self.client.index(
                        index=index,
                        id=saved.id,
                        document=incident_doc(saved, seq=base + i),
                        refresh=self.refresh if last else False,
                        **guard,
                    )
            except ConflictError as exc:
                self._undo_incidents(done)
                raise VersionConflict(
                    f"инцидент {saved.id} изменён одновременно другим обработчиком: ни один инцидент "
                    "группы не записан, обновите и повторите"
                ) from exc
            except StoreError:
                self._undo_incidents(done)
                raise
            done.append((saved.id, hit, int(response["_seq_no"]), int(response["_primary_term"])))
            saved_all.append(saved)
        return saved_all

    @staticmethod
    def _check_version(incident_id: str, hit: Mapping[str, Any] | None, expected: int | None) -> None:
        """Raise VersionConflict unless the stored incident `hit` is at the `expected` version."""
        if expected is None:
            if hit is not None:
                raise VersionConflict(f"инцидент {incident_id} уже существует")
            return
        if hit is None:
            raise VersionConflict(f"инцидент {incident_id} не существует, ожидалась версия {expected}")
        version = int(hit["_source"].get("version", 0))
        if version != expected:
            raise VersionConflict(
                f"инцидент {incident_id} имеет версию {version}, ожидалась версия {expected}: "
                "его изменил кто-то другой, обновите и повторите"
            )

    def _undo_incidents(self, done: Sequence[tuple[str, dict[str, Any] | None, int, int]]) -> None:
        """Put back incidents a failed group write wrote (newest first), unless someone wrote them since."""
        index = self._alias("incidents")
        for incident_id, previous, seq_no, term in reversed(done):
            try:
                with self._guard():
                    if previous is None:
                        self.client.delete(
                            index=index,
                            id=incident_id,
                            if_seq_no=seq_no,
                            if_primary_term=term,
                            refresh=self.refresh,
                        )
                    else:
                        self.client.index(
                            index=index,
                            id=incident_id,
                            document=previous["_source"],
                            if_seq_no=seq_no,
                            if_primary_term=term,
                            refresh=self.refresh,
                        )
            except (ConflictError, NotFoundError, StoreError) as exc:
                log.warning("could not undo the group write of incident %s: %s", incident_id, exc)

    def restore_incidents(self, incidents: Sequence[Incident]) -> None:
        """Write incidents exactly as given, versions kept (for migration; replaces by id)."""
        ops = [
            BulkOp("index", self._alias("incidents"), inc.id, incident_doc(inc, seq=i))
            for i, inc in enumerate(sorted(incidents, key=lambda x: x.updated_at))
        ]
        bulk_write(self.client, ops, refresh=self.refresh, sleep=self._sleep).raise_for_failures()

    def get_incident(self, incident_id: str) -> Incident | None:
        """Return one incident by id, or None."""
        try:
            with self._guard():
                response = self.client.get(index=self._alias("incidents"), id=incident_id)
        except NotFoundError:
            return None
        return incident_from_doc(response["_source"])

    def query_incidents(self, query: IncidentQuery) -> Page[Incident]:
        """Return incidents matching `query`, newest first (by created_at)."""
        _check_paging(query.limit, query.offset)
        filters: list[dict[str, Any]] = []
        if query.status is not None:
            filters.append({"terms": {"status": [IncidentStatus(s).value for s in query.status]}})
        for name in ("recipient", "sector", "territory"):
            value = getattr(query, name)
            if value is not None:
                filters.append({"term": {name: value}})
        window: dict[str, str] = {}
        if query.since is not None:
            window["gte"] = _iso(query.since)
        if query.until is not None:
            window["lt"] = _iso(query.until)
        if window:
            filters.append({"range": {"created_at": window}})
        if query.overdue_at is not None:
            moment = _iso(query.overdue_at)
            filters.append(
                {
                    "bool": {
                        "should": [
                            {
                                "bool": {
                                    "filter": [
                                        {"terms": {"status": _FIRST_DUE}},
                                        {"range": {"first_answer_due": {"lt": moment}}},
                                    ]
                                }
                            },
                            {
                                "bool": {
                                    "filter": [
                                        {"terms": {"status": _FINAL_DUE}},
                                        {"range": {"final_answer_due": {"lt": moment}}},
                                    ]
                                }
                            },
                        ],
                        "minimum_should_match": 1,
                    }
                }
            )
        if query.escalation_below is not None:
            filters.append({"range": {"escalation_level": {"lt": query.escalation_below}}})
        if query.step_due_at is not None:
            filters.append({"terms": {"status": [s.value for s in _OPEN_STATUSES]}})
            filters.append(_step_due(query.step_rules, _iso(query.step_due_at)))
        sort = [{"created_at": {"order": "desc"}}, {"id": {"order": "desc"}}]
        hits, total = self._page("incidents", {"bool": {"filter": filters}}, sort, query.limit, query.offset)
        return Page(items=[incident_from_doc(hit["_source"]) for hit in hits], total=total)

    def find_incident_for_post(self, post_id: str) -> Incident | None:
        """Return the incident a post is attached to (the one written last if several list it), or None."""
        response = self._search(
            "incidents",
            query={"term": {"post_ids": post_id}},
            sort=[{"stored_seq": {"order": "desc"}}],
            size=1,
        )
        hits = response["hits"]["hits"]
        return incident_from_doc(hits[0]["_source"]) if hits else None

    # Alerts

    def add_alert(self, alert: Alert) -> bool:
        """Store an alert unless one with the same id exists; return True if it was new."""
        try:
            with self._guard():
                self.client.index(
                    index=self._alias("alerts"),
                    id=alert.id,
                    document=alert_doc(alert),
                    op_type="create",
                    refresh=self.refresh,
                )
        except ConflictError:
            return False
        return True

    def get_alert(self, alert_id: str) -> Alert | None:
        """Return one alert by id, or None."""
        try:
            with self._guard():
                response = self.client.get(index=self._alias("alerts"), id=alert_id)
        except NotFoundError:
            return None
        return alert_from_doc(response["_source"])

    def query_alerts(self, query: AlertQuery) -> Page[Alert]:
        """Return alerts matching `query`, newest first (by created_at)."""
        _check_paging(query.limit, query.offset)
        filters: list[dict[str, Any]] = []
        if query.kind is not None:
            filters.append({"terms": {"kind": [str(kind) for kind in query.kind]}})
        if query.acknowledged is not None:
            filters.append({"term": {"acknowledged": query.acknowledged}})
        if query.since is not None:
            filters.append({"range": {"created_at": {"gte": _iso(query.since)}}})
        sort = [{"created_at": {"order": "desc"}}, {"id": {"order": "desc"}}]
        hits, total = self._page("alerts", {"bool": {"filter": filters}}, sort, query.limit, query.offset)
        return Page(items=[alert_from_doc(hit["_source"]) for hit in hits], total=total)

    def acknowledge_alert(self, alert_id: str, by: str, at: datetime) -> Alert:
        """Mark an alert acknowledged (first acknowledgement wins, guarded by if_seq_no); raise NotFound."""
        index = self._alias("alerts")
        for _ in range(_RMW_ATTEMPTS):
            try:
                with self._guard():
                    current = self.client.get(index=index, id=alert_id)
            except NotFoundError as exc:
                raise NotFound(f"оповещение {alert_id} не найдено") from exc
            alert = alert_from_doc(current["_source"])
            if alert.acknowledged_at is not None:
                return alert
            alert = alert.model_copy(update={"acknowledged_at": as_utc(at), "acknowledged_by": by})
            try:
                with self._guard():
                    self.client.index(
                        index=index,
                        id=alert_id,
                        document=alert_doc(alert),
                        if_seq_no=int(current["_seq_no"]),
                        if_primary_term=int(current["_primary_term"]),
                        refresh=self.refresh,
                    )
            except ConflictError:
                continue
            return alert
        raise StoreUnavailable(f"оповещение {alert_id} постоянно меняется; повторите позже")

    # Subscriptions and the delivery log

    def save_subscription(self, subscription: Subscription) -> None:
        """Store a subscription (replace by id)."""
        with self._guard():
            self.client.index(
                index=self._alias("subscriptions"),
                id=subscription.id,
                document=subscription_doc(subscription),
                refresh=self.refresh,
            )

    def get_subscription(self, subscription_id: str) -> Subscription | None:
        """Return one subscription by id, or None."""
        try:
            with self._guard():
                response = self.client.get(index=self._alias("subscriptions"), id=subscription_id)
        except NotFoundError:
            return None
        return subscription_from_doc(response["_source"])

    def list_subscriptions(self) -> list[Subscription]:
        """Return every subscription, by id."""
        return [subscription_from_doc(doc) for doc in self._all("subscriptions", "id")]

    def delete_subscription(self, subscription_id: str) -> bool:
        """Delete a subscription; return False when there was none (its deliveries stay in the log)."""
        try:
            with self._guard():
                self.client.delete(
                    index=self._alias("subscriptions"), id=subscription_id, refresh=self.refresh
                )
        except NotFoundError:
            return False
        return True

    def add_delivery(self, delivery: Delivery) -> bool:
        """Store a delivery unless one with the same id exists; return True if it was new."""
        try:
            with self._guard():
                self.client.index(
                    index=self._alias("deliveries"),
                    id=delivery.id,
                    document=delivery_doc(delivery),
                    op_type="create",
                    refresh=self.refresh,
                )
        except ConflictError:
            return False
        return True

    def save_delivery(self, delivery: Delivery) -> None:
        """Store a delivery (replace by id)."""
        with self._guard():
            self.client.index(
                index=self._alias("deliveries"),
                id=delivery.id,
                document=delivery_doc(delivery),
                refresh=self.refresh,
            )

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        """Return one delivery by id, or None."""
        try:
            with self._guard():
                response = self.client.get(index=self._alias("deliveries"), id=delivery_id)
        except NotFoundError:
            return None
        return delivery_from_doc(response["_source"])

    def query_deliveries(self, query: DeliveryQuery) -> Page[Delivery]:
        """Return the deliveries matching `query` in sending order (seq, id) unless newest_first."""
        _check_paging(query.limit, query.offset)
        filters: list[dict[str, Any]] = []
        for name in ("alert_id", "subscription_id", "destination"):
            value = getattr(query, name)
            if value is not None:
                filters.append({"term": {name: value}})
        if query.status is not None:
            filters.append({"terms": {"status": [DeliveryStatus(s).value for s in query.status]}})
        order = "desc" if query.newest_first else "asc"
        sort = [{"seq": {"order": order}}, {"id": {"order": order}}]
        hits, total = self._page("deliveries", {"bool": {"filter": filters}}, sort, query.limit, query.offset)
        return Page(items=[delivery_from_doc(hit["_source"]) for hit in hits], total=total)

    # Personal data

    def forget_author(self, author_id: str, at: datetime) -> list[Post]:
        """Delete every post by `author_id` and clean the incidents and alerts about them; return the posts.

        Posts go by one delete_by_query (counts are aggregations, so they follow); incidents are
        scrubbed with optimistic concurrency (index.forgetting.scrub_incident, version bumped); alerts
        that list or quote the posts are rewritten.
        """
        if not author_id:
            return []
        query: dict[str, Any] = {"bool": {"filter": [{"term": {"author_id": author_id}}]}}
        sort = [{"published_at": {"order": "asc"}}, {"id": {"order": "asc"}}]
        posts: list[Post] = []
        while True:
            hits, total = self._page("posts", query, sort, _FORGET_PAGE, len(posts))
            posts.extend(post_from_doc(hit["_source"]) for hit in hits)
            if not hits or len(posts) >= total:
                break
        if not posts:
            return []
        with self._guard():
            self.client.delete_by_query(
                index=self._alias("posts"),
                query=query,
                refresh=True,
                conflicts="proceed",
                ignore_unavailable=True,
                allow_no_indices=True,
            )
        ids = [p.id for p in posts]
        incident_ids: set[str] = set()
        for start in range(0, len(ids), _FORGET_PAGE):
            response = self._search(
                "incidents", query={"terms": {"post_ids": ids[start : start + _FORGET_PAGE]}}, size=MAX_WINDOW
            )
            incident_ids.update(hit["_id"] for hit in response["hits"]["hits"])
        for incident_id in sorted(incident_ids):
            self._scrub_incident(incident_id, posts, at)
        offset = 0
        while True:
            page = self.query_alerts(AlertQuery(limit=_FORGET_PAGE, offset=offset))
            for alert in page.items:
                cleaned = scrub_alert(alert, posts)
                if cleaned is not None:
                    with self._guard():
                        self.client.index(
                            index=self._alias("alerts"),
                            id=alert.id,
                            document=alert_doc(cleaned),
                            refresh=True,
                        )
            offset += len(page.items)
            if not page.items or offset >= page.total:
                break
        return posts

    def _scrub_incident(self, incident_id: str, posts: Sequence[Post], at: datetime) -> None:
        """Remove forgotten posts from one incident, retrying when someone else writes it meanwhile."""
        for _ in range(_RMW_ATTEMPTS):
            current = self.get_incident(incident_id)
            scrubbed = None if current is None else scrub_incident(current, posts, at)
            if current is None or scrubbed is None:
                return
            try:
                self.save_incident(scrubbed, expected_version=current.version)
            except VersionConflict:
                continue
            return
        raise StoreUnavailable(f"инцидент {incident_id} постоянно меняется; повторите позже")

    # Sources and pages

    def get_source_state(self, name: str) -> SourceState | None:
        """Return a collector's state, or None if it never ran."""
        try:
            with self._guard():
                response = self.client.get(index=self._alias("sources"), id=name)
        except NotFoundError:
            return None
        return SourceState.model_validate(response["_source"])

    def save_source_state(self, state: SourceState) -> None:
        """Store a collector's state (replace by name)."""
        with self._guard():
            self.client.index(
                index=self._alias("sources"), id=state.name, document=source_doc(state), refresh=self.refresh
            )

    def _all(self, kind: Kind, key: str) -> list[dict[str, Any]]:
        """Return every document of a small kind, sorted by `key`."""
        hits, _ = self._page(kind, {"match_all": {}}, [{key: {"order": "asc"}}], MAX_WINDOW, 0)
        return [hit["_source"] for hit in hits]

    def list_source_states(self) -> list[SourceState]:
        """Return every collector's state, by name."""
        return [SourceState.model_validate(doc) for doc in self._all("sources", "name")]

    def save_pages(self, pages: Sequence[OfficialPage]) -> None:
        """Store official pages (replace by id)."""
        ops = [BulkOp("index", self._alias("pages"), page.id, page_doc(page)) for page in pages]
        if ops:
            bulk_write(self.client, ops, refresh=self.refresh, sleep=self._sleep).raise_for_failures()
        self._pages_at = -1.0e9

    def list_pages(self) -> list[OfficialPage]:
        """Return every official page, by id."""
        return [OfficialPage.model_validate(doc) for doc in self._all("pages", "id")]

    # Content plan

    def save_plan_decision(self, decision: PlanDecision) -> None:
        """Store a content-plan decision (replace by slot_id)."""
        with self._guard():
            self.client.index(
                index=self._alias("plans"),
                id=decision.slot_id,
                document=decision.model_dump(mode="json"),
                refresh=self.refresh,
            )

    def list_plan_decisions(self, week: str) -> list[PlanDecision]:
        """Return the decisions of one planned week, by slot_id."""
        hits, _ = self._page(
            "plans", {"term": {"week": week}}, [{"slot_id": {"order": "asc"}}], MAX_WINDOW, 0
        )
        return [PlanDecision.model_validate(hit["_source"]) for hit in hits]


def _total_of(response: Mapping[str, Any]) -> tuple[int, bool]:
    """Return a search response's total hits and whether it is exact (relation "eq")."""
    total = response["hits"]["total"]
    return int(total["value"]), total.get("relation", "eq") == "eq"
