"""Operator commands of the practices service (run beside the running service):

python -m deh_practices.admin rebuild      reindex from MongoDB into a new index, swap the alias
python -m deh_practices.admin link-check   check every published practice's links
python -m deh_practices.admin flag-stale   send practices whose last review is too old to review
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from deh_platform.operations import progress_bar
from deh_platform.runtime import ServiceRuntime
from deh_practices.adapters.index import RebuildRunning, SearchIndex
from deh_practices.adapters.links import LinkPolicy, check_links, client
from deh_practices.adapters.store import PracticeStore
from deh_practices.settings import PracticesSettings


async def run(command: str) -> str:
    settings = PracticesSettings()
    runtime = ServiceRuntime.from_settings(settings)
    store = PracticeStore(runtime)
    assert runtime.search is not None
    try:
        if command == "rebuild":
            index = SearchIndex(runtime.search, store.practices, runtime.db.search_state, alias=settings.search_alias)
            await index.ensure()
            try:
                return f"the alias {settings.search_alias} now points at {await index.rebuild(progress=progress_bar)}"
            except RebuildRunning as running:
                return f"not now: {running} (a rebuild whose copy stops for 5 minutes is taken over)"
        if command == "link-check":
            async with client() as http:
                report = await check_links(store, http, LinkPolicy.allowing(settings.link_check_allowed_networks))
            return f"{report.checked} links checked, {report.broken} broken ({report.newly_broken} newly)"
        return f"{await store.flag_stale()} practices flagged for re-review"
    finally:
        await runtime.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["rebuild", "link-check", "flag-stale"])
    print(asyncio.run(run(parser.parse_args(argv).command)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
