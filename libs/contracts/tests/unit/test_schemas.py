"""The committed JSON Schemas and catalogue match the models, and published versions only grow."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from deh_contracts.compatibility import breaking_changes
from deh_contracts.registry import all_types
from deh_contracts.schemas import SCHEMA_DIR, incompatible_changes, json_schema, stale_files

pytestmark = pytest.mark.unit


def test_committed_schemas_and_catalogue_are_up_to_date() -> None:
    assert stale_files() == [], "run: uv run python -m deh_contracts.schemas"


def test_every_type_is_versioned_and_has_a_schema() -> None:
    for type_name in all_types():
        assert type_name.startswith("eu.deh.")
        assert type_name.rsplit(".", 1)[-1] == "v1"
        assert (SCHEMA_DIR / f"{type_name}.json").exists()


def test_no_model_breaks_its_published_schema() -> None:
    assert incompatible_changes() == {}


def published(type_name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / f"{type_name}.json").read_text())
    return schema


APPROVED = "eu.deh.membership.member.approved.v1"
PUBLISHED = "eu.deh.practices.practice.published.v1"


def test_a_removed_field_is_breaking() -> None:
    new = copy.deepcopy(published(APPROVED))
    del new["properties"]["roles"]
    new["required"].remove("roles")

    assert breaking_changes(published(APPROVED), new) == ["(root).roles: field removed or renamed"]


def test_a_changed_type_is_breaking() -> None:
    new = copy.deepcopy(published(APPROVED))
    new["properties"]["approved_by"] = {"type": "integer"}

    assert breaking_changes(published(APPROVED), new) == ["(root).approved_by: type changed from string to integer"]


def test_an_optional_field_made_required_is_breaking() -> None:
    new = copy.deepcopy(published(APPROVED))
    new["required"].append("display_name")

    assert breaking_changes(published(APPROVED), new) == ["(root).display_name: field is now required"]


def test_a_removed_enum_value_deep_in_a_nested_model_is_breaking() -> None:
    new = copy.deepcopy(published(PUBLISHED))
    sectors = new["$defs"]["PracticeMetadata"]["properties"]["sectors"]["items"]
    sectors["enum"].remove("youth")

    assert breaking_changes(published(PUBLISHED), new) == ["(root).metadata.sectors[]: enum values removed: ['youth']"]


def test_additive_changes_are_compatible() -> None:
    new = copy.deepcopy(published(APPROVED))
    new["properties"]["mentor_id"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    new["properties"]["country"]["enum"].append("UA")

    assert breaking_changes(published(APPROVED), new) == []


def test_a_field_that_may_now_be_null_is_breaking_because_older_readers_refuse_null() -> None:
    new = copy.deepcopy(published(APPROVED))
    new["properties"]["approved_by"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}

    assert breaking_changes(published(APPROVED), new) == [
        "(root).approved_by: now also accepts null, which older readers refuse"
    ]


def test_a_model_change_that_breaks_is_caught_against_the_committed_schema() -> None:
    spec = all_types()[APPROVED]
    current = json_schema(spec)
    current["properties"].pop("country")

    assert "(root).country: field removed or renamed" in breaking_changes(published(APPROVED), current)
