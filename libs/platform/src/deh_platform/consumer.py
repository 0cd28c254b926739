"""Consuming contract events in batches: parse, dispatch by type, store the effects, then commit.

One loop per consumer group (aiokafka, no auto-commit) fetches up to `batch_size` records at a
time. Each partition's records are worked through in order (partitions side by side), so the
events of one aggregate keep their order. A handler takes one event (`on`) or a run of
consecutive events of its type (`on_batch`, to write their effects in one bulk request). The
offset of a partition is committed once per batch, after the effects are stored; a crash before
the commit redelivers them, and handlers are idempotent (event id written with the effect).

What goes wrong is one of two kinds:
- transient (a server briefly away, an election, a timeout): the partition is held. It is
  paused and sought back to the event that failed, retried after a growing delay without limit,
  reported by readiness with the reason, and resumed where it stopped. Nothing is dead-lettered
  for an outage, however long.
- permanent (a broken contract, a handler's bug, an input it can never accept): the message goes
  to the dead-letter topic with the reason, and the next message follows.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import ConsumerStoppedError, KafkaConnectionError, KafkaError
from opensearchpy.exceptions import ConnectionError as SearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout as SearchConnectionTimeout
from opentelemetry import trace
from pymongo.errors import ConnectionFailure

from deh_contracts import CloudEvent, Contract, ContractError, from_kafka, new_event, spec_of
from deh_contracts.catalogue.dead_letters import MessageDeadLettered
from deh_contracts.envelope import MAX_INBOUND_BYTES, header_map
from deh_contracts.errors import FieldError
from deh_contracts.registry import MESSAGE_TYPES, REDRIVE, REDRIVE_GROUP_HEADER, REDRIVE_ORIGIN_HEADER, Topic
from deh_platform.errors import NotYetKnown, TransientError
from deh_platform.telemetry import (
    extract_context,
    messages_consumed,
    messages_failed,
    messages_held,
    messages_skipped,
    observe,
    tracer,
    values_unknown,
)

log = logging.getLogger(__name__)

DataT = TypeVar("DataT", bound=Contract)
Handler = Callable[[CloudEvent[Any]], Awaitable[None]]
BatchHandler = Callable[[Sequence[CloudEvent[Any]]], Awaitable[None]]
Publish = Callable[[CloudEvent[Any]], Awaitable[None]]
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


@dataclass(frozen=True)
class RefusedMessage:
    """A message that broke its contract, as an inbound topic's refusal handler sees it."""

    topic: str
    key: str
    attributes: dict[str, str]
    value: bytes
    error: ContractError
    partition: int = -1
    offset: int = -1


RefusalHandler = Callable[[RefusedMessage], Awaitable[None]]
# A tombstone (a record with a key and no value) on a compacted topic: the key's data is gone.
# The handler gets the key and the record's headers.
TombstoneHandler = Callable[[str, dict[str, str]], Awaitable[None]]
HandlerT = TypeVar("HandlerT", RefusalHandler, TombstoneHandler)


@dataclass(frozen=True)
class Delivery:
    """An event with where it was read: what a projection of every event needs to point back
    at its sources (topic as first published, partition, offset)."""

    event: CloudEvent[Any]
    topic: str
    partition: int
    offset: int


ProjectionHandler = Callable[[Sequence[Delivery]], Awaitable[None]]


# ConnectionFailure covers PyMongo's AutoReconnect, NetworkTimeout and ServerSelectionTimeoutError.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    ConnectionFailure,
    SearchConnectionError,
    SearchConnectionTimeout,
    KafkaConnectionError,
    TimeoutError,
    ConnectionError,
)


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts on a held partition: doubling, capped, never giving up."""

    first_delay: float = 0.2
    max_delay: float = 30.0

    def delay(self, attempt: int) -> float:
        return float(min(self.first_delay * 2 ** min(attempt - 1, 30), self.max_delay))


@dataclass
class Hold:
    """A partition held at `offset` because processing it failed transiently."""

    offset: int
    reason: str
    since: datetime
    attempts: int
    resume_at: float

    @property
    def awaits_news(self) -> bool:
        """Held for news on another topic (NotYetKnown), not because a server is away."""
        return self.reason.startswith(f"{NotYetKnown.__name__}:")  # reasons start with the error's type

    def describe(self, partition: TopicPartition) -> str:
        return (
            f"holding {partition.topic}[{partition.partition}] at offset {self.offset} since "
            f"{self.since:%H:%M:%S} ({self.attempts} attempts): {self.reason}"
        )


@dataclass
class Parsed:
    """A record and what reading it gave: an event for a handler, a refusal, or nothing to do."""

    record: Record
    attributes: dict[str, str]
    event: CloudEvent[Any] | None = None
    error: ContractError | None = None
    skip: str = ""
    tombstone: bool = False

    @property
    def type_name(self) -> str:
        return self.attributes.get("ce_type", "")

    @property
    def origin_topic(self) -> str:
        """The topic the message was first published on (a re-driven one names it in a header)."""
        topic = str(self.record.topic)
        return self.attributes.get(REDRIVE_ORIGIN_HEADER, topic) if REDRIVE.owner_of(topic) else topic


def _identity_mismatch(record: Record, event: CloudEvent[Any], partner: str | None) -> list[FieldError]:
    """A partner's message is keyed, and its `ce_subject` set, by the id it names (its
    `external_id`): outcomes and partitions follow the key, so a different one is refused. It
    names the partner whose topic it was written to: Kafka let only that partner write there."""
    expected = spec_of(event.data).subject_of(event.data)
    key = (record.key or b"").decode("utf-8", errors="replace")
    problems = []
    named = getattr(event.data, "partner", None)
    if partner is not None and named != partner:
        problems.append(FieldError("partner", f"must be {partner!r}, the partner whose topic this is", "mismatch"))
    if key != expected:
        problems.append(FieldError("(key)", f"the record's key must be {expected!r}, the message's id", "mismatch"))
    if event.subject != expected:
        problems.append(FieldError("ce_subject", f"must be {expected!r}, the message's id", "mismatch"))
    return problems


def _refused_unread(record: Record, type_name: str, topic: Topic) -> ContractError | None:
    """What a partner's message is refused for before it is read (and then answered, never
    skipped): no value, too large a value, or a type of the hub's that travels elsewhere."""
    if record.value is None:
        return ContractError("a message without a value", [FieldError("(message)", "it has no value", "missing")])
    if len(record.value) > MAX_INBOUND_BYTES:
        problem = FieldError(
            "(message)", f"{len(record.value)} bytes, at most {MAX_INBOUND_BYTES} are taken", "too_large"
        )
        return ContractError("a message too large", [problem])
    known = MESSAGE_TYPES.get(type_name)
    if known is not None and known.topic != topic:
        accepted = ", ".join(spec.type_name for spec in MESSAGE_TYPES.values() if spec.topic == topic)
        problem = FieldError(
            "ce_type", f"{type_name} is not sent on {topic.name}, which takes {accepted}", "wrong_topic"
        )
        return ContractError("a message of a type this topic does not take", [problem])
    return None


@dataclass(frozen=True)
class Failed:
    """Why a message failed; `transient` failures hold the partition, the others dead-letter it."""

    reason: str
    error_type: str
    transient: bool


@dataclass
class _Partitions(ConsumerRebalanceListener):  # type: ignore[misc]
    """Forgets the holds of partitions that another group member takes over."""

    held: dict[TopicPartition, Hold] = field(default_factory=dict)

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        for partition in revoked:
            self.held.pop(partition, None)

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        return None


class EventConsumer:
    """One consumer group of a service over some topics, with a handler per message type."""

    def __init__(
        self,
        group: str,
        topics: Sequence[Topic],
        *,
        service: str,
        source: str,
        backoff: Backoff | None = None,
        batch_size: int = 500,
        discovery_seconds: float = 30.0,
    ) -> None:
        self.group = group
        self.topics = list(topics)
        # The service's own: what operators re-drive to its groups, and where it puts dead letters.
        self.service = service
        self._redrive = REDRIVE.for_service(service)
        self._topic_named = {topic.name: topic for topic in [*topics, self._redrive] if not topic.family}
        self.discovery_seconds = discovery_seconds
        self.source = source
        self.backoff = backoff or Backoff()
        self.batch_size = batch_size
        self.handlers: dict[str, Handler] = {}
        self.batch_handlers: dict[str, BatchHandler] = {}
        self.refusal_handlers: dict[str, RefusalHandler] = {}
        self.tombstone_handlers: dict[str, TombstoneHandler] = {}
        self.projection: ProjectionHandler | None = None
        self.lag: dict[tuple[str, int], int] = {}
        self._partitions = _Partitions()
        self._kafka: AIOKafkaConsumer | None = None
        self._publish: Publish | None = None
        self._running = False
        observe(self)

    # Declaring handlers -------------------------------------------------------------------------

    def on(self, model: type[DataT]) -> Callable[[Callable[[CloudEvent[DataT]], Awaitable[None]]], Handler]:
        """Register the handler of one message type (it must travel on one of the topics)."""
        type_name = self._readable(model)

        def register(handler: Callable[[CloudEvent[DataT]], Awaitable[None]]) -> Handler:
            self.handlers[type_name] = handler
            return handler

        return register

    def on_batch(
        self, model: type[DataT]
    ) -> Callable[[Callable[[Sequence[CloudEvent[DataT]]], Awaitable[None]]], BatchHandler]:
        """Register a handler that takes consecutive events of one type together (in partition
        order) and stores all their effects, idempotently, for example in one bulk write."""
        type_name = self._readable(model)

        def register(handler: Callable[[Sequence[CloudEvent[DataT]]], Awaitable[None]]) -> BatchHandler:
            self.batch_handlers[type_name] = handler
            self.handlers[type_name] = lambda event: handler([event])
            return handler

        return register

    def project(self, handler: ProjectionHandler) -> ProjectionHandler:
        """Take every event of every known type on the topics, a partition's batch at a time,
        with where each was read (a projection such as monitoring's). Instead of `on`."""
        if self.handlers:
            raise ValueError(f"{self.group} has handlers per type; a projection takes every type")
        self.projection = handler
        return handler

    def _readable(self, model: type[Contract]) -> str:
        spec = spec_of(model)
        if spec.topic not in self.topics:
            raise ValueError(f"{spec.type_name} travels on {spec.topic.name}, which {self.group} does not read")
        return spec.type_name

    def on_tombstone(self, topic: Topic) -> Callable[[TombstoneHandler], TombstoneHandler]:
        """Handle the tombstones of a compacted topic (the handler gets the key and headers); on topics
        without one, a tombstone is skipped, never dead-lettered."""
        return self._per_topic(topic, self.tombstone_handlers)

    def on_refused(self, topic: Topic) -> Callable[[RefusalHandler], RefusalHandler]:
        """Answer a message that breaks its contract on an inbound topic (for example with a
        rejection outcome to the partner) instead of dead-lettering it."""
        return self._per_topic(topic, self.refusal_handlers)

    def _per_topic(self, topic: Topic, handlers: dict[str, HandlerT]) -> Callable[[HandlerT], HandlerT]:
        if topic not in self.topics:
            raise ValueError(f"{self.group} does not read {topic.name}")

        def register(handler: HandlerT) -> HandlerT:
            handlers[topic.name] = handler
            return handler

        return register

    # The loop -----------------------------------------------------------------------------------

    async def run(self, connection: Mapping[str, Any], publish: Publish) -> None:
        """Consume until cancelled, connected with `connection` (ServiceSettings.kafka_options).
        `publish` sends a dead letter."""
        self._publish = publish
        kafka = AIOKafkaConsumer(
            **connection,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.batch_size,
            fetch_max_wait_ms=100,
            # A subscription by pattern finds new partners' topics when metadata is refreshed.
            metadata_max_age_ms=int(self.discovery_seconds * 1000),
        )
        # Every group also reads what operators re-drive to it (python -m deh_platform.operations).
        read = [*self.topics, self._redrive]
        if any(topic.family for topic in read):
            # Every partner's topic of a family, as the partners are onboarded: Kafka lists to
            # the group's user only the topics it was granted.
            kafka.subscribe(pattern="^(" + "|".join(topic.pattern for topic in read) + ")$", listener=self._partitions)
        else:
            kafka.subscribe([topic.name for topic in read], listener=self._partitions)
        await kafka.start()
        self._kafka, self._running = kafka, True
        try:
            while True:
                try:
                    await self._poll_once(kafka)
                except ConsumerStoppedError:
                    # What aiokafka can do after some broker restarts: readiness says so, and
                    # the orchestrator replaces the process.
                    log.error("consumer %s: the Kafka consumer stopped; the loop ends", self.group)
                    return
                except Exception:  # the loop must outlive anything else a batch throws at it
                    log.exception("consumer %s: a poll failed; polling again", self.group)
                    await asyncio.sleep(1)
        finally:
            self._running = False
            # Bounded: leaving the group can wait on a coordinator that is rebalancing, and a
            # service that is stopping must stop (the group notices the member gone by itself).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(kafka.stop(), timeout=10)

    async def _poll_once(self, kafka: AIOKafkaConsumer) -> None:
        self._resume_due(kafka)
        batches = await kafka.getmany(timeout_ms=self._poll_timeout_ms(), max_records=self.batch_size)
        if batches:
            await asyncio.gather(*(self._consume_partition(kafka, tp, records) for tp, records in batches.items()))

    async def _consume_partition(self, kafka: AIOKafkaConsumer, tp: TopicPartition, records: list[Record]) -> None:
        """Work through one partition's records; whatever goes wrong unexpectedly holds the
        partition where it stopped, so that no record is skipped."""
        try:
            await self._consume_records(kafka, tp, records)
        except Exception as error:
            log.exception("consumer %s: %s[%d] failed unexpectedly", self.group, tp.topic, tp.partition)
            if tp in kafka.assignment():
                committed = await kafka.committed(tp)
                self._hold(kafka, tp, committed if committed is not None else records[0].offset, repr(error))

    def _poll_timeout_ms(self) -> int:
        """Wait for records, but no longer than until a held partition is due again."""
        due = [hold.resume_at for hold in self.held.values()]
        until_due = min(due, default=time.monotonic() + 0.5) - time.monotonic()
        return max(10, min(500, int(until_due * 1000)))

    def _resume_due(self, kafka: AIOKafkaConsumer) -> None:
        now = time.monotonic()
        due = [tp for tp, hold in self.held.items() if hold.resume_at <= now and tp in kafka.paused()]
        if due:
            kafka.resume(*due)

    async def _consume_records(self, kafka: AIOKafkaConsumer, tp: TopicPartition, records: list[Record]) -> None:
        done_until: int | None = None
        for run in self._runs([self._parse(record) for record in records]):
            failed = await self._consume_run(run)
            if failed is not None:
                offset, reason = failed
                self._hold(kafka, tp, offset, reason)
                if offset > run[0].record.offset:
                    done_until = offset
                break
            done_until = run[-1].record.offset + 1
        if done_until is None:
            return
        hold = self.held.get(tp)
        if hold is not None and done_until > hold.offset:
            log.info("consumer %s: %s[%d] resumed after %d attempts", self.group, tp.topic, tp.partition, hold.attempts)
            del self.held[tp]
        await self._commit(kafka, tp, done_until)
        end = kafka.highwater(tp) if tp in kafka.assignment() else None
        if end is not None:
            self.lag[(tp.topic, tp.partition)] = max(end - done_until, 0)

    async def _commit(self, kafka: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
        try:
            await kafka.commit({tp: offset})
        except KafkaError as error:
            # The effects are stored; a redelivery after a rebalance or reconnect finds them applied.
            log.warning(
                "consumer %s: commit of %s[%d]@%d failed: %r", self.group, tp.topic, tp.partition, offset, error
            )

    def _hold(self, kafka: AIOKafkaConsumer, tp: TopicPartition, offset: int, reason: str) -> None:
        if tp not in kafka.assignment():
            return  # taken over by another member meanwhile: it starts from the committed offset
        previous = self.held.get(tp)
        attempts = previous.attempts + 1 if previous is not None and previous.offset == offset else 1
        since = previous.since if previous is not None and previous.offset == offset else datetime.now(UTC)
        hold = Hold(offset, reason, since, attempts, time.monotonic() + self.backoff.delay(attempts))
        self.held[tp] = hold
        kafka.seek(tp, offset)
        kafka.pause(tp)
        messages_held.add(1, {"group": self.group, "topic": tp.topic})
        log.warning("consumer %s: %s", self.group, hold.describe(tp))

    # One run of messages ------------------------------------------------------------------------

    def _parse(self, record: Record) -> Parsed:
        """Read a record as a tolerant reader of other services' streams (see deh_contracts
        .vocabulary) and a strict one of what partners send (inbound topics)."""
        headers = list(record.headers or ())
        parsed = Parsed(record, header_map(headers))
        origin = self._origin_topic(parsed)
        if origin is None:
            parsed.skip = "re-driven to another group"
            return parsed
        if origin.inbound and (refusal := _refused_unread(record, parsed.type_name, origin)):
            parsed.error = refusal  # answered before it is read
            return parsed
        if record.value is None:
            parsed.tombstone = True
            if origin.name not in self.tombstone_handlers:
                parsed.skip = "a tombstone nobody here handles"
            return parsed
        if parsed.type_name in MESSAGE_TYPES and parsed.type_name not in self.handlers and self.projection is None:
            parsed.skip = "not handled here"
            return parsed
        if parsed.type_name and parsed.type_name not in MESSAGE_TYPES and not origin.inbound:
            parsed.skip = "a type newer than this service"
            return parsed
        unknown_values: list[str] | None = None if origin.inbound else []
        try:
            parsed.event = from_kafka(
                record.value or b"", headers, unknown_values=unknown_values, strict_fields=origin.inbound
            )
        except ContractError as error:
            parsed.error = error
        if (
            origin.inbound
            and parsed.event is not None
            and (mismatch := _identity_mismatch(record, parsed.event, origin.owner_of(parsed.origin_topic)))
        ):
            parsed.event = None
            parsed.error = ContractError("a message whose key, subject or partner is not its own", mismatch)
        if unknown_values:
            values_unknown.add(len(unknown_values), {"group": self.group, "type": parsed.type_name})
            log.info("consumer %s: kept values newer than this service: %s", self.group, ", ".join(unknown_values))
        return parsed

    def _origin_topic(self, parsed: Parsed) -> Topic | None:
        """The topic the message was first published on; None for a message re-driven to
        another group."""
        if parsed.record.topic != self._redrive.name:
            topic = self._topic_of(parsed.record.topic)
            if topic is None:  # the subscription reads only the group's topics
                raise LookupError(f"{self.group} does not read {parsed.record.topic}")
            return topic
        if parsed.attributes.get(REDRIVE_GROUP_HEADER) != self.group:
            return None
        return self._topic_of(parsed.origin_topic) or self._redrive

    def _topic_of(self, name: str) -> Topic | None:
        """The topic (or the family of partners' topics) that this group reads by `name`."""
        if name not in self._topic_named:
            family = next((topic for topic in self.topics if topic.owner_of(name) is not None), None)
            if family is None:
                return None
            self._topic_named[name] = family
        return self._topic_named[name]

    def _runs(self, items: list[Parsed]) -> list[list[Parsed]]:
        """Consecutive events of a type with a batch handler go together (of any type, for a
        projection); the rest one by one."""
        runs: list[list[Parsed]] = []
        for item in items:
            if self.projection is not None:
                if item.event is not None and runs and runs[-1][-1].event is not None:
                    runs[-1].append(item)
                else:
                    runs.append([item])
                continue
            batched = item.event is not None and item.event.type in self.batch_handlers
            if batched and runs and runs[-1][-1].event is not None and runs[-1][-1].event.type == item.type_name:
                runs[-1].append(item)
            else:
                runs.append([item])
        return runs

    async def _consume_run(self, run: list[Parsed]) -> tuple[int, str] | None:
        """Store the run's effects. On a transient failure: the offset to hold at, and why."""
        first = run[0]
        if len(run) > 1:
            assert first.event is not None
            work = self._batch_work(run)
            with self._span(f"consume {len(run)} {first.type_name}", first) as span:
                span.set_attribute("messaging.batch.message_count", len(run))
                failed = await self._attempt(work)
            if failed is None:
                messages_consumed.add(len(run), {"group": self.group, "type": first.type_name})
                return None
            if failed.transient:
                return first.record.offset, failed.reason
            # One of them cannot be processed: find which, one at a time.
        for item in run:
            reason = await self._consume_one(item)
            if reason is not None:
                return item.record.offset, reason
        return None

    def _batch_work(self, run: list[Parsed]) -> Callable[[], Awaitable[None]]:
        if self.projection is not None:
            projection, deliveries = self.projection, [_delivery(item) for item in run]
            return lambda: projection(deliveries)
        assert run[0].event is not None
        handler = self.batch_handlers[run[0].event.type]
        events = [item.event for item in run if item.event is not None]
        return lambda: handler(events)

    async def _consume_one(self, item: Parsed) -> str | None:
        with self._span(f"consume {item.type_name or 'unknown'}", item) as span:
            if item.skip:
                messages_skipped.add(1, {"group": self.group, "type": item.type_name, "reason": item.skip})
                return None
            failed = await self._attempt(lambda: self._dispatch(item))
            if failed is None:
                messages_consumed.add(1, {"group": self.group, "type": item.type_name})
                return None
            span.set_status(trace.StatusCode.ERROR, failed.reason)
            if failed.transient:
                return failed.reason
            return await self._dead_letter(item, failed)

    async def _dispatch(self, item: Parsed) -> None:
        if item.tombstone:
            key = (item.record.key or b"").decode("utf-8", errors="replace")
            headers = {name: value.decode("utf-8", errors="replace") for name, value in item.record.headers}
            await self.tombstone_handlers[item.origin_topic](key, headers)
            return
        if item.event is not None and self.projection is not None:
            await self.projection([_delivery(item)])
            return
        if item.event is not None:
            await self.handlers[item.event.type](item.event)
            return
        assert item.error is not None
        topic = item.origin_topic
        family = self._topic_of(topic)
        refusal = self.refusal_handlers.get(family.name) if family is not None else None
        if refusal is None:
            raise item.error
        key = (item.record.key or b"").decode("utf-8", errors="replace")
        value, record = item.record.value or b"", item.record
        await refusal(RefusedMessage(topic, key, item.attributes, value, item.error, record.partition, record.offset))

    async def _attempt(self, work: Callable[[], Awaitable[None]]) -> Failed | None:
        try:
            await work()
        except TRANSIENT_ERRORS as error:
            # Driver messages can run to kilobytes (a whole topology description): keep the start.
            return Failed(f"{type(error).__name__}: {str(error)[:200]}", type(error).__name__, transient=True)
        except ContractError as error:
            return Failed(str(error), "ContractError", transient=False)
        except Exception as error:
            log.exception("consumer %s: a handler failed", self.group)
            return Failed(f"{type(error).__name__}: {error}", type(error).__name__, transient=False)
        return None

    @contextlib.contextmanager
    def _span(self, name: str, item: Parsed) -> Iterator[trace.Span]:
        """A consumer span, child of the producer's span whose context the message carries."""
        context = extract_context(item.attributes)
        with tracer.start_as_current_span(name, context=context, kind=trace.SpanKind.CONSUMER) as span:
            span.set_attribute("messaging.system", "kafka")
            span.set_attribute("messaging.destination.name", item.record.topic)
            span.set_attribute("messaging.consumer.group.name", self.group)
            yield span

    async def _dead_letter(self, item: Parsed, failed: Failed) -> str | None:
        """Publish the dead letter; if Kafka cannot take it, hold (the reason is returned)."""
        record = item.record
        value: bytes = record.value or b""
        try:
            text, encoding = value.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(value).decode(), "base64"
        letter = MessageDeadLettered(
            consumer_group=self.group,
            service=self.service,
            reason=failed.reason,
            error_type=failed.error_type,
            attempts=1,
            # A re-driven message keeps the topic it first came from.
            origin_topic=item.origin_topic,
            origin_partition=record.partition,
            origin_offset=record.offset,
            # The dead letter's subject is its key: a message without one gets its position.
            origin_key=(record.key or b"").decode("utf-8", errors="replace")
            or f"{record.topic}[{record.partition}]@{record.offset}",
            origin_headers=item.attributes,
            origin_value=text,
            origin_value_encoding=encoding,
            failed_at=datetime.now(UTC),
        )
        assert self._publish is not None
        event = new_event(letter, source=self.source)  # outside the try: a bug here is not an outage
        try:
            await self._publish(event)
        except Exception as error:
            return f"cannot write the dead letter of a failed message ({failed.reason}): {error!r}"
        messages_failed.add(1, {"group": self.group, "topic": record.topic})
        log.error("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, failed.reason)
        return None

    # What it reports ----------------------------------------------------------------------------

    @property
    def held(self) -> dict[TopicPartition, Hold]:
        return self._partitions.held

    def readings(self) -> list[tuple[str, float, dict[str, str]]]:
        return [
            ("deh.consumer.lag", lag, {"group": self.group, "topic": topic, "partition": str(partition)})
            for (topic, partition), lag in self.lag.items()
        ]

    async def progress(self) -> tuple[int, int]:
        """How far the group is through its partitions: (committed, end) summed over the
        partitions assigned to it now (a new group starts at 0 of the topics' whole history)."""
        kafka = self._kafka
        assigned = list(kafka.assignment()) if kafka is not None else []
        if kafka is None or not assigned:
            return 0, 0
        ends = await kafka.end_offsets(assigned)
        committed = [await kafka.committed(partition) or 0 for partition in assigned]
        return sum(committed), sum(ends.values())

    async def caught_up(self) -> bool:
        """Whether the consumer has processed (and committed) every partition assigned to it up
        to its end as of now (a new group reads the topics' whole history first)."""
        kafka = self._kafka
        assigned = list(kafka.assignment()) if kafka is not None else []
        if kafka is None or not assigned:
            return False
        ends = await kafka.end_offsets(assigned)
        for partition in assigned:
            if ends[partition] > 0 and (await kafka.committed(partition) or 0) < ends[partition]:
                return False
        return True

    def state(self) -> str:
        """ "ok" while the loop runs, the consumer is a member of its group and no partition is held."""
        kafka = self._kafka
        if kafka is None or not self._running:
            return "not started" if kafka is None else "consume loop stopped"
        coordinator = getattr(kafka, "_coordinator", None)
        if coordinator is None or coordinator.coordinator_id is None or coordinator.generation <= 0:
            return f"not a member of group {self.group}"
        unready = {tp: hold for tp, hold in self.held.items() if not hold.awaits_news}
        if unready:
            return "; ".join(hold.describe(tp) for tp, hold in sorted(unready.items()))
        return "ok"


def _delivery(item: Parsed) -> Delivery:
    assert item.event is not None
    return Delivery(item.event, item.origin_topic, item.record.partition, item.record.offset)
