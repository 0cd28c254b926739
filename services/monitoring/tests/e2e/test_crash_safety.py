"""Killing the monitoring service (SIGKILL) in the middle of projecting leaves every count exact
once it is started again: the batch it was in is read again, and re-reading counts nothing twice."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from domain_stream import a_day_of_its_own, day_of_activity, records
from hub_testing import produce
from opensearchpy import AsyncOpenSearch

from deh_stack.testing import ServerAddresses, ServiceProcess, eventually

pytestmark = pytest.mark.e2e
PEOPLE = 300


@pytest.fixture
async def search(servers: ServerAddresses) -> AsyncIterator[AsyncOpenSearch]:
    client = AsyncOpenSearch(servers.opensearch_url)
    yield client
    await client.close()


def monitoring_process(servers: ServerAddresses, prefix: str) -> ServiceProcess:
    settings = {"INDEX_PREFIX": prefix, "CONSUMER_GROUP": prefix, "LOG_LEVEL": "WARNING"}
    return ServiceProcess(
        "monitoring", {**servers.environment("monitoring"), **{f"DEH_MONITORING_{k}": v for k, v in settings.items()}}
    )


async def projected(search: AsyncOpenSearch, prefix: str, day: str) -> int:
    if not await search.indices.exists_alias(name=f"{prefix}-activity"):
        return 0
    await search.indices.refresh(index=f"{prefix}-activity")
    found = await search.count(index=f"{prefix}-activity", body={"query": {"term": {"day": day}}})
    return int(found["count"])


async def test_killing_the_projection_mid_batch_leaves_every_count_exact(
    servers: ServerAddresses, search: AsyncOpenSearch
) -> None:
    prefix = f"monitoring-crash-{uuid.uuid4().hex[:8]}"
    day = a_day_of_its_own()
    stream = day_of_activity(day, PEOPLE, seed=5)
    await produce(servers, *records(stream))
    first = monitoring_process(servers, prefix)
    await first.start()
    try:

        async def partly() -> bool:
            return 0 < await projected(search, prefix, day.isoformat()) < len(stream)

        await eventually(partly, within=120, interval=0.05)
    finally:
        first.kill()
    assert await projected(search, prefix, day.isoformat()) < len(stream)

    again = monitoring_process(servers, prefix)
    await again.start()
    try:

        async def all_projected() -> bool:
            return await projected(search, prefix, day.isoformat()) == len(stream)

        await eventually(all_projected, within=120, interval=0.5)
        async with httpx.AsyncClient(base_url=again.url) as client:
            totals = {
                name: (
                    await client.get(f"/indicators/{name}/series", params={"from": str(day), "to": str(day)})
                ).json()["total"]
                for name in (
                    "members_applied",
                    "members_approved",
                    "registrations",
                    "attendances",
                    "no_shows",
                    "practices_published",
                )
            }
            attended = sum(1 for n in range(PEOPLE) if n % 4 != 0)
            assert totals == {
                "members_applied": PEOPLE,
                "members_approved": PEOPLE,
                "registrations": PEOPLE,
                "attendances": attended,
                "no_shows": PEOPLE - attended,
                "practices_published": PEOPLE // 2,
            }

            # Every indicator document of the day equals the count of the events behind it.
            async def cells_settled() -> list[dict[str, Any]] | None:
                await search.indices.refresh(index=f"{prefix}-indicators")
                found = await search.search(
                    index=f"{prefix}-indicators", body={"size": 1000, "query": {"term": {"day": str(day)}}}
                )
                documents = [hit["_source"] for hit in found["hits"]["hits"]]
                for document in documents:
                    explained = (await client.get(f"/indicators/cells/{document['cell']}", params={"limit": 1})).json()
                    if explained["value"] != document["value"]:
                        return None
                return documents

            documents = await eventually(cells_settled, within=60, interval=0.5)
            by_indicator: dict[str, int] = {}
            for document in documents:
                by_indicator[document["indicator"]] = by_indicator.get(document["indicator"], 0) + document["value"]
            assert by_indicator["members_approved"] == PEOPLE  # one country and one sector each
    finally:
        again.stop()
        await search.indices.delete(index=f"{prefix}-*")
