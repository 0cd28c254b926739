"""Operator commands of the practices service (run beside the running service):

python -m deh_practices.admin rebuild      reindex from MongoDB into a new index, swap the alias
python -m deh_practices.admin link-check   check every published practice's links
python -m deh_practices.admin flag-stale   send practices whose last review is too old to review
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from deh_platform.runtime import ServiceRuntime
from deh_platform.search_index import SearchIndex, rebuild_for_an_operator
from deh_practices.adapters.index import PRACTICE_INDEX
from deh_practices.adapters.links import LinkPolicy, check_links, client
from deh_practices.adapters.store import PracticeStore
from deh_practices.settings import PracticesSettings


async def run(command: str) -> str:
    settings = PracticesSettings()
    runtime = ServiceRuntime.from_settings(settings)
    store = PracticeStore(runtime)
    try:
        if command == "rebuild":
            return await rebuild_for_an_operator(
                SearchIndex.of(PRACTICE_INDEX, runtime, "practices", settings.search_alias)
            )
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
