"""Operator commands of the monitoring service (run beside the running service):

python -m deh_monitoring.admin rebuild   replay every domain topic from the earliest offset into
                                         new index versions, then move the aliases to them
python -m deh_monitoring.admin delete-old-versions
                                         delete the index versions no alias points at (after a
                                         rebuild, once the new numbers are checked)
python -m deh_monitoring.admin import-dashboards --url http://dashboards:5601
                                         import the index patterns, visualizations and the
                                         overview dashboard (deh_monitoring.dashboards)
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import httpx

from deh_monitoring.adapters.indexes import MonitoringIndexes
from deh_monitoring.adapters.rebuild import rebuild
from deh_monitoring.dashboards import ndjson
from deh_monitoring.settings import MonitoringSettings
from deh_platform.operations import progress_bar


async def import_dashboards(url: str) -> str:
    """Import (and overwrite) the saved objects through the Dashboards API."""
    files = {"file": ("monitoring.ndjson", ndjson().encode(), "application/ndjson")}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        response = await client.post(
            "/api/saved_objects/_import", params={"overwrite": "true"}, files=files, headers={"osd-xsrf": "true"}
        )
    response.raise_for_status()
    answer = response.json()
    if not answer.get("success"):
        raise SystemExit(f"Dashboards refused some objects: {answer.get('errors')}")
    return f"{answer['successCount']} saved objects imported"


async def run() -> str:
    moves = await rebuild(MonitoringSettings(), progress_bar)
    lines = [f"{alias} -> {new} (was {old})" for alias, (old, new) in moves.items()]
    return "\n".join([*lines, "the old versions stay until: python -m deh_monitoring.admin delete-old-versions"])


async def delete_old_versions(settings: MonitoringSettings) -> str:
    search = settings.opensearch_client()
    indexes = MonitoringIndexes.named(settings.index_prefix)
    deleted = []
    try:
        for index in (indexes.activity, indexes.indicators):
            versions = await search.indices.get(index=f"{index.alias}-v*")
            # A version with an alias is live, or being filled by a rebuild: it stays.
            for version in sorted(name for name, found in versions.items() if not found.get("aliases")):
                await search.indices.delete(index=version)
                deleted.append(version)
    finally:
        await search.close()
    return f"deleted: {', '.join(deleted) or 'nothing'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["rebuild", "delete-old-versions", "import-dashboards"])
    parser.add_argument("--url", default="http://127.0.0.1:5601", help="OpenSearch Dashboards (import-dashboards)")
    arguments = parser.parse_args(argv)
    if arguments.command == "import-dashboards":
        print(asyncio.run(import_dashboards(arguments.url)))
    elif arguments.command == "delete-old-versions":
        print(asyncio.run(delete_old_versions(MonitoringSettings())))
    else:
        print(asyncio.run(run()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
