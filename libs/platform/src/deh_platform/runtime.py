"""A service's lifetime resources: connections (Kafka through FastStream, MongoDB, OpenSearch),
its consumers, its outbox relay and its readiness."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from opensearchpy import AsyncOpenSearch
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from pymongo.results import UpdateResult

from deh_contracts import CloudEvent, Contract, new_event
from deh_contracts.registry import DEAD_LETTERS, REDRIVE, Topic
from deh_platform.auth import key_problem
from deh_platform.consumer import Backoff, EventConsumer
from deh_platform.creation import Creation
from deh_platform.errors import Conflict
from deh_platform.leases import ExclusiveJob, Job, Lease
from deh_platform.logs import configure_logging
from deh_platform.outbox import (
    REMOVE_FIELD,
    Document,
    OutboxRelay,
    Outgoing,
    Tombstone,
    new_document,
    removable,
    with_events,
)
from deh_platform.people import References, pseudonymised
from deh_platform.publishing import publish_event
from deh_platform.records import CREATION_FIELD, REVISION_FIELD
from deh_platform.settings import ServiceSettings
from deh_platform.telemetry import configure_telemetry
from deh_platform.topics import Replication, ensure_topics

StartHook = Callable[["ServiceRuntime"], Awaitable[None]]

# A readiness probe must answer quickly even when a server hangs.
READINESS_CHECK_SECONDS = 2.0


def create_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """The outbox relay's producer: idempotent, waits for all in-sync replicas, batches briefly."""
    return AIOKafkaProducer(
        **settings.kafka_options(),
        client_id=f"{settings.service_name}-relay",
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
    )


def create_broker(settings: ServiceSettings) -> KafkaBroker:
    """Publishing that goes with no outbox (answers, dead letters): an idempotent producer that
    waits for all in-sync replicas."""
    return KafkaBroker(
        settings.kafka_bootstrap,
        security=settings.kafka_security(),
        client_id=settings.service_name,
        acks="all",
        enable_idempotence=True,
    )


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    broker: KafkaBroker
    produces: Sequence[Topic] = ()
    outbox_collections: Sequence[str] = ()
    mongo: AsyncMongoClient[Document] | None = None
    search: AsyncOpenSearch | None = None
    consumers: list[EventConsumer] = field(default_factory=list)
    relay: OutboxRelay | None = None
    background: dict[str, Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=dict)
    jobs: dict[str, ExclusiveJob] = field(default_factory=dict)
    replica: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    # Who the members named in this service's events are on Kafka (deh_platform.people).
    references: References | None = None
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict, init=False)
    _relay_producer: AIOKafkaProducer | None = field(default=None, init=False)
    _started: bool = field(default=False, init=False)

    @classmethod
    def from_settings(
        cls,
        settings: ServiceSettings,
        *,
        produces: Sequence[Topic] = (),
        outbox_collections: Sequence[str] = (),
    ) -> ServiceRuntime:
        mongo: AsyncMongoClient[Document] | None = None
        if settings.uses_mongodb:
            mongo = AsyncMongoClient(
                settings.mongo_url, appname=settings.service_name, serverSelectionTimeoutMS=5000, tz_aware=True
            )
        search = settings.opensearch_client() if settings.uses_opensearch else None
        runtime = cls(settings, create_broker(settings), produces, outbox_collections, mongo, search)
        if outbox_collections:
            runtime.relay = OutboxRelay(
                [runtime.db[name] for name in outbox_collections],
                owner=f"{settings.service_name}-{runtime.replica}",
                sweep_seconds=settings.sweep_seconds,
                claim_seconds=settings.outbox_claim_seconds,
            )
        return runtime

    @property
    def name(self) -> str:
        return self.settings.service_name

    @property
    def source(self) -> str:
        """The CloudEvents source of everything this service publishes."""
        return f"/deh/{self.name}"

    @property
    def db(self) -> AsyncDatabase[Document]:
        if self.mongo is None:
            raise RuntimeError(f"{self.name} does not use MongoDB")
        return self.mongo[self.settings.mongo_database or self.name]

    def new_event(
        self, data: Contract, *, event_id: str | None = None, time: datetime | None = None
    ) -> CloudEvent[Contract]:
        return new_event(data, source=self.source, event_id=event_id, time=time)

    def consumer(
        self, topics: Sequence[Topic], *, group: str | None = None, backoff: Backoff | None = None
    ) -> EventConsumer:
        """Declare a consumer group (by default named after the service) over some topics."""
        consumer = EventConsumer(
            group or self.settings.consumer_group or self.name,
            topics,
            service=self.name,
            source=self.source,
            backoff=backoff,
            discovery_seconds=self.settings.kafka_partner_discovery_seconds,
        )
        self.consumers.append(consumer)
        return consumer

    def topics(self) -> list[Topic]:
        """Every topic the service writes or reads, each once."""
        own = [DEAD_LETTERS.for_service(self.name), REDRIVE.for_service(self.name)]
        reads = [topic for consumer in self.consumers for topic in consumer.topics]
        every = [*self.produces, *own, *reads]
        return list({topic.name: topic for topic in every}.values())

    async def start(self, hooks: Sequence[StartHook] = ()) -> None:
        """Connect, run the start hooks (which create indexes, aliases, ...), and only then start
        the consumers and background loops that rely on what the hooks created."""
        configure_logging(self.name, self.settings.log_level)
        configure_telemetry(self.name)
        if problem := key_problem(self.settings):
            raise RuntimeError(f"{self.name} will not start without a key to check bearer tokens: {problem}")
        replication = Replication(
            self.settings.kafka_replication_factor,
            self.settings.kafka_min_insync_replicas,
            self.settings.kafka_retention_ms,
        )
        await ensure_topics(self.settings.kafka_options(), self.topics(), replication)
        await self.broker.start()
        self._started = True
        for hook in hooks:
            await hook(self)
        for consumer in self.consumers:
            self.background[f"consumer {consumer.group}"] = functools.partial(
                consumer.run, self.settings.kafka_options(), self._publish_event
            )
        if self.relay is not None:
            self._relay_producer = create_producer(self.settings)
            await self._relay_producer.start()
            self.background["outbox relay"] = functools.partial(self.relay.run, self._relay_producer)
        for name, loop in self.background.items():
            self._tasks[name] = asyncio.create_task(loop(), name=f"{self.name} {name}")

    async def publish_now(self, data: Contract, *, event_id: str, time: datetime | None = None) -> None:
        """Publish an event that goes with no state change of this service (an answer to a
        partner, say) before the offset of the message that caused it is committed. Its id is
        derived from what caused it (`derived_id`), so that a redelivery publishes the same
        message again rather than a second one: consumers deduplicate on it. Give the cause's
        `time` where readers use the time (a projection by day), so that the copy is the same."""
        (event,) = await pseudonymised([self.new_event(data, event_id=event_id, time=time)], self.references)
        assert isinstance(event, CloudEvent)
        await self._publish_event(event)

    async def _publish_event(self, event: CloudEvent[Any]) -> None:
        await publish_event(self.broker, event)

    def run_in_background(self, name: str, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """A loop that runs for the service's lifetime (started after the broker); readiness
        reports it when it stops."""
        self.background[name] = loop

    def run_exclusively(self, name: str, job: Job, *, every_seconds: float, lease_seconds: float) -> None:
        """A job that must run once per deployment, whatever the number of replicas (see
        deh_platform.leases): the replica holding the lease `name` runs it every `every_seconds`;
        when that replica dies, another takes over within `lease_seconds` plus one interval."""
        if lease_seconds <= every_seconds:
            raise ValueError("a lease must outlast the interval at which its holder renews it")
        lease = Lease(self.db.leases, name, f"{self.name}-{self.replica}", lease_seconds)
        self.jobs[name] = ExclusiveJob(lease, job, every_seconds)
        self.run_in_background(f"job {name}", self.jobs[name].run)

    async def write(
        self,
        collection: AsyncCollection[Document],
        selector: Document,
        update: Document,
        events: Sequence[Contract | Outgoing],
        *,
        upsert: bool = False,
        array_filters: list[Document] | None = None,
    ) -> UpdateResult:
        """One atomic update of one document (`selector` names its `_id`) that stores the change
        and the events it causes; the relay is told to publish them."""
        if "_id" not in selector:
            raise ValueError("a write with events names the document's _id (the relay reads it by _id)")
        result = await collection.update_one(
            selector, with_events(update, await self._events(events)), upsert=upsert, array_filters=array_filters
        )
        if events and (result.modified_count or result.upserted_id is not None):
            self._notify(collection, selector["_id"])
        return result

    async def change(
        self,
        collection: AsyncCollection[Document],
        document_id: Any,
        revision: int,
        update: Document,
        events: Sequence[Contract | Outgoing],
        *,
        array_filters: list[Document] | None = None,
    ) -> bool:
        """The one way to store a change computed from a document as it was read: it applies only
        if the document is still at the `revision` read (any change in between, a concurrent
        request or another service's news, makes it match nothing: False), and it sets the next
        revision, with the change's events. Writes that read nothing first (sweeps) `$inc` it."""
        # Documents written before revisions were counted have none: they are at the first.
        selector = {"_id": document_id, REVISION_FIELD: {"$in": [1, None]} if revision == 1 else revision}
        # `$set`, not `$inc`: on a document without a revision, `$inc` would set 1 again.
        advanced = {**update, "$set": {**update.get("$set", {}), REVISION_FIELD: revision + 1}}
        result = await self.write(collection, selector, advanced, events, array_filters=array_filters)
        return result.modified_count == 1

    async def insert(
        self,
        collection: AsyncCollection[Document],
        document: Document,
        events: Sequence[Contract | Outgoing],
        creation: Creation | None = None,
    ) -> bool:
        """Insert a document together with the events its creation causes. With the `creation` of
        an HTTP request, a retry of that request inserts nothing: False (see deh_platform.creation)."""
        stamped = creation.stamp(document) if creation else document
        try:
            await collection.insert_one(new_document(stamped, await self._events(events)))
        except DuplicateKeyError:
            if creation is None:
                raise
            stored = await collection.find_one({"_id": document["_id"]})
            if not creation.is_retry_of(stored):
                if creation.key is not None and stored is not None and CREATION_FIELD not in stored:
                    # The id derives from caller and key; what holds it forgot the key (an erasure).
                    raise Conflict("this Idempotency-Key was used before; use a new one") from None
                raise
            return False
        if events:
            self._notify(collection, document["_id"])
        return True

    async def append(
        self,
        collection: AsyncCollection[Document],
        document_id: Any,
        into: str,
        item: Document,
        events: Sequence[Contract | Outgoing],
        creation: Creation,
        *,
        named_by: str,
    ) -> Document:
        """Push `item` (its field `named_by` holds its id) onto the document's `into` list with
        its events. Under an Idempotency-Key, once: a retry gets the item the first request
        appended, and the record of the key stays out of what is returned."""
        guard = {"_id": document_id, f"{into}.{named_by}": {"$ne": item[named_by]}}
        result = await self.write(collection, guard, {"$push": {into: creation.stamp(item)}}, events)
        if result.modified_count:
            return item
        document = await collection.find_one({"_id": document_id}, {into: 1})
        earlier = next(
            (entry for entry in (document or {}).get(into, []) if entry.get(named_by) == item[named_by]), None
        )
        if earlier is None or not creation.is_retry_of(earlier):
            raise Conflict(f"the {into} changed meanwhile; retry")
        return {key: value for key, value in earlier.items() if key != CREATION_FIELD}

    async def remove_once_published(self, collection: AsyncCollection[Document], document_id: Any) -> None:
        """Delete the document as soon as the events in its outbox have left (now, if they have):
        for a document kept only to carry its last events, such as an erased member's."""
        await collection.update_one({"_id": document_id}, {"$set": {REMOVE_FIELD: True}})
        removed = await collection.delete_one({"_id": document_id, **removable()})
        if not removed.deleted_count and self.relay is not None:  # its events are still leaving
            self.relay.remove_once_published(collection.name, document_id)

    async def _events(self, events: Sequence[Contract | Outgoing]) -> list[Outgoing]:
        """The events as they are stored: in envelopes, and naming members by reference."""
        outgoing: list[Outgoing] = []
        for event in events:
            if isinstance(event, Tombstone) and event.topic not in self.produces:
                raise ValueError(f"{self.name} does not produce {event.topic.name}")
            outgoing.append(event if isinstance(event, CloudEvent | Tombstone) else self.new_event(event))
        return await pseudonymised(outgoing, self.references)

    def _notify(self, collection: AsyncCollection[Document], document_id: Any) -> None:
        if self.relay is None or collection.name not in self.relay.collections:
            raise ValueError(f"{collection.name} is not an outbox collection of {self.name}")
        self.relay.notify(collection.name, document_id)

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._relay_producer is not None:
            await self._relay_producer.stop()
        if self._started:
            await self.broker.stop()
        if self.mongo is not None:
            await self.mongo.close()
        if self.search is not None:
            await self.search.close()

    async def readiness(self) -> dict[str, str]:
        """Each dependency's state: "ok" or the reason it is not usable."""
        checks = {"kafka": self._check_kafka()}
        if self.mongo is not None:
            checks["mongodb"] = self._check_mongo()
        if self.search is not None:
            checks["opensearch"] = self._check_search()
        results = await asyncio.gather(
            *(asyncio.wait_for(check, READINESS_CHECK_SECONDS) for check in checks.values()), return_exceptions=True
        )
        states = {name: _describe(result) for name, result in zip(checks, results, strict=True)}
        for consumer in self.consumers:
            states[f"consumer {consumer.group}"] = consumer.state()
        for name in self.stopped():
            if not name.startswith("consumer "):  # a consumer says its own state
                states[name] = "stopped"
        return states

    def stopped(self) -> list[str]:
        """The background loops (consumers, the relay, jobs, indexers) that ended: each is meant
        to run for the life of the process, so one that ended needs the process restarted."""
        return [name for name, task in self._tasks.items() if task.done()]

    def essential(self, check: str) -> bool:
        """Whether the service is not ready while this check of `readiness` fails."""
        return not (check == "opensearch" and self.settings.search_optional)

    def ready(self, checks: dict[str, str]) -> bool:
        """Whether these `readiness` checks make the service ready (every essential one ok)."""
        return all(state == "ok" for name, state in checks.items() if self.essential(name))

    async def _check_kafka(self) -> None:
        if not await self.broker.ping(timeout=READINESS_CHECK_SECONDS):
            raise ConnectionError("broker did not answer")

    async def _check_mongo(self) -> None:
        await self.db.command("ping")

    async def _check_search(self) -> None:
        assert self.search is not None
        if not await self.search.ping():
            raise ConnectionError("cluster did not answer")


def _describe(result: object) -> str:
    if isinstance(result, BaseException):
        return f"{type(result).__name__}: {result}" if str(result) else type(result).__name__
    return "ok"
