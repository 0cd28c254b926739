"""The transactional outbox, inside the changed document itself, and the relay that publishes it.

A state change and the events it causes are one write: the events are pushed onto the document's
`_outbox` array in the same atomic update (single-document atomicity holds on every
MongoDB-compatible server, no transaction needed).

The relay publishes them. The writer hands it the ids of the documents it just changed, so it
reads those by `_id` and never scans a collection for its work; a sweep at start and every few
minutes finds what a crash left behind. With any number of replicas, each aggregate's events
leave in order: a relay first claims a document (a conditional update, with an expiry so that a
dead replica's claim passes to another), publishes its pending events in order, numbering them
with the document's own sequence (`ce_sequence`), and releases the claim in the same update that
removes what it published. Events of many documents are sent together and their
acknowledgements awaited together. A crash between publish and removal republishes: duplicates
are possible (consumers deduplicate on the event id), losses are not. A document marked to be
removed once published (REMOVE_FIELD) is deleted when its outbox is empty: by the relay that
publishes its last events, or the next sweep.

An event that Kafka can never take (too large, say) is set aside in the document with the
reason (`_set_aside`, counted, listed by `python -m deh_platform.operations set-aside`), and
the rest go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aiokafka.errors import (
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
)
from opentelemetry import trace
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from deh_contracts import CloudEvent, to_kafka
from deh_contracts.envelope import SEQUENCE_HEADER, sequence_text
from deh_contracts.registry import Topic
from deh_platform.telemetry import (
    events_published,
    extract_context,
    inject_context,
    items_set_aside,
    observe,
    tracer,
)

OUTBOX_FIELD = "_outbox"
CLAIM_FIELD = "_outbox_claim"
SEQUENCE_FIELD = "_outbox_sequence"
# Items a loop of the platform could never process, with the reason, in the document they
# belong to; listed by `python -m deh_platform.operations set-aside`.
SET_ASIDE_FIELD = "_set_aside"
# A document that exists only to carry its last events (an erased member's, say) leaves once
# they are published (`ServiceRuntime.remove_once_published`).
REMOVE_FIELD = "_remove_once_published"
Document = dict[str, Any]
log = logging.getLogger(__name__)

# Kafka refuses these for good: retrying the same record cannot succeed. (A missing ACL is not
# among them: it is fixed by an operator, and the events wait for that.)
UNPUBLISHABLE = (MessageSizeTooLargeError, RecordTooLargeError, InvalidTopicError)


@dataclass(frozen=True)
class Tombstone:
    """A record with a key and no value, for a compacted topic: once the log cleaner has run,
    no earlier record of that key can be read (decision 0014)."""

    topic: Topic
    key: str
    headers: dict[str, str] = field(default_factory=dict)


Outgoing = CloudEvent[Any] | Tombstone


def pending(event: Outgoing) -> Document:
    """An event as stored in the outbox: the exact Kafka record, with the trace context of the
    request that caused it, so the relay's publish joins that trace."""
    if isinstance(event, Tombstone):
        headers = dict(event.headers)
        inject_context(headers)
        return {
            "id": f"tombstone-{uuid.uuid4().hex}",
            "type": "tombstone",
            "topic": event.topic.name,
            "key": event.key,
            "value": None,
            "headers": headers,
            "stored_at": datetime.now(UTC),
        }
    record = to_kafka(event)
    headers = dict((name, value.decode()) for name, value in record.headers)
    inject_context(headers)
    return {
        "id": event.id,
        "type": event.type,
        "topic": record.topic,
        "key": record.key.decode(),
        "value": record.value.decode(),
        "headers": headers,
        "stored_at": datetime.now(UTC),
    }


def removable() -> Document:
    """Documents marked to be removed once published whose events have all left."""
    # Events set aside go with it: such a document holds only what must not stay (an erased
    # member's record), and an operator could not republish them anyway.
    return {REMOVE_FIELD: True, f"{OUTBOX_FIELD}.0": {"$exists": False}, CLAIM_FIELD: None}


def set_aside_entry(kind: str, reason: str, **details: Any) -> Document:
    """What a loop stores about an item it sets aside (see SET_ASIDE_FIELD)."""
    return {"kind": kind, "reason": reason, "at": datetime.now(UTC), **details}


def with_events(update: Document, events: Sequence[Outgoing]) -> Document:
    """Add the events to a MongoDB update document, so that they are written with the change."""
    if not events:
        return update
    pushes = dict(update.get("$push", {}))
    pushes[OUTBOX_FIELD] = {"$each": [pending(event) for event in events]}
    return {**update, "$push": pushes}


def new_document(document: Document, events: Sequence[Outgoing]) -> Document:
    """A document to insert, carrying the events its creation causes."""
    return {**document, OUTBOX_FIELD: [pending(event) for event in events]}


class Producer(Protocol):
    """What the relay needs of aiokafka's AIOKafkaProducer (started, idempotent, acks=all)."""

    async def send(
        self, topic: str, value: bytes | None, key: bytes, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[Any]: ...


class KafkaUnavailable(Exception):
    """Kafka did not take every event: the relay backs off and tries again."""


@dataclass(frozen=True)
class _Sent:
    """One event on its way: the send's future, and its span to end when Kafka answers."""

    event: Document
    delivery: asyncio.Future[Any] | None
    span: trace.Span
    refused: BaseException | None = None


class OutboxRelay:
    """Publishes pending events of the given collections until stopped; safe in every replica."""

    def __init__(
        self,
        collections: Sequence[AsyncCollection[Document]],
        *,
        owner: str | None = None,
        claim_seconds: float = 120.0,
        sweep_seconds: float = 300.0,
        batch_size: int = 200,
    ) -> None:
        self.collections = {collection.name: collection for collection in collections}
        self.producer: Producer | None = None
        self.owner = owner or uuid.uuid4().hex
        self.claim_seconds = claim_seconds
        self.sweep_seconds = sweep_seconds
        self.batch_size = batch_size
        self.backlog = 0
        self.swept = asyncio.Event()  # set once the first sweep has finished
        self._hints: dict[str, set[Any]] = {name: set() for name in self.collections}
        # Documents to delete once their events have left (remove_once_published).
        self._leaving: dict[str, set[Any]] = {name: set() for name in self.collections}
        # Documents another relay had claimed: looked at again once that claim may have expired.
        self._claimed_elsewhere: list[tuple[float, str, Any]] = []
        self._wake = asyncio.Event()
        observe(self)

    def readings(self) -> list[tuple[str, float, dict[str, str]]]:
        return [("deh.outbox.backlog", self.backlog, {"collections": ",".join(self.collections)})]

    def notify(self, collection: str, document_id: Any) -> None:
        """This document was just written with events: publish them now."""
        self._hints[collection].add(document_id)
        self.backlog = sum(len(ids) for ids in self._hints.values())
        self._wake.set()

    def remove_once_published(self, collection: str, document_id: Any) -> None:
        """Delete this document (marked with REMOVE_FIELD) once its pending events are out."""
        self._leaving[collection].add(document_id)
        self.notify(collection, document_id)

    async def run(self, producer: Producer) -> None:
        """Publish until cancelled, with this (started, idempotent, acks=all) producer."""
        self.producer = producer
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        failures = 0
        while True:
            try:
                if loop.time() >= next_sweep:
                    await self.sweep()
                    self.swept.set()
                    next_sweep = loop.time() + self.sweep_seconds
                self._recheck_claims_due(loop.time())
                await self.drain()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("outbox relay failed; the events stay pending and are retried")
                await asyncio.sleep(min(0.2 * 2**failures, 10.0))
                continue
            wake_at = min([next_sweep, *(due for due, _, _ in self._claimed_elsewhere)])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.05, wake_at - loop.time()))

    def _recheck_claims_due(self, now: float) -> None:
        due = [(name, document_id) for at, name, document_id in self._claimed_elsewhere if at <= now]
        self._claimed_elsewhere = [entry for entry in self._claimed_elsewhere if entry[0] > now]
        for name, document_id in due:
            self._hints[name].add(document_id)

    async def sweep(self) -> int:
        """Find every document with pending events (what a crash or another replica left): a
        scan, so it runs only at start and every `sweep_seconds`."""
        found = 0
        for name, collection in self.collections.items():
            async for document in collection.find({f"{OUTBOX_FIELD}.0": {"$exists": True}}, {"_id": 1}):
                self.notify(name, document["_id"])
                found += 1
            await collection.delete_many(removable())
        return found

    async def drain(self) -> int:
        """Publish the events of every hinted document; returns how many were published."""
        self._wake.clear()
        published = 0
        for name, collection in self.collections.items():
            while self._hints[name]:
                batch = [self._hints[name].pop() for _ in range(min(self.batch_size, len(self._hints[name])))]
                try:
                    published += await self.publish_documents(collection, batch)
                except BaseException:
                    self._hints[name].update(batch)  # tried again after the back-off
                    raise
        self.backlog = sum(len(ids) for ids in self._hints.values())
        return published

    async def publish_documents(self, collection: AsyncCollection[Document], ids: list[Any]) -> int:
        """Claim these documents, publish their pending events in order, remove them and release
        the claims. Documents another relay holds are left to it."""
        token = uuid.uuid4().hex
        now = datetime.now(UTC)
        claim = {"owner": self.owner, "token": token, "until": now + timedelta(seconds=self.claim_seconds)}
        # Free: unclaimed, expired, or claimed by this relay in a pass that failed (one relay
        # works through its batches one at a time, so such a claim is abandoned).
        free = {
            "$or": [{CLAIM_FIELD: None}, {f"{CLAIM_FIELD}.until": {"$lt": now}}, {f"{CLAIM_FIELD}.owner": self.owner}]
        }
        await collection.update_many(
            {"_id": {"$in": ids}, f"{OUTBOX_FIELD}.0": {"$exists": True}, **free}, {"$set": {CLAIM_FIELD: claim}}
        )
        documents = [
            document
            async for document in collection.find(
                {"_id": {"$in": ids}, f"{CLAIM_FIELD}.token": token},
                {OUTBOX_FIELD: 1, SEQUENCE_FIELD: 1, REMOVE_FIELD: 1},
            )
        ]
        await self._remember_claimed_elsewhere(collection, ids, {document["_id"] for document in documents})
        # Everything is handed to the producer first, then the acknowledgements are awaited.
        sent = {document["_id"]: await self._send_all(document) for document in documents}
        releases, published, stopped = [], 0, False
        for document in documents:
            done, set_aside, last = await self._delivered(sent[document["_id"]], document.get(SEQUENCE_FIELD, 0))
            published += len(done)
            stopped = stopped or len(done) + len(set_aside) < len(document[OUTBOX_FIELD])
            releases.append(self._release(document["_id"], token, done, set_aside, last))
        if releases:
            await collection.bulk_write(releases, ordered=False)
        await self._remove_leaving(collection, ids, documents)
        # New events may have been written to a document while it was claimed: look again.
        async for document in collection.find(
            {"_id": {"$in": ids}, f"{OUTBOX_FIELD}.0": {"$exists": True}, **free}, {"_id": 1}
        ):
            self._hints[collection.name].add(document["_id"])
        if stopped:
            raise KafkaUnavailable("Kafka did not acknowledge every event; the rest stay pending")
        return published

    async def _remove_leaving(
        self, collection: AsyncCollection[Document], ids: list[Any], documents: list[Document]
    ) -> None:
        """Delete the documents marked to leave whose events have all been published now."""
        marked = self._leaving[collection.name]
        leaving = {document_id for document_id in ids if document_id in marked}
        leaving |= {document["_id"] for document in documents if document.get(REMOVE_FIELD)}
        if not leaving:
            return
        await collection.delete_many({"_id": {"$in": list(leaving)}, **removable()})
        remaining = {document["_id"] async for document in collection.find({"_id": {"$in": list(leaving)}}, {"_id": 1})}
        marked -= leaving - remaining  # a document still there gets new events, so it comes back here

    async def _remember_claimed_elsewhere(
        self, collection: AsyncCollection[Document], ids: list[Any], claimed: set[Any]
    ) -> None:
        """Another relay publishes these now; if it dies, its claim expires and this one takes over."""
        others = [document_id for document_id in ids if document_id not in claimed]
        if not others:
            return
        async for document in collection.find(
            {"_id": {"$in": others}, f"{OUTBOX_FIELD}.0": {"$exists": True}}, {"_id": 1}
        ):
            due = asyncio.get_running_loop().time() + self.claim_seconds
            self._claimed_elsewhere.append((due, collection.name, document["_id"]))

    async def _send_all(self, document: Document) -> list[_Sent]:
        """Hand every pending event of the document to the producer, in order, numbered."""
        assert self.producer is not None, "the relay publishes only while it runs"
        sequence = int(document.get(SEQUENCE_FIELD, 0))
        sent = []
        for event in document[OUTBOX_FIELD]:
            sequence += 1
            span = tracer.start_span(
                f"publish {event['type']}", context=extract_context(event["headers"]), kind=trace.SpanKind.PRODUCER
            )
            span.set_attribute("messaging.system", "kafka")
            span.set_attribute("messaging.destination.name", event["topic"])
            span.set_attribute("messaging.message.id", event["id"])
            headers = dict(event["headers"])
            headers[SEQUENCE_HEADER] = sequence_text(sequence)
            with trace.use_span(span, end_on_exit=False):
                inject_context(headers)  # the consumer becomes a child of this span
            try:
                delivery = await self.producer.send(
                    event["topic"],
                    None if event["value"] is None else event["value"].encode(),
                    key=event["key"].encode(),
                    headers=[(name, value.encode()) for name, value in headers.items()],
                )
                sent.append(_Sent(event, delivery, span))
            except UNPUBLISHABLE as error:
                sent.append(_Sent(event, None, span, refused=error))
            except Exception as error:  # Kafka away: what was handed over so far is awaited
                log.warning("could not hand %s to the producer (%r); it stays pending", event["id"], error)
                span.end()
                break
        return sent

    async def _delivered(self, sent: list[_Sent], sequence: int) -> tuple[list[str], list[Document], int]:
        """Await the acknowledgements in order. Returns the published ids, the events set aside
        and the last sequence number used; stops at the first transient failure (what follows
        stays pending, to be sent again in order)."""
        done: list[str] = []
        set_aside: list[Document] = []
        for item in sent:
            refused = item.refused
            if refused is None and item.delivery is not None:
                try:
                    await item.delivery
                except UNPUBLISHABLE as error:
                    refused = error
                except Exception as error:
                    item.span.set_status(trace.StatusCode.ERROR, repr(error))
                    item.span.end()
                    for rest in sent[sent.index(item) + 1 :]:
                        rest.span.end()
                        if rest.delivery is not None:  # its outcome no longer matters: it is sent again
                            rest.delivery.add_done_callback(_ignore_outcome)
                    log.warning("publishing %s failed (%r); it stays pending", item.event["id"], error)
                    break
            sequence += 1
            if refused is not None:
                item.span.set_status(trace.StatusCode.ERROR, repr(refused))
                set_aside.append(set_aside_entry("publish", f"{type(refused).__name__}: {refused}", event=item.event))
                items_set_aside.add(1, {"kind": "publish", "topic": item.event["topic"]})
                log.error("set aside outbox event %s (%s): %r", item.event["id"], item.event["type"], refused)
            else:
                done.append(item.event["id"])
                events_published.add(1, {"topic": item.event["topic"]})
            item.span.end()
        return done, set_aside, sequence

    def _release(self, document_id: Any, token: str, done: list[str], set_aside: list[Document], sequence: int) -> Any:
        removed = done + [entry["event"]["id"] for entry in set_aside]
        update: Document = {"$unset": {CLAIM_FIELD: ""}, "$set": {SEQUENCE_FIELD: sequence}}
        if removed:
            update["$pull"] = {OUTBOX_FIELD: {"id": {"$in": removed}}}
        if set_aside:
            update["$push"] = {SET_ASIDE_FIELD: {"$each": set_aside}}
        return UpdateOne({"_id": document_id, f"{CLAIM_FIELD}.token": token}, update)


def _ignore_outcome(delivery: asyncio.Future[Any]) -> None:
    if not delivery.cancelled():
        delivery.exception()
