"""A job that must run once per deployment runs on one replica at a time, and another replica
takes it over when that one is killed (SIGKILL: no chance to hand over)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.integration
HOLDER = Path(__file__).with_name("lease_holder.py")


class Replicas:
    def __init__(self, servers: ServerAddresses, database: str) -> None:
        self.servers = servers
        self.database = database
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, owner: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, str(HOLDER), self.servers.mongo_url, self.database, owner], env=os.environ.copy()
        )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def replicas(servers: ServerAddresses, unique_name: str) -> Iterator[Replicas]:
    started = Replicas(servers, unique_name)
    yield started
    started.stop_all()


async def runs(servers: ServerAddresses, database: str) -> list[dict[str, Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(servers.mongo_url, tz_aware=True)
    try:
        return [run async for run in client[database].runs.find({}, {"_id": 0}).sort("at", 1)]
    finally:
        await client.close()


async def test_one_replica_runs_the_job_and_another_takes_over_when_it_is_killed(
    replicas: Replicas, servers: ServerAddresses
) -> None:
    first = replicas.start("first")

    async def first_leads() -> bool:
        return any(run["owner"] == "first" for run in await runs(servers, replicas.database))

    await eventually(first_leads, within=60)
    replicas.start("second")
    second_started = await latest_run(servers, replicas.database)

    async def first_ran_many_times_since() -> bool:
        later = [run for run in await runs(servers, replicas.database) if run["at"] > second_started]
        return len(later) >= 15  # the second replica tried to take the lease each 0.2 s meanwhile

    await eventually(first_ran_many_times_since, within=60)
    assert {run["owner"] for run in await runs(servers, replicas.database)} == {"first"}

    first.send_signal(signal.SIGKILL)
    first.wait()

    async def second_took_over() -> bool:
        return any(run["owner"] == "second" for run in await runs(servers, replicas.database))

    await eventually(second_took_over, within=60)
    owners = [run["owner"] for run in await runs(servers, replicas.database)]
    handover = owners.index("second")
    # Never both: every run of the first precedes every run of the second.
    assert set(owners[:handover]) == {"first"}
    assert set(owners[handover:]) == {"second"}


async def latest_run(servers: ServerAddresses, database: str) -> datetime:
    at: datetime = (await runs(servers, database))[-1]["at"]
    return at


def test_a_lease_must_outlast_the_interval_at_which_it_is_renewed() -> None:
    from deh_platform.runtime import ServiceRuntime
    from deh_platform.settings import ServiceSettings

    class Settings(ServiceSettings):
        service_name: str = "lease-test"

    runtime = ServiceRuntime.from_settings(Settings())

    async def nothing() -> None:
        return None

    with pytest.raises(ValueError, match="outlast"):
        runtime.run_exclusively(f"job-{uuid.uuid4().hex}", nothing, every_seconds=5, lease_seconds=5)
