"""The Kafka broker behaves as the services rely on: committed offsets and per-key order."""

from __future__ import annotations

from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deh_stack.testing import ServerAddresses

pytestmark = pytest.mark.integration


async def create_topic(servers: ServerAddresses, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(**servers.kafka_options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def produce(servers: ServerAddresses, topic: str, messages: list[tuple[str, str]]) -> None:
    producer = AIOKafkaProducer(**servers.kafka_options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value.encode(), key=key.encode())
    finally:
        await producer.stop()


def consumer(servers: ServerAddresses, topic: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        **servers.kafka_options(),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def read(source: AIOKafkaConsumer, count: int) -> list[str]:
    values: list[str] = []
    while len(values) < count:
        batch = await source.getmany(timeout_ms=10_000, max_records=count - len(values))
        assert batch, f"no message within 10s after {len(values)} of {count}"
        values += [record.value.decode() for records in batch.values() for record in records if record.value]
    return values


async def test_a_new_group_member_resumes_after_the_last_committed_offset(
    servers: ServerAddresses, unique_name: str
) -> None:
    await create_topic(servers, unique_name, partitions=1)
    await produce(servers, unique_name, [("k", f"m{i}") for i in range(10)])

    first = consumer(servers, unique_name, group=unique_name)
    await first.start()
    assert await read(first, 4) == ["m0", "m1", "m2", "m3"]
    await first.commit()
    await first.stop()

    second = consumer(servers, unique_name, group=unique_name)
    await second.start()
    try:
        assert await read(second, 6) == [f"m{i}" for i in range(4, 10)]
        assert await second.committed(TopicPartition(unique_name, 0)) == 4
    finally:
        await second.stop()


async def test_messages_with_one_key_keep_their_order_within_one_partition(
    servers: ServerAddresses, unique_name: str
) -> None:
    await create_topic(servers, unique_name, partitions=3)
    keys = ["member-a", "member-b", "member-c", "member-d"]
    await produce(servers, unique_name, [(keys[i % 4], f"{keys[i % 4]}:{i // 4}") for i in range(80)])

    source = consumer(servers, unique_name, group=unique_name)
    await source.start()
    try:
        sequences: dict[str, list[int]] = defaultdict(list)
        partitions: dict[str, set[int]] = defaultdict(set)
        while sum(map(len, sequences.values())) < 80:
            batch = await source.getmany(timeout_ms=10_000)
            assert batch, "the consumer stopped receiving before all 80 messages arrived"
            for partition, records in batch.items():
                for record in records:
                    key, sequence = record.value.decode().split(":")
                    sequences[key].append(int(sequence))
                    partitions[key].add(partition.partition)
    finally:
        await source.stop()

    assert all(sequences[key] == list(range(20)) for key in keys)
    assert all(len(partitions[key]) == 1 for key in keys)
    assert len(set().union(*partitions.values())) > 1, "keys should spread over partitions"
