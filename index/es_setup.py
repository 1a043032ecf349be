"""Elasticsearch layout: index names, templates from index/mappings, the retention lifecycle, bootstrap."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, Literal

from elasticsearch import ApiError, Elasticsearch

#: Kinds of documents, each in its own indices.
Kind = Literal["posts", "incidents", "alerts", "sources", "pages", "plans", "subscriptions", "deliveries"]
KINDS: tuple[Kind, ...] = ("posts", "incidents", "alerts", "sources", "pages", "plans")
#: Kinds of the alerting store (index.store.AlertingStore): subscriptions and the delivery log. Their one
#: index is created with its mapping directly (no composable template: it never rolls over).
ALERTING_KINDS: tuple[Kind, ...] = ("subscriptions", "deliveries")
#: Every kind the store keeps (bootstrap and clean-up iterate these).
ALL_KINDS: tuple[Kind, ...] = (*KINDS, *ALERTING_KINDS)
#: Kinds kept in one index behind an alias (posts are monthly instead).
SINGLE_KINDS: tuple[Kind, ...] = ("incidents", "alerts", "sources", "pages", "plans", *ALERTING_KINDS)
#: Bumped whenever a template in index/mappings changes; stored in the template's _meta.
TEMPLATE_VERSION = 1
#: Priority of our composable templates (above the built-in ones at 100..200 for logs/metrics).
TEMPLATE_PRIORITY = 500
#: A monthly post index name: <prefix>-posts-YYYY.MM.01, optionally with a generation -NNNNNN.
_MONTH_INDEX = re.compile(r"-posts-(\d{4})\.(\d{2})\.01(?:-(\d+))?$")


@cache
def load_mapping(kind: str) -> dict[str, Any]:
    """Return the template body (settings and mappings) of `kind` from index/mappings/<kind>.json."""
    text = resources.files("index.mappings").joinpath(f"{kind}.json").read_text(encoding="utf-8")
    body: dict[str, Any] = json.loads(text)
    body.pop("_comment", None)
    return body


def mapping_properties(kind: Kind) -> dict[str, Any]:
    """Return the field mappings of `kind` (a fresh copy)."""
    return json.loads(json.dumps(load_mapping(kind)["mappings"]["properties"]))  # type: ignore[no-any-return]


def month_start(moment: datetime) -> datetime:
    """Return the first instant (UTC) of the month holding `moment`."""
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    """Return the first instant of the month after the month starting at `start`."""
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def parse_month(index: str) -> tuple[datetime, int] | None:
    """Return (month start, generation) of a monthly post index name, or None for other names."""
    match = _MONTH_INDEX.search(index)
    if match is None:
        return None
    year, month, generation = match.groups()
    return datetime(int(year), int(month), 1, tzinfo=UTC), int(generation or 1)


@dataclass(frozen=True)
class Layout:
    """Names of every index, alias, template and policy under one prefix."""

    prefix: str = "infopole"
    replicas: int = 0
    lifecycle: bool = True  # False on servers without ILM (osmem-server in tests)
    retention_days: int = 365

    def alias(self, kind: Kind) -> str:
        """Return the read alias of `kind` (for posts the alias over every month)."""
        return f"{self.prefix}-{kind}"

    def template_name(self, kind: Kind) -> str:
        """Return the index template name of `kind`."""
        return f"{self.prefix}-{kind}"

    def pattern(self, kind: Kind) -> str:
        """Return the index pattern of `kind`'s concrete indices."""
        return f"{self.prefix}-{kind}-*"

    def first_index(self, kind: Kind) -> str:
        """Return the first concrete index of a single-index kind."""
        return f"{self.prefix}-{kind}-000001"

    def month_index(self, moment: datetime) -> str:
        """Return the monthly post index (or its alias after a reindex) for a publication time."""
        start = month_start(moment)
        return f"{self.prefix}-posts-{start:%Y.%m}.01"

    @property
    def policy_name(self) -> str:
        """Return the name of the post retention lifecycle policy."""
        return f"{self.prefix}-posts-retention"

    def lifecycle_policy(self) -> dict[str, Any]:
        """Return the delete-only lifecycle policy body with min_age = retention_days."""
        body = json.loads(json.dumps(load_mapping("lifecycle")["policy"]))
        body["phases"]["delete"]["min_age"] = f"{self.retention_days}d"
        body["_meta"] = {"managed_by": "infopole", "retention_days": self.retention_days}
        return body  # type: ignore[no-any-return]

    def template(self, kind: Kind) -> dict[str, Any]:
        """Return the composable index template of `kind` (keyword arguments of put_index_template)."""
        body = json.loads(json.dumps(load_mapping(kind)))
        body["settings"]["number_of_replicas"] = self.replicas
        template: dict[str, Any] = {"settings": body["settings"], "mappings": body["mappings"]}
        if kind == "posts":
            template["aliases"] = {self.alias("posts"): {}}
            if self.lifecycle:
                template["settings"]["index.lifecycle.name"] = self.policy_name
        return {
            "name": self.template_name(kind),
            "index_patterns": [self.pattern(kind)],
            "template": template,
            "priority": TEMPLATE_PRIORITY,
            "meta": {"managed_by": "infopole", "version": TEMPLATE_VERSION},
        }

    def month_settings(self, start: datetime) -> dict[str, Any]:
        """Return the settings a new monthly post index is created with.

        The lifecycle age counts from the end of the month, so no post is deleted before it is
        `retention_days` old.
        """
        if not self.lifecycle:
            return {}
        end_ms = int(next_month(start).timestamp() * 1000)
        return {"index.lifecycle.origination_date": end_ms}


def _exists_error(exc: ApiError) -> bool:
    """Return whether `exc` says the index or alias already exists."""
    return exc.meta.status == 400 and "already_exists" in str(exc.error)


def put_templates(client: Elasticsearch, layout: Layout) -> None:
    """Create or replace the lifecycle policy and the index template of every kind in KINDS."""
    if layout.lifecycle:
        client.ilm.put_lifecycle(name=layout.policy_name, policy=layout.lifecycle_policy())
    for kind in KINDS:
        client.indices.put_index_template(**layout.template(kind))


def ensure_single_indices(client: Elasticsearch, layout: Layout) -> None:
    """Create the first index of every single-index kind with its alias, unless the alias exists.

    Alerting kinds get their mapping here (index/mappings/<kind>.json); the others from their template.
    """
    for kind in SINGLE_KINDS:
        alias = layout.alias(kind)
        if client.indices.exists_alias(name=alias):
            continue
        body: dict[str, Any] = {}
        if kind in ALERTING_KINDS:
            template = layout.template(kind)["template"]
            body = {"settings": template["settings"], "mappings": template["mappings"]}
        try:
            client.indices.create(index=layout.first_index(kind), aliases={alias: {}}, **body)
        except ApiError as exc:
            if not _exists_error(exc):
                raise


def create_month_index(client: Elasticsearch, layout: Layout, name: str, start: datetime) -> None:
    """Create a monthly post index from the template (no error if it exists already)."""
    try:
        settings = layout.month_settings(start)
        if settings:
            client.indices.create(index=name, settings=settings)
        else:
            client.indices.create(index=name)
    except ApiError as exc:
        if not _exists_error(exc):
            raise


def bootstrap(client: Elasticsearch, layout: Layout) -> None:
    """Prepare a cluster for the store: lifecycle policy, templates, the single indices and aliases."""
    put_templates(client, layout)
    ensure_single_indices(client, layout)
