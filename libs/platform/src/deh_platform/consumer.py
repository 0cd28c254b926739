"""Consuming contract events: strict parsing, dispatch by type, retries for transient errors,
dead letters for the rest, and the offset committed only after the effect is stored.

Each subscriber uses FastStream with manual acknowledgement: `receive` commits after the handler
returned (the effect is stored) or after the message reached the dead-letter topic, and never
lets an exception escape, so a poison message can neither stop the partition nor be dropped.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.subscriber.usecase import DefaultSubscriber
from opensearchpy.exceptions import ConnectionError as SearchConnectionError
from opentelemetry import trace
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout

from deh_contracts import CloudEvent, Contract, ContractError, from_kafka, new_event, spec_of
from deh_contracts.catalogue.dead_letters import MessageDeadLettered
from deh_contracts.envelope import header_map
from deh_contracts.registry import MESSAGE_TYPES, Topic
from deh_platform.publishing import publish_event
from deh_platform.telemetry import (
    extract_context,
    messages_consumed,
    messages_failed,
    messages_retried,
    messages_skipped,
    observe,
    tracer,
)

log = logging.getLogger(__name__)

DataT = TypeVar("DataT", bound=Contract)
Handler = Callable[[CloudEvent[Any]], Awaitable[None]]


@dataclass(frozen=True)
class RefusedMessage:
    """A message that broke its contract, as an inbound topic's refusal handler sees it."""

    topic: str
    key: str
    attributes: dict[str, str]
    value: bytes
    error: ContractError


RefusalHandler = Callable[[RefusedMessage], Awaitable[None]]


class TransientError(Exception):
    """Raise from a handler when trying again later may succeed."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    SearchConnectionError,
    KafkaConnectionError,
    TimeoutError,
    ConnectionError,
)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    first_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        return float(min(self.first_delay * 2 ** (attempt - 1), self.max_delay))


@dataclass(frozen=True)
class Failure:
    reason: str
    error_type: str
    attempts: int


class EventConsumer:
    """One consumer group of a service over some topics, with a handler per message type."""

    def __init__(self, group: str, topics: Sequence[Topic], *, source: str, retry: RetryPolicy | None = None) -> None:
        self.group = group
        self.topics = list(topics)
        self.source = source
        self.retry = retry or RetryPolicy()
        self.handlers: dict[str, Handler] = {}
        self.refusal_handlers: dict[str, RefusalHandler] = {}
        self.subscriber: DefaultSubscriber | None = None
        self._broker: KafkaBroker | None = None
        self.lag: dict[tuple[str, int], int] = {}
        observe(self)

    def readings(self) -> list[tuple[str, float, dict[str, str]]]:
        return [
            ("deh.consumer.lag", lag, {"group": self.group, "topic": topic, "partition": str(partition)})
            for (topic, partition), lag in self.lag.items()
        ]

    def on(self, model: type[DataT]) -> Callable[[Callable[[CloudEvent[DataT]], Awaitable[None]]], Handler]:
        """Register the handler of one message type (it must travel on one of the topics)."""
        spec = spec_of(model)
        if spec.topic not in self.topics:
            raise ValueError(f"{spec.type_name} travels on {spec.topic.name}, which {self.group} does not read")

        def register(handler: Callable[[CloudEvent[DataT]], Awaitable[None]]) -> Handler:
            self.handlers[spec.type_name] = handler
            return handler

        return register

    def on_refused(self, topic: Topic) -> Callable[[RefusalHandler], RefusalHandler]:
        """Answer a message that breaks its contract on an inbound topic (for example with a
        rejection outcome to the partner) instead of dead-lettering it."""
        if topic not in self.topics:
            raise ValueError(f"{self.group} does not read {topic.name}")

        def register(handler: RefusalHandler) -> RefusalHandler:
            self.refusal_handlers[topic.name] = handler
            return handler

        return register

    def subscribe(self, broker: KafkaBroker) -> None:
        self._broker = broker
        self.subscriber = broker.subscriber(
            *[topic.name for topic in self.topics],
            group_id=self.group,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            decoder=_raw_bytes,
            title=f"{self.group} consumer",
            include_in_schema=False,  # documented from the contracts instead (deh_platform.asyncapi)
        )
        self.subscriber(self.receive)

    async def receive(self, body: bytes, message: KafkaMessage) -> None:
        record: Any = message.raw_message  # one aiokafka ConsumerRecord (never a batch here)
        headers = list(record.headers or ())
        attributes = header_map(headers)
        type_name = attributes.get("ce_type", "")
        parent = extract_context(attributes)
        with tracer.start_as_current_span(
            f"consume {type_name or 'unknown'}", context=parent, kind=trace.SpanKind.CONSUMER
        ) as span:
            span.set_attribute("messaging.system", "kafka")
            span.set_attribute("messaging.destination.name", record.topic)
            span.set_attribute("messaging.consumer.group.name", self.group)
            failure = await self._process(record, type_name, headers, attributes)
            if failure is not None:
                span.set_status(trace.StatusCode.ERROR, failure.reason)
                await self._dead_letter(record, attributes, failure)
        await message.ack()
        self._measure_lag(record)

    def _measure_lag(self, record: Any) -> None:
        consumer = self.subscriber.consumer if self.subscriber else None
        if consumer is None:
            return
        end = consumer.highwater(TopicPartition(record.topic, record.partition))
        if end is not None:
            self.lag[(record.topic, record.partition)] = max(end - record.offset - 1, 0)

    async def _process(
        self, record: Any, type_name: str, headers: list[tuple[str, bytes]], attributes: dict[str, str]
    ) -> Failure | None:
        if type_name in MESSAGE_TYPES and type_name not in self.handlers:
            messages_skipped.add(1, {"group": self.group, "type": type_name})
            return None
        try:
            event = from_kafka(record.value, headers)
        except ContractError as error:
            refusal = self.refusal_handlers.get(record.topic)
            if refusal is None:
                return Failure(str(error), "ContractError", attempts=1)
            refused = RefusedMessage(
                record.topic,
                (record.key or b"").decode("utf-8", errors="replace"),
                attributes,
                record.value or b"",
                error,
            )
            return await self._attempt(lambda: refusal(refused), type_name or "unknown")
        return await self._attempt(lambda: self.handlers[event.type](event), event.type)

    async def _attempt(self, work: Callable[[], Awaitable[None]], type_name: str) -> Failure | None:
        """Run the work, retrying transient errors with backoff; a Failure when it gives up."""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                await work()
            except TRANSIENT_ERRORS as error:
                if attempt == self.retry.attempts:
                    return Failure(f"still failing after {attempt} attempts: {error!r}", type(error).__name__, attempt)
                messages_retried.add(1, {"group": self.group, "type": type_name})
                log.warning("transient failure handling a %s (attempt %d): %r", type_name, attempt, error)
                await asyncio.sleep(self.retry.delay(attempt))
            except Exception as error:
                log.exception("handling a %s failed", type_name)
                return Failure(f"{type(error).__name__}: {error}", type(error).__name__, attempt)
            else:
                messages_consumed.add(1, {"group": self.group, "type": type_name})
                return None
        raise AssertionError("unreachable: the loop returns on its last attempt")

    async def _dead_letter(self, record: Any, attributes: dict[str, str], failure: Failure) -> None:
        value: bytes = record.value or b""
        try:
            text, encoding = value.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(value).decode(), "base64"
        letter = MessageDeadLettered(
            consumer_group=self.group,
            reason=failure.reason,
            error_type=failure.error_type,
            attempts=failure.attempts,
            origin_topic=record.topic,
            origin_partition=record.partition,
            origin_offset=record.offset,
            origin_key=(record.key or b"").decode("utf-8", errors="replace"),
            origin_headers=attributes,
            origin_value=text,
            origin_value_encoding=encoding,
            failed_at=datetime.now(UTC),
        )
        messages_failed.add(1, {"group": self.group, "topic": record.topic})
        log.error("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, failure.reason)
        await self._publish_until_sent(new_event(letter, source=self.source))

    async def _publish_until_sent(self, letter: CloudEvent[MessageDeadLettered]) -> None:
        # Without the dead letter stored, the offset must not move: keep trying while Kafka is away.
        assert self._broker is not None
        delay = self.retry.first_delay
        while True:
            try:
                await publish_event(self._broker, letter)
                return
            except Exception:
                log.exception("could not publish a dead letter; retrying")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry.max_delay)

    def state(self) -> str:
        """ "ok" while the consume loop runs and the consumer is a member of its group."""
        subscriber = self.subscriber
        if subscriber is None or not subscriber.running or subscriber.consumer is None:
            return "not started"
        if any(task.done() for task in getattr(subscriber, "tasks", [])):
            return "consume loop stopped"
        coordinator = getattr(subscriber.consumer, "_coordinator", None)
        if coordinator is None or coordinator.coordinator_id is None or coordinator.generation <= 0:
            return f"not a member of group {self.group}"
        return "ok"


async def _raw_bytes(message: KafkaMessage) -> bytes:
    """Hand the handler the value as it arrived: parsing is ours, so a bad message is dead-lettered."""
    return bytes(message.body)
