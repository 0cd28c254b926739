"""Consumers on the real servers: an outage of MongoDB holds the partition (and says so) instead
of dead-lettering what arrives meanwhile, and every effect is stored exactly once when the server
is back; messages of a newer producer are read, never dead-lettered; a dead letter re-driven by
the operator command has one effect; topics less durable than the environment asks are refused."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from counters_service import CountersService, CounterStream, build_counters_service
from hub_testing import dead_letters, produce, settle

from deh_contracts import new_event, to_kafka
from deh_contracts.envelope import KafkaRecord
from deh_contracts.registry import Topic
from deh_platform import operations
from deh_platform.topics import Replication, TopicMisconfigured, ensure_topics
from deh_stack.mongo import MongoServer
from deh_stack.testing import ServerAddresses, eventually, private_server, restarted

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 30


def increments(counters: list[str], rounds: int) -> list[tuple[str, int]]:
    # Distinct amounts per counter (1, 2, 4, ...): any double count or loss shows in the total.
    return [(counter, 2**round_number) for round_number in range(rounds) for counter in counters]


async def totals(service: CountersService, counters: list[str]) -> dict[str, int]:
    return {counter: await service.total(counter) for counter in counters}


async def test_an_outage_of_mongodb_holds_the_partition_and_then_every_effect_is_stored_once(
    servers: ServerAddresses, tmp_path: Path
) -> None:
    counters = [f"c-{uuid.uuid4().hex[:6]}-{n}" for n in range(6)]
    before, during = increments(counters, 3), increments(counters, 8)[len(counters) * 3 :]
    expected: Counter[str] = Counter()
    for counter, amount in before + during:
        expected[counter] += amount

    with private_server(MongoServer, tmp_path) as mongo:
        service = build_counters_service(dataclasses.replace(servers, mongo_url=mongo.address))
        async with LifespanManager(service.app, startup_timeout=60, shutdown_timeout=60):
            await eventually(service.ready, within=30)
            await produce(servers, *records(before))

            async def first_effects_stored() -> bool:
                return sum((await totals(service, counters)).values()) == sum(amount for _, amount in before)

            await eventually(first_effects_stored)
            mongo.kill()
            outage_began = datetime.now(UTC)
            await produce(servers, *records(during))

            consumer = service.runtime.consumers[0]

            async def held_for_the_whole_outage() -> str | None:
                state = consumer.state()
                held_long = any(
                    (datetime.now(UTC) - hold.since).total_seconds() >= OUTAGE_SECONDS
                    for hold in consumer.held.values()
                )
                return state if held_long else None

            reported = await eventually(held_for_the_whole_outage, within=OUTAGE_SECONDS + 30, interval=1)
            assert reported.startswith("holding ")
            assert "AutoReconnect" in reported or "ServerSelectionTimeoutError" in reported
            readiness = await service.runtime.readiness()
            assert readiness[f"consumer {consumer.group}"].startswith("holding ")

            await restarted(mongo)

            async def everything_stored() -> bool:
                return await totals(service, counters) == dict(expected)

            await eventually(everything_stored, within=60, interval=0.5)
            await eventually(service.ready, within=30)
            assert consumer.held == {}
            assert (datetime.now(UTC) - outage_began).total_seconds() >= OUTAGE_SECONDS

    letters = [event for event in await dead_letters(servers) if event.data["origin_key"] in counters]
    assert letters == [], "an outage is not a reason to dead-letter anything"


def records(amounts: list[tuple[str, int]]) -> list[KafkaRecord]:
    return [to_kafka(new_event(CounterStream.increment(counter, by), source="/deh/test")) for counter, by in amounts]


async def test_messages_of_a_newer_contract_version_are_read_or_skipped_never_dead_lettered(
    servers: ServerAddresses, counters: CountersService
) -> None:
    counter = f"c-{uuid.uuid4().hex[:8]}"

    def newer(by: int, value: bytes, type_name: str = "eu.deh.test.counter.incremented.v1") -> KafkaRecord:
        record = to_kafka(new_event(CounterStream.increment(counter, by), source="/deh/test"))
        headers = [(name, type_name.encode() if name == "ce_type" else raw) for name, raw in record.headers]
        return dataclasses.replace(record, value=value % counter.encode(), headers=headers)

    with_a_new_field = newer(2, b'{"counter_id": "%s", "by": 2, "colour": "blue"}')
    with_a_new_sector = newer(4, b'{"counter_id": "%s", "by": 4, "sector": "space_academy"}')
    of_a_new_type = newer(16, b'{"counter_id": "%s"}', "eu.deh.test.counter.reset.v1")
    last = to_kafka(new_event(CounterStream.increment(counter, 8), source="/deh/test"))

    await produce(servers, with_a_new_field, with_a_new_sector, of_a_new_type, last)

    async def all_counted() -> bool:
        return await counters.total(counter) == 2 + 4 + 8

    await eventually(all_counted)
    letters = [event for event in await dead_letters(servers) if event.data["origin_key"] == counter]
    assert letters == []
    assert await counters.ready()


async def test_a_dead_letter_redriven_by_the_operator_command_has_its_effect_once(
    servers: ServerAddresses,
    counters: CountersService,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for variable, value in servers.environment().items():
        monkeypatch.setenv(variable, value)
    counter = f"c-{uuid.uuid4().hex[:8]}"
    group = counters.runtime.consumers[0].group
    counters.refused_amounts.add(13)  # a bug: the handler fails on 13

    await produce(servers, *records([(counter, 1), (counter, 13), (counter, 2)]))

    async def failed_once() -> list[operations.Letter] | None:
        letters = [
            letter
            for letter in await operations.read_dead_letters(servers.kafka_options())
            if letter.data["origin_key"] == counter
        ]
        return letters or None

    (letter,) = await eventually(failed_once)
    assert await counters.total(counter) == 3, "the other events were applied"
    assert await asyncio.to_thread(operations.main, ["dead-letters", "--group", group, "--reason", "a bug"]) == 0
    listing = capsys.readouterr().out
    assert letter.letter_id in listing
    assert "ValueError: a bug: amounts [13] are refused" in listing

    counters.refused_amounts.clear()  # the fix is deployed
    for _ in range(2):  # and an operator re-drives it twice
        argv = ["redrive", "--group", group, "--letter", letter.letter_id]
        assert await asyncio.to_thread(operations.main, argv) == 0

    async def redriven() -> bool:
        return await counters.total(counter) == 16

    await eventually(redriven)
    await settle(1.0)
    assert await counters.total(counter) == 16, "one effect, however often it is re-driven"


async def test_a_service_refuses_topics_less_durable_than_its_environment_asks(
    servers: ServerAddresses, unique_name: str
) -> None:
    topic = Topic(unique_name, key="id", partitions=2, producer="test", consumers=(), description="test")
    await ensure_topics(servers.kafka_options(), [topic], Replication(factor=1, min_insync=1))
    await ensure_topics(servers.kafka_options(), [topic], Replication(factor=1, min_insync=1))  # again: a no-op

    with pytest.raises(TopicMisconfigured) as refused:
        await ensure_topics(servers.kafka_options(), [topic], Replication(factor=3, min_insync=2))
    assert f"{unique_name} has 1 replicas, 3 wanted" in str(refused.value)
    assert f"{unique_name} has min.insync.replicas=1, 2 wanted" in str(refused.value)


async def test_a_keyless_message_with_a_valueless_header_is_dead_lettered_and_the_next_one_processed(
    servers: ServerAddresses, counters: CountersService, counter_stream: CounterStream
) -> None:
    counter = f"c-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(**servers.kafka_options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        # Same partition as the counter's events, so the next one waits for it.
        partition = (await producer.partitions_for(counter_stream.topic.name)).pop()
        garbage = [("ce_type", b"eu.deh.test.counter.incremented.v1"), ("x-empty", None)]
        await producer.send_and_wait(counter_stream.topic.name, b"not json", partition=partition, headers=garbage)
        good = to_kafka(new_event(CounterStream.increment(counter, 5), source="/deh/test"))
        await producer.send_and_wait(good.topic, good.value, key=good.key, headers=good.headers, partition=partition)
    finally:
        await producer.stop()

    async def counted() -> bool:
        return await counters.total(counter) == 5

    await eventually(counted)
    position = f"{counter_stream.topic.name}[{partition}]@"
    letters = [event for event in await dead_letters(servers) if event.data["origin_key"].startswith(position)]
    assert letters, "dead-lettered under its position, since it has no key"
    assert await counters.ready()
