"""Jobs that run once per deployment whatever the number of replicas: a lease in MongoDB.

A lease is one document per job: its holder and when the holding expires. A replica takes the
lease when it is free or expired, renews it while it holds it, and runs the job only then. When
the holder dies, its lease expires and another replica takes over at its next attempt, so a job
waits at most `lease_seconds` plus one interval after a crash.

A run that lasts longer than the interval renews the lease while it runs. Clocks: expiry is
compared with each replica's own clock, so replicas' clocks must agree to well within
`lease_seconds` (NTP does). Jobs must still be idempotent: a holder paused for longer than its
lease (a long GC, a frozen VM) may finish a run while another has taken over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

log = logging.getLogger(__name__)
Document = dict[str, Any]
Job = Callable[[], Awaitable[object]]


@dataclass
class Lease:
    collection: AsyncCollection[Document]
    name: str
    owner: str
    seconds: float

    async def acquire(self) -> bool:
        """Take or renew the lease; False while another replica holds it."""
        now = datetime.now(UTC)
        free_or_mine = {"_id": self.name, "$or": [{"owner": self.owner}, {"expires_at": {"$lte": now}}]}
        update = {"$set": {"owner": self.owner, "expires_at": now + timedelta(seconds=self.seconds), "renewed_at": now}}
        try:
            # Upsert creates the lease the first time; while another holds it, the selector
            # matches nothing and the upsert fails on the existing _id.
            await self.collection.update_one(free_or_mine, update, upsert=True)
        except DuplicateKeyError:
            return False
        return True

    async def release(self) -> None:
        """Hand over at once (a clean stop), rather than after the lease expires."""
        await self.collection.update_one(
            {"_id": self.name, "owner": self.owner}, {"$set": {"expires_at": datetime.now(UTC)}}
        )


@dataclass
class ExclusiveJob:
    """A job run every `every_seconds` by whichever replica holds its lease."""

    lease: Lease
    job: Job
    every_seconds: float
    state: str = field(default="standby", init=False)

    async def run(self) -> None:
        try:
            while True:
                await self._attempt()
                await asyncio.sleep(self.every_seconds)
        finally:
            if self.state == "leading":
                with contextlib.suppress(PyMongoError, asyncio.CancelledError):  # else it expires by itself
                    await asyncio.shield(self.lease.release())

    async def _attempt(self) -> None:
        try:
            leading = await self.lease.acquire()
        except PyMongoError as error:
            log.warning("job %s: lease unavailable: %s", self.lease.name, error)
            self.state = "standby"
            return
        if leading and self.state != "leading":
            log.info("job %s: this replica (%s) runs it now", self.lease.name, self.lease.owner)
        self.state = "leading" if leading else "standby"
        if not leading:
            return
        # A run may outlast the lease: it is renewed meanwhile, so that no other replica starts one.
        renewing = asyncio.create_task(self._keep_renewing())
        try:
            await self.job()
        except Exception:  # the next run tries again; the job is idempotent
            log.exception("job %s failed; it runs again in %s s", self.lease.name, self.every_seconds)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _keep_renewing(self) -> None:
        while True:
            await asyncio.sleep(self.every_seconds)
            try:
                if not await self.lease.acquire():
                    log.warning("job %s: another replica took the lease during a long run", self.lease.name)
            except PyMongoError as error:
                log.warning("job %s: could not renew the lease: %s", self.lease.name, error)
