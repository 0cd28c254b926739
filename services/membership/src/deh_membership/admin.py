"""Operator commands of the membership service (run beside the running service):

python -m deh_membership.admin rebuild   reindex the community's posts from MongoDB into a new
                                         index, then move the alias to it
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from deh_membership.adapters.thread_search import POST_INDEX
from deh_membership.settings import MembershipSettings
from deh_platform.runtime import ServiceRuntime
from deh_platform.search_index import SearchIndex, rebuild_for_an_operator


async def rebuild() -> str:
    settings = MembershipSettings()
    runtime = ServiceRuntime.from_settings(settings)
    try:
        return await rebuild_for_an_operator(SearchIndex.of(POST_INDEX, runtime, "posts", settings.search_alias))
    finally:
        await runtime.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["rebuild"])
    parser.parse_args(argv)
    print(asyncio.run(rebuild()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
