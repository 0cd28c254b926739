"""The outbox relay on the real Kafka and MongoDB servers: nothing is lost when a relay dies
mid-way, each aggregate's events leave in order with any number of relays, and an event Kafka
can never take is set aside while the rest are published."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from counters_service import CounterStream
from hub_testing import Published, events_on
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from deh_contracts import new_event
from deh_platform import operations
from deh_platform.outbox import OUTBOX_FIELD, SET_ASIDE_FIELD, Document, OutboxRelay, pending, with_events
from deh_platform.topics import ensure_topics
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def collection(
    servers: ServerAddresses, counter_stream: CounterStream
) -> AsyncIterator[AsyncCollection[Document]]:
    await ensure_topics(servers.kafka_options(), [counter_stream.topic])
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(servers.mongo_url)
    yield mongo[f"outbox-{uuid.uuid4().hex[:8]}"].counters
    await mongo.close()


async def started_producer(servers: ServerAddresses) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(**servers.kafka_options(), acks="all", enable_idempotence=True)
    await producer.start()
    return producer


@asynccontextmanager
async def relays_running(
    servers: ServerAddresses, collection: AsyncCollection[Document], count: int = 1, claim_seconds: float = 5
) -> AsyncIterator[list[OutboxRelay]]:
    """`count` relays (as in as many replicas), each with its own producer, until the block ends."""
    producers = [await started_producer(servers) for _ in range(count)]
    relays = [OutboxRelay([collection], claim_seconds=claim_seconds) for _ in range(count)]
    running = [asyncio.create_task(relay.run(producer)) for relay, producer in zip(relays, producers, strict=True)]
    try:
        yield relays
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        for producer in producers:
            await producer.stop()


async def write(collection: AsyncCollection[Document], counter: str, by: int) -> str:
    event = new_event(CounterStream.increment(counter, by), source="/deh/test")
    await collection.update_one({"_id": counter}, with_events({"$inc": {"value": by}}, [event]), upsert=True)
    return event.id


async def none_pending(collection: AsyncCollection[Document]) -> bool:
    return await collection.count_documents({f"{OUTBOX_FIELD}.0": {"$exists": True}}) == 0


def first_arrivals(events: list[Published], subjects: set[str]) -> dict[str, list[Published]]:
    """Per subject, each event as it first arrived (a republished duplicate is ignored)."""
    seen: set[str] = set()
    arrivals: dict[str, list[Published]] = {subject: [] for subject in subjects}
    for event in events:
        if event.subject in subjects and event.headers["ce_id"] not in seen:
            seen.add(event.headers["ce_id"])
            arrivals[event.subject].append(event)
    return arrivals


def assert_in_order(
    arrivals: dict[str, list[Published]], written: dict[str, list[str]], events: list[Published]
) -> None:
    assert {subject: [event.headers["ce_id"] for event in found] for subject, found in arrivals.items()} == written
    for found in arrivals.values():
        numbers = [int(event.headers["ce_sequence"]) for event in found]
        assert numbers == sorted(set(numbers)), numbers
    # A republished duplicate carries the number it had the first time.
    numbered: dict[str, str] = {}
    for event in (event for event in events if event.subject in written):
        assert numbered.setdefault(event.headers["ce_id"], event.headers["ce_sequence"]) == event.headers["ce_sequence"]


class ProducerThatDies:
    """Hands `after` events to Kafka, then hangs forever: the relay's process dies there."""

    def __init__(self, producer: AIOKafkaProducer, after: int) -> None:
        self.producer, self.after, self.sent = producer, after, 0
        self.dead = asyncio.Event()

    async def send(self, topic: str, value: bytes | None, key: bytes, headers: list[tuple[str, bytes]]) -> Any:
        if self.sent >= self.after:
            self.dead.set()
            await asyncio.Event().wait()
        self.sent += 1
        return await self.producer.send(topic, value, key=key, headers=headers)


async def test_every_event_is_published_in_order_after_a_relay_dies_mid_way(
    servers: ServerAddresses, counter_stream: CounterStream, collection: AsyncCollection[Document]
) -> None:
    counters = [f"c-{uuid.uuid4().hex[:6]}-{n}" for n in range(10)]
    written: dict[str, list[str]] = {counter: [] for counter in counters}
    for round_number in range(10):
        for counter in counters:
            written[counter].append(await write(collection, counter, round_number))

    producer = await started_producer(servers)
    dying = ProducerThatDies(producer, after=25)
    crashed = asyncio.create_task(OutboxRelay([collection], claim_seconds=1).run(dying))
    await dying.dead.wait()
    crashed.cancel()  # killed with its claims held, some events sent and none removed
    await asyncio.gather(crashed, return_exceptions=True)
    assert not await none_pending(collection)

    await producer.stop()
    async with relays_running(servers, collection, claim_seconds=1):  # the successor
        await eventually(lambda: none_pending(collection))

    events = await events_on(servers, counter_stream.topic)
    assert_in_order(first_arrivals(events, set(counters)), written, events)


async def test_two_relays_at_once_keep_each_aggregates_order(
    servers: ServerAddresses, counter_stream: CounterStream, collection: AsyncCollection[Document]
) -> None:
    counters = [f"c-{uuid.uuid4().hex[:6]}-{n}" for n in range(20)]
    written: dict[str, list[str]] = {counter: [] for counter in counters}
    chooser = random.Random(7)

    async with relays_running(servers, collection, count=2) as relays:

        async def writer(counter: str) -> None:
            for round_number in range(15):
                written[counter].append(await write(collection, counter, round_number))
                # Requests land on either replica; each tells its own relay, and both sweep.
                chooser.choice(relays).notify(collection.name, counter)

        await asyncio.gather(*(writer(counter) for counter in counters))
        await eventually(lambda: none_pending(collection), within=60)

    events = await events_on(servers, counter_stream.topic)
    assert_in_order(first_arrivals(events, set(counters)), written, events)


async def test_an_event_kafka_can_never_take_is_set_aside_and_the_rest_are_published(
    servers: ServerAddresses, counter_stream: CounterStream, collection: AsyncCollection[Document]
) -> None:
    counter, other = f"c-{uuid.uuid4().hex[:6]}", f"c-{uuid.uuid4().hex[:6]}"
    before = await write(collection, counter, 1)
    too_large = pending(new_event(CounterStream.increment(counter, 2), source="/deh/test"))
    too_large["value"] = json.dumps({"counter_id": counter, "by": 2, "padding": "x" * 2_000_000})
    await collection.update_one({"_id": counter}, {"$push": {OUTBOX_FIELD: too_large}})
    after = await write(collection, counter, 4)
    elsewhere = await write(collection, other, 8)

    async with relays_running(servers, collection):
        await eventually(lambda: none_pending(collection))

    events = await events_on(servers, counter_stream.topic)
    arrivals = first_arrivals(events, {counter, other})
    assert [event.headers["ce_id"] for event in arrivals[counter]] == [before, after]
    assert [event.headers["ce_id"] for event in arrivals[other]] == [elsewhere]
    document = await collection.find_one({"_id": counter})
    assert document is not None
    (set_aside,) = document[SET_ASIDE_FIELD]
    assert set_aside["kind"] == "publish"
    assert set_aside["event"]["id"] == too_large["id"]
    assert set_aside["reason"].startswith("MessageSizeTooLargeError")
    listed = await operations.set_aside(servers.mongo_url, collection.database.name)
    assert [(item["document"], item["event"]["id"]) for item in listed] == [(counter, too_large["id"])]
