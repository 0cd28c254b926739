"""OpenSearch Dashboards saved objects for the monitoring indexes: index patterns, one
visualization per question, and an overview dashboard of the Action Plan. Generated here, so
that a test can check every field they name against the index mappings; committed as
`deploy/dashboards/monitoring.ndjson` (`python -m deh_monitoring.dashboards` writes it) and
imported with `python -m deh_monitoring.admin import-dashboards --url <dashboards>`."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PATTERNS = {
    # id -> (title: the alias or index with the default prefix, time field)
    "monitoring-activity": ("monitoring-activity", "at"),
    "monitoring-indicators": ("monitoring-indicators", "day"),
    "monitoring-observations": ("monitoring-observations", "period_end"),
}
COMMITTED = Path(__file__).resolve().parents[4] / "deploy" / "dashboards" / "monitoring.ndjson"


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    kind: str  # line, histogram, horizontal_bar, pie, table
    pattern: str
    query: str  # a KQL query of `field:value` terms joined by " or "
    buckets: list[dict[str, Any]] = field(default_factory=list)  # aggregations after the metric
    metric: dict[str, Any] = field(default_factory=lambda: {"type": "count", "params": {}})

    def fields(self) -> list[tuple[str, str]]:
        """(pattern, field) for every field the chart names: in its query and its aggregations."""
        named = [term.split(":", 1)[0].strip() for term in self.query.split(" or ") if ":" in term]
        named += [agg["params"]["field"] for agg in [self.metric, *self.buckets] if "field" in agg.get("params", {})]
        return [(self.pattern, name) for name in named]

    def saved_object(self) -> dict[str, Any]:
        aggs = [{"id": "1", "enabled": True, "schema": "metric", **self.metric}]
        aggs += [{"id": str(n), "enabled": True, **bucket} for n, bucket in enumerate(self.buckets, start=2)]
        vis_state = {
            "title": self.title,
            "type": self.kind,
            "aggs": aggs,
            "params": {"addLegend": True, "addTooltip": True},
        }
        search_source = {
            "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
            "query": {"query": self.query, "language": "kuery"},
            "filter": [],
        }
        return {
            "type": "visualization",
            "id": self.id,
            "attributes": {
                "title": self.title,
                "visState": json.dumps(vis_state),
                "uiStateJSON": "{}",
                "description": "",
                "version": 1,
                "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(search_source)},
            },
            "references": [
                {"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern", "id": self.pattern}
            ],
        }


def _over_time(field_name: str, interval: str) -> dict[str, Any]:
    return {
        "type": "date_histogram",
        "schema": "segment",
        "params": {"field": field_name, "calendar_interval": interval},
    }


def _split(field_name: str, size: int = 10, schema: str = "segment") -> dict[str, Any]:
    return {
        "type": "terms",
        "schema": schema,
        "params": {"field": field_name, "size": size, "order": "desc", "orderBy": "1"},
    }


CHARTS = [
    Chart(
        "deh-members-approved",
        "Members approved per day",
        "line",
        "monitoring-activity",
        "indicators:members_approved",
        [_over_time("day", "1d")],
    ),
    Chart(
        "deh-members-by-country",
        "New members by country",
        "horizontal_bar",
        "monitoring-activity",
        "indicators:members_approved",
        [_split("countries", 30)],
    ),
    Chart(
        "deh-practices-by-competence",
        "Practices published by competence",
        "horizontal_bar",
        "monitoring-activity",
        "indicators:practices_published",
        [_split("competences", 30)],
    ),
    Chart(
        "deh-practices-by-result",
        "Practices published by result type",
        "pie",
        "monitoring-activity",
        "indicators:practices_published",
        [_split("result_type")],
    ),
    Chart(
        "deh-events-by-kind",
        "Events by kind",
        "pie",
        "monitoring-activity",
        "indicators:events_scheduled",
        [_split("event_kind")],
    ),
    Chart(
        "deh-attendance",
        "Registrations, attendance and no-shows per month",
        "histogram",
        "monitoring-activity",
        "indicators:registrations or indicators:attendances or indicators:no_shows",
        [_over_time("day", "1M"), _split("indicators", 3, "group")],
    ),
    Chart(
        "deh-indicators-by-country",
        "Indicators by country (each event once per country it names)",
        "table",
        "monitoring-activity",
        "",
        [_split("indicators", 40, "bucket"), _split("countries", 40, "bucket")],
    ),
    Chart(
        "deh-indicator-cells-per-day",
        "Indicator cells per day",
        "line",
        "monitoring-indicators",
        "indicator:members_approved or indicator:practices_published or indicator:registrations",
        [_over_time("day", "1d"), _split("indicator", 3, "group")],
        {"type": "sum", "params": {"field": "value"}},
    ),
    Chart(
        "deh-target-observations",
        "Observations of the EU-level targets",
        "line",
        "monitoring-observations",
        "",
        [_over_time("period_end", "1y"), _split("target", 5, "group")],
        {"type": "max", "params": {"field": "value"}},
    ),
]


def _index_pattern(pattern_id: str) -> dict[str, Any]:
    title, time_field = PATTERNS[pattern_id]
    return {
        "type": "index-pattern",
        "id": pattern_id,
        "attributes": {"title": title, "timeFieldName": time_field},
        "references": [],
    }


def _dashboard() -> dict[str, Any]:
    panels = [
        {
            "panelIndex": str(n),
            "gridData": {"x": 24 * (n % 2), "y": 15 * (n // 2), "w": 24, "h": 15, "i": str(n)},
            "version": "2.19.0",
            "panelRefName": f"panel_{n}",
        }
        for n in range(len(CHARTS))
    ]
    empty_search = {"query": {"query": "", "language": "kuery"}, "filter": []}
    return {
        "type": "dashboard",
        "id": "deh-action-plan-overview",
        "attributes": {
            "title": "Digital Education Action Plan: overview",
            "description": "The hub's activity and the EU-level targets, from the monitoring indexes.",
            "panelsJSON": json.dumps(panels),
            "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}),
            "timeRestore": False,
            "version": 1,
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(empty_search)},
        },
        "references": [
            {"name": f"panel_{n}", "type": "visualization", "id": chart.id} for n, chart in enumerate(CHARTS)
        ],
    }


def saved_objects() -> list[dict[str, Any]]:
    return [
        *(_index_pattern(pattern) for pattern in PATTERNS),
        *(chart.saved_object() for chart in CHARTS),
        _dashboard(),
    ]


def ndjson() -> str:
    return "".join(json.dumps(item, sort_keys=True) + "\n" for item in saved_objects())


if __name__ == "__main__":
    COMMITTED.parent.mkdir(parents=True, exist_ok=True)
    COMMITTED.write_text(ndjson())
    sys.stdout.write(f"wrote {COMMITTED}\n")
