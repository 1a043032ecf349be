"""`infopole kibana load`: waits for Kibana, imports with overwrite, fails loudly on errors (fake Kibana)."""

from __future__ import annotations

import json

import httpx
import pytest

from dashboards.build import NDJSON_PATH
from dashboards.kibana import KibanaError, load_dashboards, retarget


class FakeKibana:
    """Answers /api/status (unavailable for the first calls) and the saved-objects import API."""

    def __init__(self, ready_after: int = 2, import_body: dict[str, object] | None = None) -> None:
        self.status_calls = 0
        self.ready_after = ready_after
        self.imports: list[httpx.Request] = []
        self.import_body = import_body or {"success": True, "successCount": 24, "errors": []}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/status":
            self.status_calls += 1
            if self.status_calls <= self.ready_after:
                return httpx.Response(503, json={"status": {"overall": {"level": "unavailable"}}})
            return httpx.Response(200, json={"status": {"overall": {"level": "available"}}})
        if request.url.path.endswith("/api/saved_objects/_import"):
            self.imports.append(request)
            return httpx.Response(200, json=self.import_body)
        return httpx.Response(404)


def test_waits_for_kibana_then_imports_with_overwrite_and_xsrf() -> None:
    kibana = FakeKibana()
    waits: list[float] = []
    result = load_dashboards(
        "http://kibana:5601", "elastic", "secret", transport=httpx.MockTransport(kibana), sleep=waits.append
    )
    assert result.success_count == 24
    assert kibana.status_calls == 3 and len(waits) == 2
    (request,) = kibana.imports
    assert request.url.params["overwrite"] == "true"
    assert request.headers["kbn-xsrf"] == "true"
    assert request.headers["authorization"].startswith("Basic ")
    body = request.read()
    assert b'name="file"; filename="infopole.ndjson"' in body
    assert NDJSON_PATH.read_bytes() in body


def test_space_and_prefix_are_applied() -> None:
    kibana = FakeKibana(ready_after=0)
    load_dashboards(
        "http://kibana:5601/", transport=httpx.MockTransport(kibana), prefix="region", space="mcu"
    )
    (request,) = kibana.imports
    assert request.url.path == "/s/mcu/api/saved_objects/_import"
    body = request.read().decode("utf-8")
    assert '"title": "region-posts"' in body and '"title": "infopole-posts"' not in body


def test_import_errors_are_reported_in_russian() -> None:
    failing = {
        "success": False,
        "successCount": 20,
        "errors": [{"type": "lens", "id": "infopole-top-topics", "error": {"type": "missing_references"}}],
    }
    kibana = FakeKibana(ready_after=0, import_body=failing)
    with pytest.raises(
        KibanaError, match="импорт в Kibana не удался: lens infopole-top-topics: missing_references"
    ):
        load_dashboards("http://kibana:5601", transport=httpx.MockTransport(kibana))


def test_kibana_that_never_comes_up_times_out() -> None:
    kibana = FakeKibana(ready_after=10**6)
    with pytest.raises(KibanaError, match="не готова"):
        load_dashboards(
            "http://kibana:5601", transport=httpx.MockTransport(kibana), wait_s=0.01, sleep=lambda _: None
        )
    assert kibana.imports == []


def test_retarget_changes_only_data_view_titles() -> None:
    text = NDJSON_PATH.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in retarget(text, "region").splitlines()]
    titles = [obj["attributes"]["title"] for obj in lines if obj.get("type") == "index-pattern"]
    assert titles == ["region-posts", "region-incidents", "region-alerts", "region-pages"]
    assert retarget(text, "infopole") == text
