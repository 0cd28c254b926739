"""Personal data can leave Kafka for good: on a compacted topic keyed by member, a tombstone
(a record with the key and no value) makes the broker's log cleaner drop every earlier value of
that member, and later the tombstone itself. Proven here on the real broker: once compaction
has run, reading the topic from the start finds neither the name nor the member's key."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from hub_testing import records_on

from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.integration

# Aggressive settings so that the test sees in seconds what a deployment does within its lag.
QUICK_COMPACTION = {
    "cleanup.policy": "compact",
    "segment.ms": "100",
    "min.cleanable.dirty.ratio": "0.001",
    "min.compaction.lag.ms": "0",
    "delete.retention.ms": "100",
}


async def test_a_tombstone_removes_every_value_of_a_member_from_a_compacted_topic(
    servers: ServerAddresses, unique_name: str
) -> None:
    admin = AIOKafkaAdminClient(**servers.kafka_options())
    await admin.start()
    await admin.create_topics([NewTopic(unique_name, 1, 1, topic_configs=QUICK_COMPACTION)])
    await admin.close()
    member, name = b"member-ana", f"Ana Secret {uuid.uuid4().hex[:6]}".encode()
    producer = AIOKafkaProducer(**servers.kafka_options(), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(unique_name, b'{"display_name": "' + name + b'"}', key=member)
        await producer.send_and_wait(unique_name, b'{"display_name": "' + name + b' II"}', key=member)
        await producer.send_and_wait(unique_name, None, key=member)  # the erasure
        assert any(value and name in value for _, value in await records_on(servers, unique_name))

        async def forgotten() -> bool:
            # The cleaner never touches the segment being written: a record now and then rolls it.
            await producer.send_and_wait(unique_name, b"{}", key=b"someone-else")
            await asyncio.sleep(0.2)
            records = await records_on(servers, unique_name)
            return not any(key == member or (value and name in value) for key, value in records)

        await eventually(forgotten, within=90, interval=0.5)
    finally:
        await producer.stop()
