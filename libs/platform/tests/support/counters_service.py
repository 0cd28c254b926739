"""A tiny service built on the platform, for testing the platform itself: counters that are
incremented over HTTP (through the outbox) and totalled by a consumer (idempotently)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from deh_contracts import CloudEvent
from deh_contracts.registry import Contract, Topic, message_type
from deh_contracts.vocabulary import Sector
from deh_platform.consumer import Backoff
from deh_platform.http import create_service_app
from deh_platform.idempotency import Effect, apply_all_once
from deh_platform.outbox import Tombstone
from deh_platform.runtime import ServiceRuntime
from deh_platform.settings import ServiceSettings
from deh_stack.testing import ServerAddresses

COUNTERS = Topic(
    f"deh.test.counters.{uuid.uuid4().hex[:8]}",
    key="counter id",
    partitions=3,
    producer="counters",
    consumers=("counters",),
    description="Test-only stream of counter increments.",
)


@message_type("eu.deh.test.counter.incremented.v1", topic=COUNTERS, subject="counter_id")
class CounterIncremented(Contract):
    """A counter went up."""

    counter_id: str
    by: int
    sector: Sector | None = None


class Increment(BaseModel):
    by: int


@dataclass
class CountersService:
    runtime: ServiceRuntime
    app: FastAPI
    # Amounts the handler refuses, as a bug would (a test "fixes" it by emptying the set).
    refused_amounts: set[int] = field(default_factory=set)

    async def ready(self) -> bool:
        return self.runtime.ready(await self.runtime.readiness())

    async def total(self, counter_id: str) -> int:
        document = await self.runtime.db.totals.find_one({"_id": counter_id})
        return int(document["total"]) if document else 0


@dataclass(frozen=True)
class CounterStream:
    """The test-only topic and message type, handed to tests as a fixture."""

    topic: Topic = COUNTERS

    @staticmethod
    def increment(counter_id: str, by: int) -> CounterIncremented:
        return CounterIncremented(counter_id=counter_id, by=by)


def build_counters_service(servers: ServerAddresses) -> CountersService:
    name = f"counters-{uuid.uuid4().hex[:8]}"
    settings = ServiceSettings.model_validate(
        {"service_name": name, "mongo_url": servers.mongo_url, **servers.kafka_fields()}
    )
    runtime = ServiceRuntime.from_settings(settings, produces=[COUNTERS], outbox_collections=["counters"])
    consumer = runtime.consumer([COUNTERS], backoff=Backoff(first_delay=0.05, max_delay=2.0))

    @consumer.on_batch(CounterIncremented)
    async def add_to_totals(events: Sequence[CloudEvent[CounterIncremented]]) -> None:
        if refused := [event.data.by for event in events if event.data.by in service.refused_amounts]:
            raise ValueError(f"a bug: amounts {refused} are refused")
        effects = [
            Effect({"_id": event.data.counter_id}, {"$inc": {"total": event.data.by}}, event.id, upsert=True)
            for event in events
        ]
        await apply_all_once(runtime.db.totals, effects)

    @consumer.on_tombstone(COUNTERS)
    async def forget_total(counter_id: str, _: dict[str, str]) -> None:
        await runtime.db.totals.delete_one({"_id": counter_id})

    router = APIRouter()

    @router.delete("/counters/{counter_id}", status_code=202)
    async def forget(counter_id: str) -> dict[str, str]:
        """The counter goes, and a tombstone tells its readers (through the outbox)."""
        await runtime.write(
            runtime.db.counters, {"_id": counter_id}, {"$set": {"value": 0}}, [Tombstone(COUNTERS, counter_id)]
        )
        return {"forgotten": counter_id}

    @router.post("/counters/{counter_id}/increment", status_code=202)
    async def increment(counter_id: str, body: Increment) -> dict[str, str]:
        event = runtime.new_event(CounterIncremented(counter_id=counter_id, by=body.by))
        await runtime.write(
            runtime.db.counters, {"_id": counter_id}, {"$inc": {"value": body.by}}, [event], upsert=True
        )
        return {"event_id": event.id}

    service = CountersService(runtime, create_service_app(runtime, title=name, routers=[router]))
    return service
