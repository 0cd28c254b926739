"""Messaging benchmark: the platform's outbox relay and consumer against raw aiokafka baselines
on the same real servers, in the same run. Prints throughput, latency percentiles, peak memory
and the platform/raw ratios (compare ratios: these machines are shared and noisy).

Usage: uv run python bench/messaging.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient, UpdateOne

from deh_contracts import CloudEvent, new_event, to_kafka
from deh_contracts.registry import Contract, Topic, message_type
from deh_platform.consumer import EventConsumer
from deh_platform.idempotency import Effect, apply_all_once
from deh_platform.outbox import Document, OutboxRelay, with_events
from deh_platform.publishing import publish_event
from deh_platform.settings import ServiceSettings
from deh_platform.topics import ensure_topics
from deh_stack.mongo import MongoServer
from deh_stack.testing import ServerAddresses, private_server, provide_servers


@dataclass
class Result:
    name: str
    seconds: float
    count: int
    latencies: Sequence[float] = ()

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    def line(self) -> str:
        text = f"{self.name:<58} {self.per_second:>9.0f} msg/s"
        if self.latencies:
            quantiles = statistics.quantiles(self.latencies, n=100)
            p50, p95, p99 = (quantiles[index] * 1000 for index in (49, 94, 98))
            text += f"   p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms"
        return text


def fresh_topic() -> Topic:
    name = f"deh.bench.{uuid.uuid4().hex[:8]}"
    return Topic(name, key="event id", partitions=3, producer="bench", consumers=("bench",), description="benchmark")


BENCH_TOPIC = fresh_topic()


@message_type("eu.deh.bench.attendance.v1", topic=BENCH_TOPIC, subject="event_id")
class Attendance(Contract):
    """Benchmark-only: the shape of an attendance record."""

    event_id: str
    registration_id: str
    member_id: str
    attended: bool


def events(count: int) -> list[CloudEvent[Attendance]]:
    return [
        new_event(
            Attendance(event_id=f"e-{n % 50}", registration_id=f"r-{n}", member_id=f"m-{n}", attended=n % 5 != 0),
            source="/deh/bench",
        )
        for n in range(count)
    ]


async def raw_produce(servers: ServerAddresses, topic: Topic, count: int) -> Result:
    """The fastest plain way to send the same records: hand them all over, then await the acks."""
    producer = AIOKafkaProducer(**servers.kafka_options(), acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    records = [to_kafka(event) for event in events(count)]
    began = time.perf_counter()
    deliveries = [
        await producer.send(topic.name, record.value, key=record.key, headers=record.headers) for record in records
    ]
    await asyncio.gather(*deliveries)
    elapsed = time.perf_counter() - began
    await producer.stop()
    return Result("raw producer (pipelined, acks=all)", elapsed, count)


class TimedProducer:
    """The relay's producer, noting when Kafka acknowledged each event."""

    def __init__(self, producer: AIOKafkaProducer, written_at: dict[str, float], count: int) -> None:
        self.producer, self.written_at, self.count = producer, written_at, count
        self.latencies: list[float] = []
        self.all_acknowledged = asyncio.Event()

    async def send(self, topic: str, value: bytes | None, key: bytes, headers: list[tuple[str, bytes]]) -> Any:
        event_id = dict(headers)["ce_id"].decode()
        delivery = await self.producer.send(topic, value, key=key, headers=headers)
        delivery.add_done_callback(lambda _: self._acknowledged(event_id))
        return delivery

    def _acknowledged(self, event_id: str) -> None:
        self.latencies.append(time.perf_counter() - self.written_at[event_id])
        if len(self.latencies) >= self.count:
            self.all_acknowledged.set()


async def outbox_produce(
    servers: ServerAddresses, mongo_url: str, topic: Topic, count: int, label: str, *, existing: int = 0
) -> Result:
    """Each write stores the change and its event in one update and tells the relay, which
    publishes; latency = write start to Kafka's acknowledgement. `existing` documents without
    events sit in the collection first (the relay's cost must not grow with them)."""
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(mongo_url)
    collection = mongo[f"bench-{uuid.uuid4().hex[:6]}"].events
    for start in range(0, existing, 5000):
        await collection.insert_many(
            [{"_id": f"old-{n}", "attended": 0} for n in range(start, min(existing, start + 5000))]
        )
    producer = AIOKafkaProducer(**servers.kafka_options(), acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    written_at: dict[str, float] = {}
    timed = TimedProducer(producer, written_at, count)
    relay = OutboxRelay([collection])
    relay_task = asyncio.create_task(relay.run(timed))
    await relay.swept.wait()  # its start-up sweep scans the collection once; the steady state is timed
    began = time.perf_counter()
    for event in events(count):
        written_at[event.id] = time.perf_counter()
        await collection.update_one(
            {"_id": event.subject}, with_events({"$inc": {"attended": 1}}, [event]), upsert=True
        )
        relay.notify(collection.name, event.subject)
    await timed.all_acknowledged.wait()
    elapsed = time.perf_counter() - began
    relay_task.cancel()
    await asyncio.gather(relay_task, return_exceptions=True)
    await producer.stop()
    await mongo.drop_database(collection.database.name)  # leave the shared server as found
    await mongo.close()
    return Result(f"outbox write + relay publish ({label})", elapsed, count, timed.latencies)


async def raw_writes(mongo_url: str, count: int, label: str) -> Result:
    """The outbox path's MongoDB writes alone, one at a time as a request handler makes them."""
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(mongo_url)
    collection = mongo[f"bench-{uuid.uuid4().hex[:6]}"].events
    latencies = []
    began = time.perf_counter()
    for event in events(count):
        start = time.perf_counter()
        await collection.update_one({"_id": event.subject}, {"$inc": {"attended": 1}}, upsert=True)
        latencies.append(time.perf_counter() - start)
    elapsed = time.perf_counter() - began
    await mongo.drop_database(collection.database.name)  # leave the shared server as found
    await mongo.close()
    return Result(f"raw update_one ({label})", elapsed, count, latencies)


async def raw_consume(servers: ServerAddresses, topic: Topic, count: int, *, guarded: bool = False) -> Result:
    """The fastest plain way: fetch in batches, one bulk write per batch, one commit per batch.
    `guarded`: with the same once-only guard as the platform's effects (event id in the document)."""
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(servers.mongo_url)
    totals = mongo[f"bench-{uuid.uuid4().hex[:6]}"].totals
    consumer = AIOKafkaConsumer(
        topic.name,
        **servers.kafka_options(),
        group_id=f"raw-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    seen = 0
    began = time.perf_counter()
    while seen < count:
        batches = await consumer.getmany(timeout_ms=500, max_records=500)
        for records in batches.values():
            operations = [UpdateOne(*_update(record, guarded), upsert=True) for record in records]
            await totals.bulk_write(operations, ordered=True)
            seen += len(records)
        if batches:
            await consumer.commit()
    elapsed = time.perf_counter() - began
    await consumer.stop()
    await mongo.drop_database(totals.database.name)  # leave the shared server as found
    await mongo.close()
    name = "raw consumer, once-only guard" if guarded else "raw consumer (getmany, bulk write, commit per batch)"
    return Result(name, elapsed, count)


def _update(record: Any, guarded: bool) -> tuple[Document, Document]:
    change: Document = {"$inc": {"attended": 1}}
    if not guarded:
        return {"_id": record.key.decode()}, change
    event_id = dict(record.headers)["ce_id"].decode()
    return Effect({"_id": record.key.decode()}, change, event_id, upsert=True).guarded()


async def platform_consume(servers: ServerAddresses, topic: Topic, count: int) -> Result:
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(servers.mongo_url)
    totals = mongo[f"bench-{uuid.uuid4().hex[:6]}"].totals
    security = ServiceSettings.model_validate({"service_name": "bench", **servers.kafka_fields()}).kafka_security()
    broker = KafkaBroker(servers.kafka_bootstrap, security=security, acks="all", enable_idempotence=True, logger=None)
    consumer = EventConsumer(f"platform-{uuid.uuid4().hex[:6]}", [topic], service="bench", source="/deh/bench")
    handled = 0
    all_handled = asyncio.Event()

    @consumer.on_batch(Attendance)
    async def count_attendance(events: Sequence[CloudEvent[Attendance]]) -> None:
        nonlocal handled
        effects = [Effect({"_id": event.subject}, {"$inc": {"attended": 1}}, event.id, upsert=True) for event in events]
        await apply_all_once(totals, effects)
        handled += len(events)
        if handled >= count:
            all_handled.set()

    await broker.start()
    began = time.perf_counter()
    consuming = asyncio.create_task(consumer.run(servers.kafka_options(), lambda event: publish_event(broker, event)))
    await all_handled.wait()
    elapsed = time.perf_counter() - began
    consuming.cancel()
    await asyncio.gather(consuming, return_exceptions=True)
    await broker.stop()
    await mongo.drop_database(totals.database.name)  # leave the shared server as found
    await mongo.close()
    return Result("EventConsumer (on_batch, apply_all_once)", elapsed, count)


async def run(servers: ServerAddresses, background_mongo_url: str, count: int, existing: int) -> None:
    raw_topic, outbox_topic, crowded_topic, background_topic = BENCH_TOPIC, fresh_topic(), fresh_topic(), fresh_topic()
    await ensure_topics(servers.kafka_options(), [raw_topic, outbox_topic, crowded_topic, background_topic])

    writes = await raw_writes(servers.mongo_url, count, "durable")
    raw = await raw_produce(servers, raw_topic, count)
    raw_path = Result("raw path: the same writes, then pipelined sends", writes.seconds + raw.seconds, count)
    outbox = await outbox_produce(
        servers, servers.mongo_url, outbox_topic, count, "durable, 1,000 documents", existing=1000
    )
    crowded = await outbox_produce(
        servers, servers.mongo_url, crowded_topic, count, f"durable, {existing:,} documents", existing=existing
    )
    background = await outbox_produce(servers, background_mongo_url, background_topic, count, "background commit")
    background_writes = await raw_writes(background_mongo_url, count, "background commit")
    raw_in = await raw_consume(servers, raw_topic, count)
    raw_guarded_in = await raw_consume(servers, raw_topic, count, guarded=True)
    platform_in = await platform_consume(servers, raw_topic, count)

    print(f"\n{count} events per run, servers from {servers.origin}\n")
    for result in (writes, raw, raw_path, outbox, crowded, background, background_writes):
        print(result.line())
    print()
    for result in (raw_in, raw_guarded_in, platform_in):
        print(result.line())
    print(f"\noutbox / raw path (writes + producer):   {outbox.per_second / raw_path.per_second:.2f}")
    print(f"outbox, {existing:,} / 1,000 documents:   {crowded.per_second / outbox.per_second:.2f}")
    print(f"outbox, durable / background commit:     {outbox.per_second / background.per_second:.2f}")
    print(f"writes, durable / background commit:     {writes.per_second / background_writes.per_second:.2f}")
    print(f"EventConsumer / raw consumer:            {platform_in.per_second / raw_in.per_second:.2f}")
    print(f"EventConsumer / raw, same guard:         {platform_in.per_second / raw_guarded_in.per_second:.2f}")
    print(
        f"peak memory (RSS) of this process:       {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--existing", type=int, default=100_000, help="documents already in the crowded collection")
    args = parser.parse_args()
    with provide_servers() as servers, background_commit_mongo() as background_mongo_url:
        asyncio.run(run(servers, background_mongo_url, args.events, args.existing))


@contextmanager
def background_commit_mongo() -> Iterator[str]:
    """A second local MongoDB server that commits about once a second, as H2 does by default
    (not durable: only to measure what durable commits cost, decision 0002)."""
    with (
        tempfile.TemporaryDirectory() as home,
        private_server(functools.partial(MongoServer, durable=False), Path(home)) as server,
    ):
        yield server.address


if __name__ == "__main__":
    main()
