"""The OpenSearch Dashboards objects in deploy/ are what the code generates, and every field they
name exists in the index mappings (Dashboards cannot run on every machine; this can)."""

from __future__ import annotations

import json

import pytest

from deh_monitoring.adapters.indexes import ACTIVITY_MAPPINGS, INDICATOR_MAPPINGS, OBSERVATION_MAPPINGS
from deh_monitoring.dashboards import CHARTS, COMMITTED, PATTERNS, ndjson, saved_objects

pytestmark = pytest.mark.unit
MAPPINGS = {
    "monitoring-activity": ACTIVITY_MAPPINGS,
    "monitoring-indicators": INDICATOR_MAPPINGS,
    "monitoring-observations": OBSERVATION_MAPPINGS,
}


def test_the_committed_saved_objects_are_up_to_date() -> None:
    assert COMMITTED.read_text() == ndjson(), "run: uv run python -m deh_monitoring.dashboards"


def test_every_field_a_chart_names_is_in_its_index_mapping() -> None:
    for chart in CHARTS:
        for pattern, name in chart.fields():
            assert name in MAPPINGS[pattern]["properties"], f"{chart.id} names {name}, not in {pattern}"
    for pattern, (_, time_field) in PATTERNS.items():
        assert MAPPINGS[pattern]["properties"][time_field]["type"] == "date"


def test_every_reference_points_at_an_object_in_the_file() -> None:
    objects = saved_objects()
    ids = {(item["type"], item["id"]) for item in objects}
    for item in objects:
        for reference in item["references"]:
            assert (reference["type"], reference["id"]) in ids
        for name in ("visState", "panelsJSON"):
            if name in item["attributes"]:
                json.loads(item["attributes"][name])
