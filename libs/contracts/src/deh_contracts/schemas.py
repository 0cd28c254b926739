"""JSON Schemas for every message type and the event catalogue document, generated from the
models and committed, so that partner systems in any language can validate what they send and
read. `python -m deh_contracts.schemas` regenerates them; it refuses a breaking change."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from deh_contracts.compatibility import breaking_changes
from deh_contracts.conformance import conformance_cases
from deh_contracts.envelope import SCHEMA_URN_PREFIX
from deh_contracts.partner_guide import partner_guide
from deh_contracts.registry import TOPICS, MessageType, all_types

LIBRARY_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = LIBRARY_ROOT / "schemas"
CATALOGUE_FILE = LIBRARY_ROOT / "CATALOGUE.md"
PARTNER_GUIDE_FILE = LIBRARY_ROOT.parents[1] / "docs" / "partners.md"
CONFORMANCE_FILE = LIBRARY_ROOT.parents[1] / "docs" / "conformance" / "cases.json"


def json_schema(spec: MessageType) -> dict[str, Any]:
    schema = spec.model.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_URN_PREFIX + spec.type_name,
        "x-cloudevents-type": spec.type_name,
        "x-kafka-topic": spec.topic.name,
        "x-subject-field": spec.subject_field,
        **schema,
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def expected_files() -> dict[Path, str]:
    """Every generated file and its exact content."""
    files = {
        SCHEMA_DIR / f"{type_name}.json": render(json_schema(spec)) for type_name, spec in sorted(all_types().items())
    }
    files[CATALOGUE_FILE] = catalogue_markdown()
    files[PARTNER_GUIDE_FILE] = partner_guide()
    files[CONFORMANCE_FILE] = conformance_cases()
    return files


def catalogue_markdown() -> str:
    lines = [
        "# Event catalogue",
        "",
        "Generated from `deh_contracts` by `python -m deh_contracts.schemas`; do not edit by hand.",
        "Every message is a CloudEvent 1.0 in Kafka binary content mode: the value is the data as JSON,",
        "the attributes are `ce_*` headers, the key is the subject. JSON Schemas: `schemas/<type>.json`.",
        "",
        "## Topics",
        "",
        "| topic | key | partitions | config | producer | consumers |",
        "|---|---|---|---|---|---|",
    ]
    for topic in TOPICS:
        config = ", ".join(f"{key}={value}" for key, value in topic.config.items())
        consumers = ", ".join(topic.consumers) or "-"
        lines.append(
            f"| `{topic.name}` | {topic.key} | {topic.partitions} | {config} | {topic.producer} | {consumers} |"
        )
    lines += [
        "",
        "## Message types",
        "",
        "| type | topic | key (subject) | producer | consumers | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for type_name, spec in sorted(all_types().items()):
        topic = spec.topic
        lines.append(
            f"| `{type_name}` | `{topic.name}` | `{spec.subject_field}` | {topic.producer} | "
            f"{', '.join(topic.consumers) or '-'} | {_first_sentence(spec.description)} |"
        )
    return "\n".join(lines) + "\n"


def _first_sentence(text: str) -> str:
    sentence = " ".join(text.split()).split(". ")[0]
    return sentence if sentence.endswith(".") else sentence + "."


def stale_files() -> list[Path]:
    expected = expected_files()
    stale = [path for path, content in expected.items() if not path.exists() or path.read_text() != content]
    orphans = [path for path in SCHEMA_DIR.glob("*.json") if path not in expected]
    return stale + orphans


def incompatible_changes() -> dict[str, list[str]]:
    """Breaking changes of the models against the committed (published) schemas."""
    problems: dict[str, list[str]] = {}
    for type_name, spec in all_types().items():
        published = SCHEMA_DIR / f"{type_name}.json"
        if published.exists():
            breaks = breaking_changes(json.loads(published.read_text()), json_schema(spec))
            if breaks:
                problems[type_name] = breaks
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale or incompatible files")
    args = parser.parse_args(argv)
    problems = incompatible_changes()
    for type_name, breaks in problems.items():
        print(f"{type_name} would break its published contract:\n  " + "\n  ".join(breaks), file=sys.stderr)
    if problems:
        print("Publish a new version (…v2) instead of changing this one.", file=sys.stderr)
        return 1
    stale = stale_files()
    if args.check:
        for path in stale:
            print(f"stale: {path}", file=sys.stderr)
        return 1 if stale else 0
    SCHEMA_DIR.mkdir(exist_ok=True)
    for path in stale:
        if path.parent == SCHEMA_DIR and path not in expected_files():
            path.unlink()
    for path, content in expected_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    print(f"wrote {len(list(SCHEMA_DIR.glob('*.json')))} schemas, {CATALOGUE_FILE.name} and {PARTNER_GUIDE_FILE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
