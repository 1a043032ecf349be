"""Index templates cover every model field with a fitting type, and the Russian analysis is defined."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from index.es_docs import ALERT_DERIVED, INCIDENT_DERIVED, POST_DERIVED
from index.es_setup import KINDS, Layout, load_mapping, mapping_properties, parse_month
from index.models import Alert, Incident, OfficialPage, PlanDecision, Post, SourceState

MODELS: dict[str, type[BaseModel]] = {
    "posts": Post,
    "incidents": Incident,
    "alerts": Alert,
    "sources": SourceState,
    "pages": OfficialPage,
    "plans": PlanDecision,
}
DERIVED = {"posts": POST_DERIVED, "incidents": INCIDENT_DERIVED, "alerts": ALERT_DERIVED}


@pytest.mark.parametrize("kind", KINDS)
def test_every_model_field_is_mapped_and_nothing_else(kind: str) -> None:
    properties = mapping_properties(kind)  # type: ignore[arg-type]
    fields = set(MODELS[kind].model_fields)
    assert fields - set(properties) == set(), "a model field has no mapping: add it to index/mappings"
    assert set(properties) - fields == set(DERIVED.get(kind, ()))


@pytest.mark.parametrize("kind", KINDS)
def test_dynamic_fields_are_not_indexed(kind: str) -> None:
    assert load_mapping(kind)["mappings"]["dynamic"] is False


def _type(kind: str, path: str) -> str:
    node: dict[str, Any] = {"properties": mapping_properties(kind)}  # type: ignore[arg-type]
    for part in path.split("."):
        node = node["properties"][part]
    return str(node.get("type", "object"))


def test_post_field_types() -> None:
    keywords = ["sector", "topic", "kind", "tone", "territory", "source", "page_id", "author_id", "story_id"]
    assert {name: _type("posts", name) for name in keywords} == dict.fromkeys(keywords, "keyword")
    assert _type("posts", "published_at") == _type("posts", "collected_at") == "date"
    assert _type("posts", "location") == "geo_point"
    assert _type("posts", "metrics.views") == "long"
    raw = mapping_properties("posts")["raw"]
    assert raw == {"type": "object", "enabled": False}  # stored, not indexed
    text = mapping_properties("posts")["text"]
    assert text["analyzer"] == "ru_text" and text["fields"]["exact"]["analyzer"] == "ru_exact"
    assert mapping_properties("posts")["lemmas"]["analyzer"] == "ru_lemmas"


def test_russian_analyzer_folds_yo_drops_stop_words_and_stems() -> None:
    analysis = load_mapping("posts")["settings"]["analysis"]
    assert analysis["char_filter"]["yo_to_e"]["mappings"] == ["ё => е", "Ё => Е"]
    ru_text = analysis["analyzer"]["ru_text"]
    assert ru_text["char_filter"] == ["yo_to_e"]
    assert ru_text["filter"] == ["lowercase", "russian_stop", "russian_stemmer"]
    assert analysis["filter"]["russian_stop"]["stopwords"] == "_russian_"
    assert analysis["filter"]["russian_stemmer"]["language"] == "russian"
    assert "russian_stemmer" not in analysis["analyzer"]["ru_exact"]["filter"]


def test_month_index_names_round_trip() -> None:
    from datetime import UTC, datetime

    layout = Layout(prefix="mcu")
    name = layout.month_index(datetime(2026, 12, 31, 23, tzinfo=UTC))
    assert name == "mcu-posts-2026.12.01"
    assert parse_month(name) == (datetime(2026, 12, 1, tzinfo=UTC), 1)
    assert parse_month(name + "-000003") == (datetime(2026, 12, 1, tzinfo=UTC), 3)
    assert parse_month("mcu-incidents-000001") is None
