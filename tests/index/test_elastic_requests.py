"""The exact requests the Elasticsearch store sends where osmem-server cannot answer: lifecycle policy,
lifecycle settings of monthly indices, optimistic concurrency, and bulk retries with backoff."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from elastic_transport import ApiResponseMeta, BaseNode, HttpHeaders, NodeConfig
from elastic_transport._node import NodeApiResponse
from elasticsearch import Elasticsearch

from index.elastic import ElasticStore
from index.es_bulk import BACKOFF_FIRST_S, BulkOp, BulkWriteError, bulk_write
from index.es_compat import plain_content_type
from index.es_setup import Layout
from index.store import VersionConflict
from tests.factories import make_incident, make_post


@dataclass
class Request:
    """One request the client sent."""

    method: str
    path: str
    params: dict[str, list[str]]
    body: Any
    headers: dict[str, str]


Handler = Callable[[Request], tuple[int, Any]]


@dataclass
class FakeCluster:
    """Records every request and answers through `handler` (default: 200 {"acknowledged": true})."""

    handler: Handler | None = None
    requests: list[Request] = field(default_factory=list)

    def answer(self, request: Request) -> tuple[int, Any]:
        self.requests.append(request)
        if self.handler is not None:
            return self.handler(request)
        return 200, {"acknowledged": True}

    def sent(self, method: str, path_part: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and path_part in r.path]


def _decode(body: bytes | None, content_type: str) -> Any:
    if not body:
        return None
    text = body.decode("utf-8")
    if "ndjson" in content_type:
        return [json.loads(line) for line in text.splitlines() if line]
    return json.loads(text)


def client_for(cluster: FakeCluster) -> Elasticsearch:
    """Return a real Elasticsearch client whose node hands every request to `cluster`."""

    class FakeNode(BaseNode):
        def __init__(self, config: NodeConfig) -> None:
            super().__init__(config)

        def perform_request(self, method, target, body=None, headers=None, request_timeout=None):
            parts = urlsplit(target)
            header_map = {k.lower(): v for k, v in (headers or {}).items()}
            request = Request(
                method,
                parts.path,
                parse_qs(parts.query),
                _decode(body, header_map.get("content-type", "")),
                header_map,
            )
            status, payload = cluster.answer(request)
            meta = ApiResponseMeta(
                status=status,
                http_version="1.1",
                headers=HttpHeaders(
                    {"content-type": "application/json", "x-elastic-product": "Elasticsearch"}
                ),
                duration=0.0,
                node=self.config,
            )
            return NodeApiResponse(meta, json.dumps(payload).encode("utf-8"))

    return Elasticsearch("http://fake:9200", node_class=FakeNode, max_retries=0)


def test_setup_puts_the_delete_only_lifecycle_policy_and_templates() -> None:
    cluster = FakeCluster()
    ElasticStore(client_for(cluster), Layout(prefix="mcu", retention_days=400), sleep=lambda _: None)
    (policy,) = cluster.sent("PUT", "/_ilm/policy/")
    assert policy.path == "/_ilm/policy/mcu-posts-retention"
    assert policy.body["policy"]["phases"] == {"delete": {"min_age": "400d", "actions": {"delete": {}}}}
    templates = {r.path.rsplit("/", 1)[1]: r.body for r in cluster.sent("PUT", "/_index_template/")}
    assert set(templates) == {
        f"mcu-{k}" for k in ("posts", "incidents", "alerts", "sources", "pages", "plans")
    }
    posts = templates["mcu-posts"]
    assert posts["index_patterns"] == ["mcu-posts-*"]
    assert posts["template"]["aliases"] == {"mcu-posts": {}}
    assert posts["template"]["settings"]["index.lifecycle.name"] == "mcu-posts-retention"
    assert posts["template"]["settings"]["number_of_replicas"] == 0
    # Lifecycle only on post indices; the policy is put before the templates that name it.
    assert "index.lifecycle.name" not in templates["mcu-incidents"]["template"]["settings"]
    order = [r.path for r in cluster.requests if r.method == "PUT"]
    assert order[0] == "/_ilm/policy/mcu-posts-retention"


def test_lifecycle_off_sends_no_ilm_request() -> None:
    cluster = FakeCluster()
    ElasticStore(client_for(cluster), Layout(prefix="mcu", lifecycle=False))
    assert not [r for r in cluster.requests if "_ilm" in r.path]
    template = next(r.body for r in cluster.sent("PUT", "/_index_template/mcu-posts"))
    assert "index.lifecycle.name" not in template["template"]["settings"]


def _search_empty(request: Request) -> tuple[int, Any]:
    if request.method == "HEAD":
        return 404, {}
    if request.path.endswith("/_search"):
        return 200, {"hits": {"total": {"value": 0}, "hits": []}}
    if request.path.endswith("/_bulk"):
        items = [
            {"index": {"_id": line["index"]["_id"], "status": 201}}
            for line in request.body
            if "index" in line
        ]
        return 200, {"errors": False, "items": items}
    return 200, {"acknowledged": True}


def test_a_new_month_index_ages_from_the_end_of_its_month() -> None:
    cluster = FakeCluster(_search_empty)
    store = ElasticStore(client_for(cluster), Layout(prefix="mcu"), setup=False)
    store.upsert_posts([make_post(published_at=datetime(2024, 12, 17, 9, tzinfo=UTC))])
    (create,) = [r for r in cluster.sent("PUT", "/mcu-posts-") if "_doc" not in r.path]
    assert create.path == "/mcu-posts-2024.12.01"
    end = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)
    assert create.body == {"settings": {"index.lifecycle.origination_date": end}}
    (bulk,) = cluster.sent("PUT", "/_bulk") or cluster.sent("POST", "/_bulk")
    assert bulk.body[0] == {"index": {"_index": "mcu-posts-2024.12.01", "_id": bulk.body[1]["id"]}}
    assert bulk.params["refresh"] == ["wait_for"]


def test_incident_update_is_conditional_on_seq_no_and_primary_term() -> None:
    incident = make_incident()
    stored = incident.model_copy(update={"version": 3})

    def handler(request: Request) -> tuple[int, Any]:
        if request.method == "GET":
            return 200, {
                "_id": incident.id,
                "_seq_no": 41,
                "_primary_term": 2,
                "found": True,
                "_source": json.loads(stored.model_dump_json()),
            }
        return 200, {"result": "updated", "_seq_no": 42, "_primary_term": 2}

    cluster = FakeCluster(handler)
    store = ElasticStore(client_for(cluster), Layout(prefix="mcu"), setup=False)
    saved = store.save_incident(stored, expected_version=3)
    assert saved.version == 4
    (write,) = cluster.sent("PUT", f"/mcu-incidents/_doc/{incident.id}")
    assert write.params["if_seq_no"] == ["41"] and write.params["if_primary_term"] == ["2"]
    assert write.body["version"] == 4
    with pytest.raises(VersionConflict):
        store.save_incident(stored, expected_version=2)  # stored is 3: refused before writing
    assert len(cluster.sent("PUT", "/_doc/")) == 1


def test_incident_update_that_loses_the_race_is_a_version_conflict() -> None:
    incident = make_incident().model_copy(update={"version": 1})

    def handler(request: Request) -> tuple[int, Any]:
        if request.method == "GET":
            return 200, {
                "_id": incident.id,
                "_seq_no": 7,
                "_primary_term": 1,
                "found": True,
                "_source": json.loads(incident.model_dump_json()),
            }
        return 409, {
            "error": {"type": "version_conflict_engine_exception", "reason": "seq_no mismatch"},
            "status": 409,
        }

    store = ElasticStore(client_for(FakeCluster(handler)), Layout(prefix="mcu"), setup=False)
    with pytest.raises(VersionConflict):
        store.save_incident(incident, expected_version=1)


def _ops(n: int) -> list[BulkOp]:
    return [BulkOp("index", "mcu-x", f"d{i}", {"n": i}) for i in range(n)]


def test_bulk_retries_429_and_5xx_items_with_backoff_and_reports_the_rest() -> None:
    attempts: dict[str, int] = {}

    def handler(request: Request) -> tuple[int, Any]:
        items = []
        for line in request.body[::2]:
            doc_id = line["index"]["_id"]
            attempts[doc_id] = attempts.get(doc_id, 0) + 1
            if doc_id == "d1" and attempts[doc_id] < 3:
                items.append(
                    {
                        "index": {
                            "_id": doc_id,
                            "status": 429,
                            "error": {"type": "es_rejected_execution_exception"},
                        }
                    }
                )
            elif doc_id == "d2" and attempts[doc_id] < 2:
                items.append(
                    {
                        "index": {
                            "_id": doc_id,
                            "status": 503,
                            "error": {"type": "unavailable_shards_exception"},
                        }
                    }
                )
            elif doc_id == "d3":
                items.append(
                    {
                        "index": {
                            "_id": doc_id,
                            "status": 400,
                            "error": {"type": "mapper_parsing_exception", "reason": "bad n"},
                        }
                    }
                )
            else:
                items.append({"index": {"_id": doc_id, "status": 201, "result": "created"}})
        return 200, {"errors": True, "items": items}

    cluster = FakeCluster(handler)
    waits: list[float] = []
    result = bulk_write(client_for(cluster), _ops(5), sleep=waits.append)
    assert set(result.results) == {"d0", "d1", "d2", "d4"}
    assert result.failures == {"d3": "mapper_parsing_exception: bad n"}
    assert waits == [BACKOFF_FIRST_S, BACKOFF_FIRST_S * 2]  # exponential
    # Only the failed items are sent again.
    assert [len(r.body) // 2 for r in cluster.requests] == [5, 2, 1]
    with pytest.raises(BulkWriteError, match="d3"):
        result.raise_for_failures()


def test_bulk_retries_a_whole_request_answered_503_then_gives_up_with_every_id() -> None:
    calls = 0

    def handler(request: Request) -> tuple[int, Any]:
        nonlocal calls
        calls += 1
        return 503, {"error": {"type": "cluster_block_exception", "reason": "no master"}, "status": 503}

    waits: list[float] = []
    result = bulk_write(client_for(FakeCluster(handler)), _ops(3), sleep=waits.append)
    assert calls == 6 and len(waits) == 5
    assert set(result.failures) == {"d0", "d1", "d2"}


def test_bulk_splits_into_chunks() -> None:
    cluster = FakeCluster(_search_empty)
    bulk_write(client_for(cluster), _ops(1200), max_docs=500)
    assert [len(r.body) // 2 for r in cluster.requests] == [500, 500, 200]


def test_plain_content_type_for_opensearch_compatible_servers() -> None:
    compat = "application/vnd.elasticsearch+json; compatible-with=8"
    assert plain_content_type(compat) == "application/json"
    assert (
        plain_content_type("application/vnd.elasticsearch+x-ndjson; compatible-with=8")
        == "application/x-ndjson"
    )
    assert plain_content_type("application/json") == "application/json"
