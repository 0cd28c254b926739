"""The committed API documents of every service match what the code generates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deh_platform.apidocs import stale
from deh_stack.config import SERVICE_NAMES

pytestmark = pytest.mark.unit

SERVICES_ROOT = Path(__file__).resolve().parents[2] / "services"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_openapi_and_asyncapi_documents_are_up_to_date(service: str) -> None:
    assert stale(SERVICES_ROOT, service) == [], "run: uv run python -m deh_platform.apidocs"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_input_a_client_sends_has_a_documented_limit(service: str) -> None:
    """Strings have a length limit (or a vocabulary or format), lists and maps a size limit, in
    request bodies and parameters alike, so that the document says what the service refuses."""
    document = json.loads((SERVICES_ROOT / service / "docs" / "openapi.json").read_text())
    unbounded = [
        f"{where}{path}"
        for where, schema in _inputs(document)
        for path in _unbounded(schema, document["components"]["schemas"], "", set())
    ]
    assert unbounded == []


def _inputs(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for route, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {route} "
            for parameter in operation.get("parameters", []):
                yield where + parameter["name"], parameter["schema"]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            if body:
                yield where + "body", body["schema"]


def _unbounded(schema: dict[str, Any], components: dict[str, Any], path: str, seen: set[str]) -> Iterator[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            yield from _unbounded(components[name], components, path, seen | {name})
        return
    kind = schema.get("type")
    if kind == "string" and not ({"maxLength", "enum", "const"} & set(schema) or schema.get("format") in FORMATS):
        yield path
    if kind == "array" and "maxItems" not in schema:
        yield path
    a_map = kind == "object" and isinstance(schema.get("additionalProperties"), dict)
    keys_from_a_vocabulary = "enum" in schema.get("propertyNames", {})
    if a_map and not ("maxProperties" in schema or keys_from_a_vocabulary):
        yield path
    for name, part in schema.get("properties", {}).items():
        yield from _unbounded(part, components, f"{path}.{name}", seen)
    for key in ("items", "additionalProperties", "propertyNames"):
        if isinstance(schema.get(key), dict):
            yield from _unbounded(schema[key], components, f"{path}[]", seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, []):
            yield from _unbounded(part, components, path, seen)


# Formats whose text has a length of its own (a date, an email address of at most 254 characters).
FORMATS = {"date", "date-time", "email"}
