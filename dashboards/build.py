"""Build dashboards/infopole.ndjson: Kibana 8 saved objects (data views, Lens, searches, dashboards).

Run `python -m dashboards.build` after changing a visualization; a test checks the committed file is
what this module builds. Every title an analyst sees is Russian.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Where the saved objects are written.
NDJSON_PATH = Path(__file__).with_name("infopole.ndjson")
#: Migration versions the objects are written in (Kibana migrates them forward on import).
CORE_VERSION = "8.8.0"
TYPE_VERSIONS = {"index-pattern": "8.0.0", "search": "8.0.0", "lens": "8.9.0", "dashboard": "8.9.0"}
#: Data views: id → (index alias, time field, Russian name, index kind for the field checks).
DATA_VIEWS: dict[str, tuple[str, str | None, str, str]] = {
    "infopole-posts": ("infopole-posts", "published_at", "Сообщения", "posts"),
    "infopole-incidents": ("infopole-incidents", "created_at", "Инциденты", "incidents"),
    "infopole-alerts": ("infopole-alerts", "created_at", "Оповещения", "alerts"),
    "infopole-pages": ("infopole-pages", None, "Госпаблики", "pages"),
}
#: KQL of an overdue incident (its running deadline has passed).
OVERDUE = (
    '((status : "new" or status : "assigned") and first_answer_due < "now") '
    'or (status : "interim" and final_answer_due < "now")'
)
#: KQL of a citizen's comment under an official page that the page has not answered.
UNANSWERED = "page_id : * and not is_official : true and parent_id : * and not answered_at : *"
#: KQL of posts by the official pages themselves.
OFFICIAL = "is_official : true"


def kql(query: str) -> dict[str, str]:
    """Return a KQL query object."""
    return {"query": query, "language": "kuery"}


# Lens columns --------------------------------------------------------------------------------------


def date_col(source: str, label: str, interval: str = "auto") -> dict[str, Any]:
    """Return a date histogram column."""
    return {
        "label": label,
        "customLabel": True,
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": source,
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": interval, "includeEmptyRows": True, "dropPartials": False},
    }


def terms_col(source: str, label: str, size: int, order_by: str, data_type: str = "string") -> dict[str, Any]:
    """Return a top-values column ordered by the metric column `order_by`."""
    return {
        "label": label,
        "customLabel": True,
        "dataType": data_type,
        "operationType": "terms",
        "sourceField": source,
        "isBucketed": True,
        "scale": "ordinal",
        "params": {
            "size": size,
            "orderBy": {"type": "column", "columnId": order_by},
            "orderDirection": "desc",
            "otherBucket": True,
            "missingBucket": False,
        },
    }


def filters_col(label: str, filters: list[tuple[str, str]]) -> dict[str, Any]:
    """Return a filters column: one bucket per (Russian label, KQL)."""
    return {
        "label": label,
        "customLabel": True,
        "dataType": "string",
        "operationType": "filters",
        "isBucketed": True,
        "scale": "ordinal",
        "params": {"filters": [{"label": name, "input": kql(query)} for name, query in filters]},
    }


def count_col(label: str, query: str | None = None) -> dict[str, Any]:
    """Return a count column, optionally of the documents matching a KQL filter."""
    column: dict[str, Any] = {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": "count",
        "sourceField": "___records___",
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": False},
    }
    if query:
        column["filter"] = kql(query)
    return column


def metric_col(operation: str, source: str, label: str, query: str | None = None) -> dict[str, Any]:
    """Return a numeric metric column (sum, average, median, max, min, unique_count) of a field."""
    column: dict[str, Any] = {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": operation,
        "sourceField": source,
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True},
    }
    if query:
        column["filter"] = kql(query)
    return column


# Saved objects --------------------------------------------------------------------------------------


def saved(
    kind: str, object_id: str, attributes: dict[str, Any], references: list[dict[str, str]]
) -> dict[str, Any]:
    """Return one saved object in export form."""
    return {
        "id": object_id,
        "type": kind,
        "attributes": attributes,
        "references": references,
        "coreMigrationVersion": CORE_VERSION,
        "typeMigrationVersion": TYPE_VERSIONS[kind],
        "managed": False,
    }


def data_view(view_id: str) -> dict[str, Any]:
    """Return a data view (index-pattern) saved object."""
    title, time_field, name, _ = DATA_VIEWS[view_id]
    attributes: dict[str, Any] = {"title": title, "name": name, "allowNoIndex": True}
    if time_field:
        attributes["timeFieldName"] = time_field
    return saved("index-pattern", view_id, attributes, [])


@dataclass
class Lens:
    """A Lens visualization with one form-based layer."""

    id: str
    title: str
    view: str
    vis_type: str  # lnsXY | lnsPie | lnsHeatmap | lnsDatatable | lnsMetric
    columns: dict[str, dict[str, Any]]
    visualization: dict[str, Any]
    query: str = ""
    description: str = ""
    layer: str = "layer1"
    order: list[str] = field(default_factory=list)

    def saved_object(self) -> dict[str, Any]:
        """Return the lens saved object."""
        layer = {
            "columnOrder": self.order or list(self.columns),
            "columns": self.columns,
            "incompleteColumns": {},
        }
        state = {
            "datasourceStates": {"formBased": {"layers": {self.layer: layer}}},
            "visualization": self.visualization,
            "query": kql(self.query),
            "filters": [],
            "internalReferences": [],
            "adHocDataViews": {},
        }
        attributes = {
            "title": self.title,
            "description": self.description,
            "visualizationType": self.vis_type,
            "state": state,
        }
        ref = {
            "type": "index-pattern",
            "id": self.view,
            "name": f"indexpattern-datasource-layer-{self.layer}",
        }
        return saved("lens", self.id, attributes, [ref])


def xy(layer: str, x: str, y: list[str], series: str, split: str | None = None) -> dict[str, Any]:
    """Return an XY visualization state with one data layer."""
    data_layer: dict[str, Any] = {
        "layerId": layer,
        "layerType": "data",
        "seriesType": series,
        "xAccessor": x,
        "accessors": y,
        "palette": {"type": "palette", "name": "default"},
    }
    if split:
        data_layer["splitAccessor"] = split
    return {
        "legend": {"isVisible": True, "position": "right"},
        "valueLabels": "hide",
        "fittingFunction": "None",
        "preferredSeriesType": series,
        "axisTitlesVisibilitySettings": {"x": False, "yLeft": False, "yRight": False},
        "layers": [data_layer],
    }


def pie(layer: str, groups: list[str], metric: str) -> dict[str, Any]:
    """Return a donut visualization state showing percentages."""
    return {
        "shape": "donut",
        "palette": {"type": "palette", "name": "default"},
        "layers": [
            {
                "layerId": layer,
                "layerType": "data",
                "primaryGroups": groups,
                "metrics": [metric],
                "numberDisplay": "percent",
                "categoryDisplay": "default",
                "legendDisplay": "default",
                "nestedLegend": False,
            }
        ],
    }


def table(layer: str, columns: list[str]) -> dict[str, Any]:
    """Return a data table visualization state."""
    return {
        "layerId": layer,
        "layerType": "data",
        "columns": [{"columnId": column, "isTransposed": False} for column in columns],
    }


def metric(layer: str, accessor: str) -> dict[str, Any]:
    """Return a metric visualization state."""
    return {"layerId": layer, "layerType": "data", "metricAccessor": accessor}


def heatmap(layer: str, x: str, y: str, value: str) -> dict[str, Any]:
    """Return a heat map visualization state."""
    return {
        "shape": "heatmap",
        "layerId": layer,
        "layerType": "data",
        "xAccessor": x,
        "yAccessor": y,
        "valueAccessor": value,
        "legend": {"isVisible": True, "position": "right", "type": "heatmap_legend"},
        "gridConfig": {
            "type": "heatmap_grid",
            "isCellLabelVisible": False,
            "isYAxisLabelVisible": True,
            "isXAxisLabelVisible": True,
            "isYAxisTitleVisible": False,
            "isXAxisTitleVisible": False,
        },
    }


def search(
    search_id: str, title: str, view: str, query: str, columns: list[str], sort_field: str | None
) -> dict[str, Any]:
    """Return a saved Discover search."""
    source = {
        "query": kql(query),
        "filter": [],
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    }
    attributes = {
        "title": title,
        "description": "",
        "columns": columns,
        "sort": [[sort_field, "desc"]] if sort_field else [],
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source, ensure_ascii=False)},
    }
    ref = {"type": "index-pattern", "id": view, "name": "kibanaSavedObjectMeta.searchSourceJSON.index"}
    return saved("search", search_id, attributes, [ref])


def dashboard(
    dashboard_id: str, title: str, description: str, panels: list[tuple[str, str, int, int]]
) -> dict[str, Any]:
    """Return a dashboard of by-reference panels: (type, id, width, height), laid out left to right."""
    items, references = [], []
    x = y = row_h = 0
    for number, (kind, object_id, width, height) in enumerate(panels, 1):
        if x + width > 48:
            x, y, row_h = 0, y + row_h, 0
        panel_index = f"p{number}"
        items.append(
            {
                "type": kind,
                "gridData": {"x": x, "y": y, "w": width, "h": height, "i": panel_index},
                "panelIndex": panel_index,
                "embeddableConfig": {"enhancements": {}},
                "panelRefName": f"panel_{panel_index}",
            }
        )
        references.append({"type": kind, "id": object_id, "name": f"{panel_index}:panel_{panel_index}"})
        x, row_h = x + width, max(row_h, height)
    attributes = {
        "title": title,
        "description": description,
        "panelsJSON": json.dumps(items, ensure_ascii=False),
        "optionsJSON": json.dumps({"useMargins": True, "syncColors": False, "hidePanelTitles": False}),
        "timeRestore": True,
        "timeFrom": "now-30d",
        "timeTo": "now",
        "refreshInterval": {"pause": False, "value": 300000},
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({"query": kql(""), "filter": []})},
    }
    return saved("dashboard", dashboard_id, attributes, references)


# The three dashboards -----------------------------------------------------------------------------


def field_lenses() -> list[Lens]:
    """Return the visualizations of «Инфополе»."""
    return [
        Lens(
            "infopole-volume-by-sector",
            "Объём сообщений по секторам",
            "infopole-posts",
            "lnsXY",
            {
                "when": date_col("published_at", "Время"),
                "sector": terms_col("sector", "Сектор", 10, "count"),
                "count": count_col("Сообщений"),
            },
            xy("layer1", "when", ["count"], "bar_stacked", "sector"),
            order=["sector", "when", "count"],
        ),
        Lens(
            "infopole-territory-heatmap",
            "Тепловая карта по территориям",
            "infopole-posts",
            "lnsHeatmap",
            {
                "day": date_col("published_at", "День", "1d"),
                "territory": terms_col("territory", "Территория", 20, "count"),
                "count": count_col("Сообщений"),
            },
            heatmap("layer1", "day", "territory", "count"),
            order=["territory", "day", "count"],
        ),
        Lens(
            "infopole-top-topics",
            "Главные темы",
            "infopole-posts",
            "lnsXY",
            {"topic": terms_col("topic", "Тема", 15, "count"), "count": count_col("Сообщений")},
            xy("layer1", "topic", ["count"], "bar_horizontal"),
        ),
        Lens(
            "infopole-top-stories",
            "Главные сюжеты",
            "infopole-posts",
            "lnsDatatable",
            {
                "story": terms_col("story_id", "Сюжет", 20, "count"),
                "count": count_col("Сообщений"),
                "authors": metric_col("unique_count", "author_id", "Авторов"),
                "reach": metric_col("sum", "metrics.views", "Просмотров"),
            },
            table("layer1", ["story", "count", "authors", "reach"]),
            query="story_id : *",
        ),
        Lens(
            "infopole-tone-share",
            "Доли тональности",
            "infopole-posts",
            "lnsPie",
            {"tone": terms_col("tone", "Тональность", 3, "count"), "count": count_col("Сообщений")},
            pie("layer1", ["tone"], "count"),
        ),
        Lens(
            "infopole-aggression-share",
            "Доля агрессивных сообщений",
            "infopole-posts",
            "lnsPie",
            {
                "level": filters_col(
                    "Агрессия", [("агрессивные", "aggression >= 0.5"), ("прочие", "aggression < 0.5")]
                ),
                "count": count_col("Сообщений"),
            },
            pie("layer1", ["level"], "count"),
        ),
    ]


def incident_lenses() -> list[Lens]:
    """Return the visualizations of «Инциденты и сроки»."""
    return [
        Lens(
            "infopole-incidents-by-recipient",
            "Открытые и просроченные по исполнителям",
            "infopole-incidents",
            "lnsDatatable",
            {
                "recipient": terms_col("recipient", "Исполнитель", 30, "open"),
                "open": count_col("Открыто", "is_open : true"),
                "overdue": count_col("Просрочено", OVERDUE),
                "all": count_col("Всего"),
            },
            table("layer1", ["recipient", "open", "overdue", "all"]),
        ),
        Lens(
            "infopole-incidents-on-time",
            "Доля ответов в срок",
            "infopole-incidents",
            "lnsPie",
            {
                "timely": filters_col(
                    "Первый ответ",
                    [
                        ("в срок", "answered_on_time : true"),
                        ("с нарушением срока", "answered_on_time : false"),
                    ],
                ),
                "count": count_col("Инцидентов"),
            },
            pie("layer1", ["timely"], "count"),
        ),
        Lens(
            "infopole-incidents-first-answer",
            "Медиана времени до первого ответа, ч",
            "infopole-incidents",
            "lnsMetric",
            {"median": metric_col("median", "first_answer_hours", "Медиана, ч")},
            metric("layer1", "median"),
        ),
        Lens(
            "infopole-incidents-escalations",
            "Эскалации по исполнителям и уровням",
            "infopole-incidents",
            "lnsXY",
            {
                "recipient": terms_col("recipient", "Исполнитель", 20, "count"),
                "level": terms_col("escalation_level", "Уровень эскалации", 4, "count", "number"),
                "count": count_col("Инцидентов"),
            },
            xy("layer1", "recipient", ["count"], "bar_horizontal_stacked", "level"),
            query="escalation_level > 0",
        ),
    ]


def page_lenses() -> list[Lens]:
    """Return the visualizations of «Госпаблики»."""
    return [
        Lens(
            "infopole-pages-posts-vs-norm",
            "Постов в неделю против нормы",
            "infopole-posts",
            "lnsDatatable",
            {
                "page": terms_col("page_name", "Госпаблик", 50, "posts"),
                "week": date_col("published_at", "Неделя", "1w"),
                "posts": count_col("Постов"),
                "norm": metric_col("max", "page_norm_per_week", "Норма в неделю"),
            },
            table("layer1", ["page", "week", "posts", "norm"]),
            query=OFFICIAL,
        ),
        Lens(
            "infopole-pages-views",
            "Просмотры постов госпабликов",
            "infopole-posts",
            "lnsXY",
            {
                "week": date_col("published_at", "Неделя", "1w"),
                "page": terms_col("page_name", "Госпаблик", 10, "views"),
                "views": metric_col("sum", "metrics.views", "Просмотров"),
            },
            xy("layer1", "week", ["views"], "line", "page"),
            query=OFFICIAL,
            order=["page", "week", "views"],
        ),
        Lens(
            "infopole-pages-engagement",
            "Вовлечённость по госпабликам",
            "infopole-posts",
            "lnsDatatable",
            {
                "page": terms_col("page_name", "Госпаблик", 50, "total"),
                "total": metric_col("sum", "engagement", "Реакций всего"),
                "mean": metric_col("average", "engagement", "Реакций на пост"),
                "views": metric_col("average", "metrics.views", "Просмотров на пост"),
            },
            table("layer1", ["page", "total", "mean", "views"]),
            query=OFFICIAL,
        ),
        Lens(
            "infopole-pages-unanswered",
            "Комментарии без ответа",
            "infopole-posts",
            "lnsXY",
            {"page": terms_col("page_name", "Госпаблик", 30, "count"), "count": count_col("Без ответа")},
            xy("layer1", "page", ["count"], "bar_horizontal"),
            query=UNANSWERED,
        ),
    ]


def saved_objects() -> list[dict[str, Any]]:
    """Return every saved object, data views first and dashboards last."""
    objects = [data_view(view_id) for view_id in DATA_VIEWS]
    field, incidents, pages = field_lenses(), incident_lenses(), page_lenses()
    objects += [lens.saved_object() for lens in (*field, *incidents, *pages)]
    objects += [
        search(
            "infopole-spikes",
            "Всплески и их объяснение",
            "infopole-alerts",
            'kind : "spike"',
            ["title", "text", "sector", "territory", "severity"],
            "created_at",
        ),
        search(
            "infopole-negative-under-pages",
            "Негативные сообщения под официальными страницами",
            "infopole-posts",
            'tone : "negative" and page_id : * and not is_official : true',
            ["page_name", "text", "author_name", "sector", "territory"],
            "published_at",
        ),
        search(
            "infopole-pages-registry",
            "Реестр госпабликов",
            "infopole-pages",
            "",
            ["name", "network", "category", "norm_per_week", "followers"],
            None,
        ),
    ]
    objects.append(
        dashboard(
            "infopole-dashboard-field",
            "Инфополе",
            "Объём сообщений, территории, темы и сюжеты, тональность и агрессия, всплески, негатив под "
            "официальными страницами.",
            [
                ("lens", "infopole-volume-by-sector", 32, 14),
                ("lens", "infopole-tone-share", 8, 14),
                ("lens", "infopole-aggression-share", 8, 14),
                ("lens", "infopole-territory-heatmap", 24, 16),
                ("lens", "infopole-top-topics", 12, 16),
                ("lens", "infopole-top-stories", 12, 16),
                ("search", "infopole-spikes", 48, 14),
                ("search", "infopole-negative-under-pages", 48, 16),
            ],
        )
    )
    objects.append(
        dashboard(
            "infopole-dashboard-incidents",
            "Инциденты и сроки",
            "Открытые и просроченные инциденты по исполнителям, доля ответов в срок, время до первого "
            "ответа, эскалации.",
            [
                ("lens", "infopole-incidents-by-recipient", 28, 16),
                ("lens", "infopole-incidents-on-time", 10, 16),
                ("lens", "infopole-incidents-first-answer", 10, 16),
                ("lens", "infopole-incidents-escalations", 48, 14),
            ],
        )
    )
    objects.append(
        dashboard(
            "infopole-dashboard-pages",
            "Госпаблики",
            "Посты в неделю против нормы, просмотры, вовлечённость и комментарии без ответа по каждому "
            "госпаблику.",
            [
                ("lens", "infopole-pages-posts-vs-norm", 24, 18),
                ("lens", "infopole-pages-engagement", 24, 18),
                ("lens", "infopole-pages-views", 24, 14),
                ("lens", "infopole-pages-unanswered", 24, 14),
                ("search", "infopole-pages-registry", 48, 12),
            ],
        )
    )
    return objects


def render() -> str:
    """Return the ndjson text: one object per line, then the export summary line."""
    objects = saved_objects()
    lines = [json.dumps(obj, ensure_ascii=False, sort_keys=True) for obj in objects]
    summary = {
        "excludedObjects": [],
        "excludedObjectsCount": 0,
        "exportedCount": len(objects),
        "missingRefCount": 0,
        "missingReferences": [],
    }
    lines.append(json.dumps(summary, sort_keys=True))
    return "\n".join(lines) + "\n"


def main() -> None:
    """Write dashboards/infopole.ndjson."""
    NDJSON_PATH.write_text(render(), encoding="utf-8")
    print(f"written {NDJSON_PATH}")  # noqa: T201


if __name__ == "__main__":
    main()
