"""The transactional outbox, inside the changed document itself.

A state change and the events it causes are one `update_one`: the events are pushed onto the
document's `_outbox` array in the same atomic write (single-document atomicity holds on every
MongoDB-compatible server, no transaction needed). The relay publishes each pending event with
the idempotent producer, waits for the broker's acknowledgement, then pulls it from the array.
A crash between publish and pull republishes it: duplicates are possible, losses are not, and
consumers deduplicate on the event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from pymongo.asynchronous.collection import AsyncCollection

from deh_contracts import CloudEvent, to_kafka
from deh_platform.telemetry import events_published, extract_context, inject_context, observe, tracer

OUTBOX_FIELD = "_outbox"
Document = dict[str, Any]
Publish = Callable[[Document], Awaitable[None]]
log = logging.getLogger(__name__)


def pending(event: CloudEvent[Any]) -> Document:
    """An event as stored in the outbox: the exact Kafka record, with the trace context of the
    request that caused it, so the relay's publish joins that trace."""
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


def with_events(update: Document, events: Sequence[CloudEvent[Any]]) -> Document:
    """Add the events to a MongoDB update document, so that they are written with the change."""
    if not events:
        return update
    pushes = dict(update.get("$push", {}))
    pushes[OUTBOX_FIELD] = {"$each": [pending(event) for event in events]}
    return {**update, "$push": pushes}


def new_document(document: Document, events: Sequence[CloudEvent[Any]]) -> Document:
    """A document to insert, carrying the events its creation causes."""
    return {**document, OUTBOX_FIELD: [pending(event) for event in events]}


class OutboxRelay:
    """Publishes pending events of the given collections until stopped; safe to run in every replica."""

    def __init__(
        self,
        collections: Sequence[AsyncCollection[Document]],
        publish: Publish,
        *,
        poll_seconds: float = 0.5,
        batch_size: int = 100,
    ) -> None:
        self.collections = list(collections)
        self.publish = publish
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.backlog = 0
        self._wake = asyncio.Event()
        observe(self)

    def readings(self) -> list[tuple[str, float, dict[str, str]]]:
        return [("deh.outbox.backlog", self.backlog, {"collections": ",".join(c.name for c in self.collections)})]

    def notify(self) -> None:
        """Something was just written: publish now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                published = await self.drain()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("outbox relay failed; the events stay pending and are retried")
                await asyncio.sleep(min(0.2 * 2**failures, 10.0))
                continue
            if published == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def drain(self) -> int:
        """Publish what is pending now; returns how many events were published."""
        published = 0
        found = 0
        for collection in self.collections:
            cursor = collection.find({f"{OUTBOX_FIELD}.0": {"$exists": True}}, {OUTBOX_FIELD: 1}).limit(self.batch_size)
            async for document in cursor:
                events = document[OUTBOX_FIELD]
                found += len(events)
                for event in events:  # in order: the per-aggregate order is kept
                    await self._publish_one(event)
                await collection.update_one(
                    {"_id": document["_id"]},
                    {"$pull": {OUTBOX_FIELD: {"id": {"$in": [event["id"] for event in events]}}}},
                )
                published += len(events)
        self.backlog = found
        return published

    async def _publish_one(self, event: Document) -> None:
        parent = extract_context(event["headers"])
        with tracer.start_as_current_span(
            f"publish {event['type']}", context=parent, kind=trace.SpanKind.PRODUCER
        ) as span:
            span.set_attribute("messaging.system", "kafka")
            span.set_attribute("messaging.destination.name", event["topic"])
            span.set_attribute("messaging.message.id", event["id"])
            headers = inject_context(dict(event["headers"]))  # the consumer becomes a child of this span
            await self.publish({**event, "headers": headers})
        events_published.add(1, {"topic": event["topic"]})
