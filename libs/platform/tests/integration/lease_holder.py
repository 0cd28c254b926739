"""A replica that runs one job under a lease, for the handover test: each run records who ran
it. Run as `python lease_holder.py MONGO_URL DATABASE OWNER`; stopped only by a signal."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from pymongo import AsyncMongoClient

from deh_platform.leases import ExclusiveJob, Lease

LEASE_SECONDS = 2.0
EVERY_SECONDS = 0.2


async def main(mongo_url: str, database: str, owner: str) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url, tz_aware=True)
    db = client[database]

    async def record_run() -> None:
        await db.runs.insert_one({"owner": owner, "at": datetime.now(UTC)})

    job = ExclusiveJob(Lease(db.leases, "the job", owner, LEASE_SECONDS), record_run, EVERY_SECONDS)
    await job.run()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
