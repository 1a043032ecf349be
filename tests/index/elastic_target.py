"""Where the Elasticsearch tests run: a real cluster (INFOPOLE_TEST_ES_URL) or osmem-server started here.

osmem-server (PyPI, dev extra) is an in-memory OpenSearch-compatible server; it has no lifecycle
policies and wants plain `application/json`, so the store runs with lifecycle off and PlainJsonNode.
Without it the tests fail under CI=true and skip otherwise.
"""

from __future__ import annotations

import itertools
import os
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from index.elastic import ElasticStore, connect
from index.es_setup import ALL_KINDS, Layout

_server: Any = None
_counter = itertools.count(1)


@dataclass(frozen=True)
class EsTarget:
    """A cluster to test against: its URL, whether it is real Elasticsearch, credentials."""

    url: str
    real: bool
    user: str = ""
    password: str = ""

    def client(self) -> Elasticsearch:
        """Return a new client for the target."""
        return connect(self.url, self.user, self.password, plain_json=not self.real)


def es_target() -> EsTarget:
    """Return the test cluster, starting osmem-server once per session; fail or skip when unavailable."""
    global _server
    url = os.environ.get("INFOPOLE_TEST_ES_URL", "")
    if url:
        return EsTarget(
            url,
            real=True,
            user=os.environ.get("INFOPOLE_TEST_ES_USER", "elastic"),
            password=os.environ.get("INFOPOLE_TEST_ES_PASSWORD", ""),
        )
    if _server is None:
        try:
            from osmem_server import OsmemServer
        except ImportError:
            message = "osmem-server не установлен: pip install -e '.[dev]'"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        _server = OsmemServer.start(addr="127.0.0.1:0", japanese=False)
    return EsTarget(_server.url, real=False)


def unique_prefix() -> str:
    """Return an index prefix no other test uses."""
    return f"t{next(_counter)}-{uuid.uuid4().hex[:8]}"


def open_elastic_store(prefix: str | None = None, **options: Any) -> ElasticStore:
    """Return an empty ElasticStore under a fresh prefix on the test cluster."""
    target = es_target()
    layout = Layout(prefix=prefix or unique_prefix(), lifecycle=target.real, retention_days=365)
    return ElasticStore(target.client(), layout, **options)


def drop_store(store: ElasticStore) -> None:
    """Delete every index, template and policy of a test store, then close it."""
    layout = store.layout
    client = store.client
    for kind in ALL_KINDS:
        client.options(ignore_status=404).indices.delete(index=layout.pattern(kind))
        client.options(ignore_status=404).indices.delete_index_template(name=layout.template_name(kind))
    if layout.lifecycle:
        client.options(ignore_status=404).ilm.delete_lifecycle(name=layout.policy_name)
    store.close()
