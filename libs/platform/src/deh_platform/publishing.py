"""Publishing one contract event straight to Kafka (not through the outbox): for answers and
dead letters that go with no state change of the service's own."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker

from deh_contracts import CloudEvent, to_kafka
from deh_contracts.envelope import header_map
from deh_platform.telemetry import inject_context


async def publish_event(broker: KafkaBroker, event: CloudEvent[Any]) -> None:
    record = to_kafka(event)
    headers = inject_context(header_map(record.headers))
    await broker.publish(record.value, topic=record.topic, key=record.key, headers=dict(headers))
