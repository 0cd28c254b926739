"""Registration benchmark: the events service's registration path (HTTP on 127.0.0.1, MongoDB
seat and registration, outbox, Kafka) against raw PyMongo plus aiokafka doing the same writes and
sends, on the same real servers, in the same run, at the same concurrency. Prints throughput,
latency percentiles, peak memory and the service/raw ratio (compare ratios, not times).

Throughput counts until every registration's contract event is acknowledged by Kafka; latency is
what a person waits for the answer (the service: the HTTP response; raw: its writes).

The service runs in its own process, as deployed; the raw path in this one.

Usage: uv run python bench/registration.py [--registrations N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import secrets
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient, ReturnDocument

from deh_contracts import new_event, to_kafka
from deh_contracts.catalogue.events import RegistrationConfirmed
from deh_contracts.registry import EVENTS
from deh_events.settings import EventsSettings
from deh_platform.auth import issue_token
from deh_stack.testing import ServerAddresses, ServiceProcess, eventually, provide_servers


@dataclass
class Result:
    name: str
    seconds: float
    count: int
    latencies: list[float]
    peak_mib: float

    def line(self) -> str:
        quantiles = statistics.quantiles(self.latencies, n=100)
        p50, p95, p99 = (quantiles[index] * 1000 for index in (49, 94, 98))
        rate = self.count / self.seconds
        figures = f"{rate:>7.0f} reg/s   p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms"
        return f"{self.name:<50} {figures}   peak RSS {self.peak_mib:4.0f} MiB"


async def in_parallel(count: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> list[float]:
    """Run `one(n)` for n < count, `concurrency` at a time; the latency of each."""
    latencies: list[float] = []
    numbers = iter(range(count))

    async def worker() -> None:
        for number in numbers:
            began = time.perf_counter()
            await one(number)
            latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def event_body(capacity: int) -> dict[str, Any]:
    starts = datetime.now(UTC).replace(microsecond=0, tzinfo=None) + timedelta(days=30)
    return {
        "kind": "conference",
        "title": "Benchmark conference",
        "schedule": {
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=8)).isoformat(),
            "timezone": "Europe/Brussels",
        },
        "online": True,
        "online_link": "https://meet.example.eu/bench",
        "capacity": capacity,
        "audience": "public",
    }


async def service_path(servers: ServerAddresses, count: int, concurrency: int) -> Result:
    database = f"bench-events-{uuid.uuid4().hex[:6]}"
    secret = secrets.token_urlsafe(48)  # the benchmark's own: the service it starts checks tokens with it
    settings = EventsSettings(auth_secret=secret)
    tokens = [issue_token(settings, f"bench-{n}", ["member"]) for n in range(count)]
    organiser = issue_token(settings, "bench-organiser", ["member", "moderator"])
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(servers.mongo_url)
    registrations = mongo[database].registrations
    service = ServiceProcess(
        "events",
        {
            **servers.environment("events"),
            "DEH_EVENTS_MONGO_DATABASE": database,
            "DEH_EVENTS_CONSUMER_GROUP": f"events-{database}",
            "DEH_EVENTS_LOG_LEVEL": "WARNING",
            "DEH_AUTH_SECRET": secret,
        },
    )
    await service.start()
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=service.url, limits=limits, timeout=60) as client:
        headers = {"Authorization": f"Bearer {organiser}"}
        event = (await client.post("/events", json=event_body(count), headers=headers)).json()
        path = f"/events/{event['event_id']}/registrations"

        async def register(number: int) -> None:
            response = await client.post(path, json={}, headers={"Authorization": f"Bearer {tokens[number]}"})
            assert response.status_code == 201, response.text

        began = time.perf_counter()
        latencies = await in_parallel(count, concurrency, register)

        async def all_published() -> bool:
            return await registrations.count_documents({"_outbox.0": {"$exists": True}}) == 0

        await eventually(all_published, within=600, interval=0.02)
        elapsed = time.perf_counter() - began
        peak = service.peak_memory_mib()
    service.stop()
    await mongo.drop_database(database)
    await mongo.close()
    return Result("events service: HTTP + MongoDB + outbox + Kafka", elapsed, count, latencies, peak)


async def raw_path(servers: ServerAddresses, count: int, concurrency: int) -> Result:
    """The same writes with plain PyMongo (take a seat, insert the registration) and
    the same event sent with a pipelined aiokafka producer (acks=all), awaited all at the end."""
    database = f"bench-raw-{uuid.uuid4().hex[:6]}"
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(servers.mongo_url, tz_aware=True)
    db = mongo[database]
    await db.seats.create_index("holder", unique=True, sparse=True)
    await db.seats.insert_many([{"_id": f"e:{n:05d}", "event_id": "e"} for n in range(count)])
    producer = AIOKafkaProducer(**servers.kafka_options(), acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    deliveries: list[asyncio.Future[Any]] = []

    async def register(number: int) -> None:
        registration_id, member_id = uuid.uuid4().hex, f"raw-{number}"
        seat = await db.seats.find_one_and_update(
            {"event_id": "e", "holder": {"$exists": False}},
            {"$set": {"holder": registration_id}},
            return_document=ReturnDocument.AFTER,
        )
        assert seat is not None
        registration = {"_id": registration_id, "event_id": "e", "member_id": member_id, "state": "registered"}
        await db.registrations.insert_one({**registration, "seat": seat["_id"]})
        confirmed = RegistrationConfirmed(
            event_id="e", registration_id=registration_id, member_id=member_id, confirmed_at=datetime.now(UTC)
        )
        record = to_kafka(new_event(confirmed, source="/bench"))
        deliveries.append(await producer.send(EVENTS.name, record.value, key=record.key, headers=record.headers))

    began = time.perf_counter()
    latencies = await in_parallel(count, concurrency, register)
    await asyncio.gather(*deliveries)
    elapsed = time.perf_counter() - began
    await producer.stop()
    await mongo.drop_database(database)
    await mongo.close()
    return Result(
        "raw: PyMongo writes + pipelined aiokafka sends",
        elapsed,
        count,
        latencies,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


async def run(servers: ServerAddresses, count: int, concurrency: int) -> None:
    raw = await raw_path(servers, count, concurrency)
    service = await service_path(servers, count, concurrency)
    print(f"\n{count} registrations for one event with {count} seats, {concurrency} at a time")
    print(f"servers from {servers.origin}\n")
    for result in (raw, service):
        print(result.line())
    ratio = (service.count / service.seconds) / (raw.count / raw.seconds)
    print(f"\nservice / raw throughput: {ratio:.2f}")
    print("(peak RSS: of the service's process; of this process for the raw path, which ran first)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--registrations", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    with provide_servers() as servers:
        asyncio.run(run(servers, args.registrations, args.concurrency))


if __name__ == "__main__":
    main()
