"""Static checks of the shipped Kibana saved objects against the index templates (no Kibana needed)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from dashboards.build import DATA_VIEWS, NDJSON_PATH, render
from index.es_setup import Layout, mapping_properties

#: Field types each Lens operation accepts.
OPERATION_TYPES = {
    "date_histogram": {"date"},
    "terms": {"keyword", "long", "integer", "boolean", "float"},
    "sum": {"long", "integer", "float"},
    "average": {"long", "integer", "float"},
    "median": {"long", "integer", "float"},
    "max": {"long", "integer", "float", "date"},
    "min": {"long", "integer", "float", "date"},
    "unique_count": {"keyword", "long", "integer"},
}
#: A field compared in KQL: `name :`, `name <`, `name >=`, ...
KQL_FIELD = re.compile(r"([A-Za-z_][\w.]*)\s*(?::|<=|>=|<|>)")
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


def objects() -> list[dict[str, Any]]:
    lines = NDJSON_PATH.read_text(encoding="utf-8").splitlines()
    parsed = [json.loads(line) for line in lines]
    assert "exportedCount" in parsed[-1], "the last line is the export summary"
    assert parsed[-1]["exportedCount"] == len(parsed) - 1 and parsed[-1]["missingRefCount"] == 0
    return parsed[:-1]


def by_type(kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects() if obj["type"] == kind]


def fields_of(view_id: str) -> dict[str, str]:
    """Return every field path of a data view's index template and its type."""
    kind = DATA_VIEWS[view_id][3]
    flat: dict[str, str] = {}

    def walk(props: dict[str, Any], prefix: str) -> None:
        for name, spec in props.items():
            path = prefix + name
            if "properties" in spec:
                walk(spec["properties"], path + ".")
            else:
                flat[path] = spec.get("type", "object")
            for sub, sub_spec in spec.get("fields", {}).items():
                flat[f"{path}.{sub}"] = sub_spec["type"]

    walk(mapping_properties(kind), "")  # type: ignore[arg-type]
    return flat


def test_file_is_what_the_builder_makes() -> None:
    assert NDJSON_PATH.read_text(encoding="utf-8") == render(), "run: python -m dashboards.build"


def test_every_line_is_a_complete_saved_object_with_a_unique_id() -> None:
    seen = set()
    for obj in objects():
        assert {
            "id",
            "type",
            "attributes",
            "references",
            "coreMigrationVersion",
            "typeMigrationVersion",
        } <= set(obj)
        assert (obj["type"], obj["id"]) not in seen
        seen.add((obj["type"], obj["id"]))


def test_every_reference_exists_in_the_file() -> None:
    present = {(obj["type"], obj["id"]) for obj in objects()}
    for obj in objects():
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in present, (obj["id"], ref)


def test_data_views_point_at_the_store_aliases_with_date_time_fields() -> None:
    layout = Layout()
    views = {obj["id"]: obj["attributes"] for obj in by_type("index-pattern")}
    assert set(views) == {"infopole-posts", "infopole-incidents", "infopole-alerts", "infopole-pages"}
    for view_id, attributes in views.items():
        kind = DATA_VIEWS[view_id][3]
        assert attributes["title"] == layout.alias(kind)  # type: ignore[arg-type]
        if "timeFieldName" in attributes:
            assert fields_of(view_id)[attributes["timeFieldName"]] == "date"


def _kql_fields(query: str) -> list[str]:
    without_strings = re.sub(r'"[^"]*"', '""', query)
    return [name for name in KQL_FIELD.findall(without_strings) if name not in {"and", "or", "not"}]


def test_every_field_a_visualization_uses_exists_with_a_compatible_type() -> None:
    for lens in by_type("lens"):
        state = lens["attributes"]["state"]
        refs = {ref["name"]: ref["id"] for ref in lens["references"]}
        for layer_id, layer in state["datasourceStates"]["formBased"]["layers"].items():
            view = refs[f"indexpattern-datasource-layer-{layer_id}"]
            fields = fields_of(view)
            assert set(layer["columnOrder"]) == set(layer["columns"])
            for column in layer["columns"].values():
                source = column.get("sourceField")
                operation = column["operationType"]
                if source and source != "___records___":
                    assert source in fields, (lens["id"], source)
                    assert fields[source] in OPERATION_TYPES[operation], (lens["id"], source, operation)
                queries = [column.get("filter", {}).get("query", "")]
                queries += [f["input"]["query"] for f in column.get("params", {}).get("filters", [])]
                for query in queries:
                    for name in _kql_fields(query):
                        assert name in fields, (lens["id"], name)
            for name in _kql_fields(state["query"]["query"]):
                assert name in fields, (lens["id"], name)


def test_visualization_accessors_name_existing_columns() -> None:
    for lens in by_type("lens"):
        state = lens["attributes"]["state"]
        columns = {
            c for layer in state["datasourceStates"]["formBased"]["layers"].values() for c in layer["columns"]
        }
        text = json.dumps(state["visualization"])
        named = set(
            re.findall(
                r'"(?:xAccessor|yAccessor|valueAccessor|splitAccessor|metricAccessor|columnId)": "([^"]+)"',
                text,
            )
        )
        for key in ("accessors", "primaryGroups", "metrics"):
            for layer in state["visualization"].get("layers", []):
                named.update(layer.get(key, []))
        assert named and named <= columns, lens["id"]


def test_saved_searches_use_existing_fields() -> None:
    for search in by_type("search"):
        view = next(ref["id"] for ref in search["references"])
        fields = fields_of(view)
        source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert source["indexRefName"] == search["references"][0]["name"]
        for column in search["attributes"]["columns"]:
            assert column in fields, (search["id"], column)
        for name in _kql_fields(source["query"]["query"]):
            assert name in fields, (search["id"], name)


def test_every_visualization_and_search_is_on_a_dashboard() -> None:
    placed = set()
    for board in by_type("dashboard"):
        panels = json.loads(board["attributes"]["panelsJSON"])
        names = {ref["name"]: (ref["type"], ref["id"]) for ref in board["references"]}
        for panel in panels:
            ref = names[f"{panel['panelIndex']}:{panel['panelRefName']}"]
            assert ref[0] == panel["type"]
            placed.add(ref)
            grid = panel["gridData"]
            assert grid["x"] + grid["w"] <= 48
    shown = {(obj["type"], obj["id"]) for obj in objects() if obj["type"] in ("lens", "search")}
    assert shown == placed


def test_the_three_dashboards_and_every_title_are_russian() -> None:
    titles = {board["attributes"]["title"] for board in by_type("dashboard")}
    assert titles == {"Инфополе", "Инциденты и сроки", "Госпаблики"}
    for obj in objects():
        title = (
            obj["attributes"].get("title") if obj["type"] != "index-pattern" else obj["attributes"]["name"]
        )
        assert CYRILLIC.search(title), obj["id"]
        for layer in (
            obj["attributes"]
            .get("state", {})
            .get("datasourceStates", {})
            .get("formBased", {})
            .get("layers", {})
            .values()
        ):
            for column in layer["columns"].values():
                assert CYRILLIC.search(column["label"]), (obj["id"], column["label"])


@pytest.mark.parametrize(
    ("board", "needed"),
    [
        (
            "infopole-dashboard-field",
            {
                "infopole-volume-by-sector",
                "infopole-territory-heatmap",
                "infopole-top-topics",
                "infopole-top-stories",
                "infopole-tone-share",
                "infopole-aggression-share",
                "infopole-spikes",
                "infopole-negative-under-pages",
            },
        ),
        (
            "infopole-dashboard-incidents",
            {
                "infopole-incidents-by-recipient",
                "infopole-incidents-on-time",
                "infopole-incidents-first-answer",
                "infopole-incidents-escalations",
            },
        ),
        (
            "infopole-dashboard-pages",
            {
                "infopole-pages-posts-vs-norm",
                "infopole-pages-views",
                "infopole-pages-engagement",
                "infopole-pages-unanswered",
            },
        ),
    ],
)
def test_each_dashboard_has_what_the_issue_asks(board: str, needed: set[str]) -> None:
    dashboard = next(obj for obj in by_type("dashboard") if obj["id"] == board)
    assert needed <= {ref["id"] for ref in dashboard["references"]}
