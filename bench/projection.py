"""Projection benchmark: monitoring's projection (EventConsumer batches, activity documents in one
bulk request, indicator cells counted again and written) against a raw aiokafka batch consumer
plus `async_bulk` of the same activity documents, on the same real servers, in the same run.
Then freshness at a fixed rate: the time from producing an event to its batch being projected
(searchable, counted), p50/p95/p99. Prints throughput, the ratio, freshness and peak memory.

Usage: uv run python bench/projection.py [--events 10000 100000 ...] [--rate 200] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from opensearchpy import AsyncOpenSearch
from opensearchpy.helpers import async_bulk

from deh_contracts import from_kafka, to_kafka
from deh_contracts.envelope import KafkaRecord
from deh_contracts.registry import Topic
from deh_monitoring.adapters.indexes import MonitoringIndexes
from deh_monitoring.adapters.projection import Projection
from deh_monitoring.domain.activity import describe
from deh_platform.consumer import Delivery, EventConsumer
from deh_platform.topics import ensure_topics
from deh_stack.testing import ServerAddresses, eventually, provide_servers

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "libs" / "platform" / "tests" / "support"))
from domain_stream import a_day_of_its_own, day_of_activity, records

PARTITIONS = 6


def fresh_topic() -> Topic:
    name = f"deh.bench.domain.{uuid.uuid4().hex[:8]}"
    return Topic(name, key="id", partitions=PARTITIONS, producer="bench", consumers=("bench",), description="benchmark")


def stream_of(count: int) -> list[KafkaRecord]:
    """About `count` domain events (members, registrations, attendance, practices)."""
    people = max(1, count // 4)
    return records(day_of_activity(a_day_of_its_own(), people))[:count]


async def produce(servers: ServerAddresses, topic: Topic, stream: Sequence[KafkaRecord]) -> None:
    producer = AIOKafkaProducer(**servers.kafka_options(), acks="all", linger_ms=5)
    await producer.start()
    deliveries = [await producer.send(topic.name, r.value, key=r.key, headers=r.headers) for r in stream]
    await asyncio.gather(*deliveries)
    await producer.stop()


async def raw(servers: ServerAddresses, topic: Topic, count: int) -> float:
    """getmany, parse, the same activity documents, one async_bulk per batch, commit per batch."""
    search = AsyncOpenSearch(servers.opensearch_url)
    index = f"bench-raw-{uuid.uuid4().hex[:8]}"
    await MonitoringIndexes.named(index).ensure(search)
    consumer = AIOKafkaConsumer(
        topic.name,
        **servers.kafka_options(),
        group_id=f"bench-raw-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,
    )
    await consumer.start()
    done, began = 0, time.perf_counter()
    while done < count:
        batches = await consumer.getmany(timeout_ms=500, max_records=500)
        for records_ in batches.values():
            actions = []
            for record in records_:
                event = from_kafka(record.value or b"", list(record.headers))
                activity = describe(event, record.topic, record.partition, record.offset)
                actions.append(
                    {
                        "_index": f"{index}-activity",
                        "_id": activity.event_id,
                        "_source": activity.model_dump(mode="json"),
                    }
                )
            await async_bulk(search, actions)
            done += len(records_)
        if batches:
            await consumer.commit()
    elapsed = time.perf_counter() - began
    await consumer.stop()
    await search.indices.delete(index=f"{index}-*")
    await search.close()
    return count / elapsed


class TimedProjection(Projection):
    """The projection, noting when each batch was done and how long its events waited."""

    def __init__(self, search: AsyncOpenSearch, indexes: MonitoringIndexes) -> None:
        super().__init__(search, indexes)
        self.projected = 0
        self.waits: list[float] = []

    async def project(self, deliveries: Sequence[Delivery]) -> None:
        await super().project(deliveries)
        now = time.time()
        self.projected += len(deliveries)
        self.waits.extend(now - delivery.event.time.timestamp() for delivery in deliveries)


@asynccontextmanager
async def projecting(servers: ServerAddresses, topic: Topic, name: str) -> AsyncIterator[TimedProjection]:
    """The platform path: an EventConsumer handing its batches to the projection, into indexes of
    the benchmark's own (deleted after)."""
    search = AsyncOpenSearch(servers.opensearch_url)
    prefix = f"bench-{name}-{uuid.uuid4().hex[:8]}"
    indexes = MonitoringIndexes.named(prefix)
    await indexes.ensure(search)
    projection = TimedProjection(search, indexes)
    consumer = EventConsumer(prefix, [topic], service="bench", source="/bench")
    consumer.project(projection.project)

    async def publish(_: object) -> None:
        raise AssertionError("the benchmark's events are all valid")

    task = asyncio.create_task(consumer.run(servers.kafka_options(), publish))
    try:
        yield projection
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await search.indices.delete(index=f"{prefix}-*")
        await search.close()


async def until_projected(projection: TimedProjection, count: int) -> None:
    async def all_done() -> bool:
        return projection.projected >= count

    await eventually(all_done, within=3600, interval=0.05)


async def projected(servers: ServerAddresses, topic: Topic, count: int) -> float:
    began = time.perf_counter()
    async with projecting(servers, topic, "projection") as projection:
        await until_projected(projection, count)
        elapsed = time.perf_counter() - began
    return count / elapsed


async def freshness(servers: ServerAddresses, rate: int, seconds: int) -> list[float]:
    """Events produced at a fixed rate while the projection runs: how long each waited."""
    topic = fresh_topic()
    await ensure_topics(servers.kafka_options(), [topic])
    async with projecting(servers, topic, "fresh") as projection:
        await asyncio.sleep(3)  # the group joins
        producer = AIOKafkaProducer(**servers.kafka_options(), acks="all", linger_ms=5)
        await producer.start()
        total = rate * seconds
        began = time.perf_counter()
        for number in range(total):
            # Each event is made (and timed) when it is sent.
            event = day_of_activity(a_day_of_its_own(), 1)[1].model_copy(update={"time": datetime.now(UTC)})
            record = to_kafka(event)
            await producer.send(topic.name, record.value, key=record.key, headers=record.headers)
            await asyncio.sleep(max(0.0, began + (number + 1) / rate - time.perf_counter()))
        await producer.flush()
        await until_projected(projection, total)
        await producer.stop()
        return projection.waits


async def run(servers: ServerAddresses, counts: list[int], rate: int, seconds: int) -> None:
    print(f"\nservers from {servers.origin}; {PARTITIONS} partitions\n")
    for count in counts:
        topic = fresh_topic()
        await ensure_topics(servers.kafka_options(), [topic])
        await produce(servers, topic, stream_of(count))
        baseline = await raw(servers, topic, count)
        ours = await projected(servers, topic, count)
        print(
            f"{count:>9,} events   raw aiokafka + async_bulk {baseline:>7.0f} ev/s   "
            f"projection {ours:>7.0f} ev/s   ratio {ours / baseline:.2f}"
        )
    waits = await freshness(servers, rate, seconds)
    q = statistics.quantiles(waits, n=100)
    print(f"\nfreshness at {rate} events/s for {seconds} s: p50 {q[49]:.2f} s  p95 {q[94]:.2f} s  p99 {q[98]:.2f} s")
    print(f"peak memory (RSS) of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, nargs="+", default=[10_000])
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    with provide_servers() as servers:
        asyncio.run(run(servers, args.events, args.rate, args.seconds))


if __name__ == "__main__":
    main()
