"""Operator commands of the monitoring service (run beside the running service):

python -m deh_monitoring.admin rebuild   replay every domain topic from the earliest offset into
                                         new index versions, then move the aliases to them
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from deh_monitoring.adapters.rebuild import rebuild
from deh_monitoring.settings import MonitoringSettings
from deh_platform.operations import progress_bar


async def run() -> str:
    moves = await rebuild(MonitoringSettings(), progress_bar)
    lines = [f"{alias} -> {new} (was {old})" for alias, (old, new) in moves.items()]
    old = " ".join(old for old, _ in moves.values())
    return "\n".join(
        [*lines, f"the old versions stay until deleted: curl -X DELETE <opensearch>/{old.replace(' ', ',')}"]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["rebuild"])
    parser.parse_args(argv)
    print(asyncio.run(run()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
