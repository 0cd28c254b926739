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
        text = f"{self.name:<50} {self.per_second:>9.0f} msg/s"
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
    producer = AIOKafkaProducer(bootstrap_servers=servers.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    records = [to_kafka(event) for event in events(count)]
    latencies = []
    began = time.perf_counter()
    for record in records:
        start = time.perf_counter()
        await producer.send_and_wait(topic.name, record.value, key=record.key, headers=record.headers)
        latencies.append(time.perf_counter() - start)
    elapsed = time.perf_counter() - began
    await producer.stop()
    return Result("raw producer (send_and_wait)", elapsed, count, latencies)


async def outbox_produce(servers: ServerAddresses, mongo_url: str, topic: Topic, count: int, label: str) -> Result:
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(mongo_url)
    collection = mongo[f"bench-{uuid.uuid4().hex[:6]}"].events
    broker = KafkaBroker(servers.kafka_bootstrap, acks="all", enable_idempotence=True)
    await broker.start()
    written_at: dict[str, float] = {}
    latencies: list[float] = []
    all_published = asyncio.Event()

    async def publish(entry: Document) -> None:
        await broker.publish(
            entry["value"].encode(), topic=topic.name, key=entry["key"].encode(), headers=entry["headers"]
        )
        latencies.append(time.perf_counter() - written_at[entry["id"]])
        if len(latencies) == count:
            all_published.set()

    relay = OutboxRelay([collection], publish, poll_seconds=0.05)
    relay_task = asyncio.create_task(relay.run())
    began = time.perf_counter()
    for event in events(count):
        written_at[event.id] = time.perf_counter()
        await collection.update_one(
            {"_id": event.subject}, with_events({"$inc": {"attended": 1}}, [event]), upsert=True
        )
        relay.notify()
    await all_published.wait()
    elapsed = time.perf_counter() - began
    relay_task.cancel()
    await broker.stop()
    await mongo.close()
    return Result(f"outbox write + relay publish ({label})", elapsed, count, latencies)


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
    await mongo.close()
    return Result(f"raw update_one ({label})", elapsed, count, latencies)


async def raw_consume(servers: ServerAddresses, topic: Topic, count: int, *, guarded: bool = False) -> Result:
    """The fastest plain way: fetch in batches, one bulk write per batch, one commit per batch.
    `guarded`: with the same once-only guard as the platform's effects (event id in the document)."""
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(servers.mongo_url)
    totals = mongo[f"bench-{uuid.uuid4().hex[:6]}"].totals
    consumer = AIOKafkaConsumer(
        topic.name,
        bootstrap_servers=servers.kafka_bootstrap,
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
    broker = KafkaBroker(servers.kafka_bootstrap, acks="all", enable_idempotence=True, logger=None)
    consumer = EventConsumer(f"platform-{uuid.uuid4().hex[:6]}", [topic], source="/deh/bench")
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
    consuming = asyncio.create_task(consumer.run(servers.kafka_bootstrap, lambda event: publish_event(broker, event)))
    await all_handled.wait()
    elapsed = time.perf_counter() - began
    consuming.cancel()
    await asyncio.gather(consuming, return_exceptions=True)
    await broker.stop()
    await mongo.close()
    return Result("EventConsumer (on_batch, apply_all_once)", elapsed, count)


async def run(servers: ServerAddresses, background_mongo_url: str, count: int) -> None:
    raw_topic, outbox_topic, background_topic = BENCH_TOPIC, fresh_topic(), fresh_topic()
    await ensure_topics(servers.kafka_bootstrap, [raw_topic, outbox_topic, background_topic])

    raw = await raw_produce(servers, raw_topic, count)
    outbox = await outbox_produce(servers, servers.mongo_url, outbox_topic, count, "durable")
    background = await outbox_produce(servers, background_mongo_url, background_topic, count, "background commit")
    writes = await raw_writes(servers.mongo_url, count, "durable")
    background_writes = await raw_writes(background_mongo_url, count, "background commit")
    raw_in = await raw_consume(servers, raw_topic, count)
    raw_guarded_in = await raw_consume(servers, raw_topic, count, guarded=True)
    platform_in = await platform_consume(servers, raw_topic, count)

    print(f"\n{count} events per run, servers from {servers.origin}\n")
    for result in (raw, outbox, background, writes, background_writes, raw_in, raw_guarded_in, platform_in):
        print(result.line())
    print(f"\noutbox / raw producer throughput:   {outbox.per_second / raw.per_second:.2f}")
    print(f"outbox, durable / background commit: {outbox.per_second / background.per_second:.2f}")
    print(f"writes, durable / background commit: {writes.per_second / background_writes.per_second:.2f}")
    print(f"EventConsumer / raw consumer:       {platform_in.per_second / raw_in.per_second:.2f}")
    print(f"EventConsumer / raw, same guard:    {platform_in.per_second / raw_guarded_in.per_second:.2f}")
    print(f"peak memory (RSS) of this process:  {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    with provide_servers() as servers, background_commit_mongo() as background_mongo_url:
        asyncio.run(run(servers, background_mongo_url, args.events))


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
