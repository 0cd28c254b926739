"""Export each service's OpenAPI (from FastAPI) and AsyncAPI (from its messaging code) documents.

`python -m deh_platform.apidocs` writes services/<name>/docs/{openapi,asyncapi}.json for every
service installed (each declares its app in the `deh.services` entry point group, so the platform
finds services without depending on them); `--check` only reports stale files (a test runs it)."""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from deh_platform.asyncapi import asyncapi_document


def installed_services() -> dict[str, str]:
    """Each installed service's name and app ("events": "deh_events.app:app")."""
    return {point.name: point.value for point in entry_points(group="deh.services")}


def documents(service: str) -> dict[str, dict[str, Any]]:
    (app_entry,) = entry_points(group="deh.services", name=service)
    app: FastAPI = app_entry.load()
    return {"openapi.json": app.openapi(), "asyncapi.json": asyncapi_document(app.state.runtime, app.title)}


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale(services_root: Path, service: str) -> list[Path]:
    folder = services_root / service / "docs"
    return [
        folder / name
        for name, document in documents(service).items()
        if not (folder / name).exists() or (folder / name).read_text() != render(document)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services-root", type=Path, default=Path("services"))
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    services = sorted(installed_services())
    outdated = [path for service in services for path in stale(args.services_root, service)]
    if args.check:
        for path in outdated:
            print(f"stale: {path}", file=sys.stderr)
        return 1 if outdated else 0
    for service in services:
        folder = args.services_root / service / "docs"
        folder.mkdir(exist_ok=True)
        for name, document in documents(service).items():
            (folder / name).write_text(render(document))
    print(f"wrote OpenAPI and AsyncAPI documents of {', '.join(services)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
