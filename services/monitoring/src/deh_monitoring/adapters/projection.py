"""The projection: every domain event, a partition's batch at a time, into OpenSearch.

1. Each event becomes an activity document whose id is the event's id, created with one bulk
   request: a redelivery or a replay finds it there and leaves it (first write wins).
2. The indicator cells the batch touched are counted again from the activity index (after a
   refresh): a cell's value is the number of activity documents that count in it, so it is
   exact however often an event was read.
3. Each cell's document is written with its count as external version (`external_gte`): counts
   only grow (activity documents are never removed), so when partitions are projected side by
   side, an earlier, smaller count never overwrites a later one.

Only then does the consumer commit the batch's offsets; a crash before that re-reads the batch.
An item OpenSearch refuses for good fails the batch, and the consumer finds it one by one and
dead-letters it; a server that is away holds the partition (deh_platform.consumer).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from opensearchpy import AsyncOpenSearch

from deh_contracts import CloudEvent
from deh_contracts.catalogue.monitoring import ObservationRecorded
from deh_contracts.registry import COMMUNITY, EVENTS, MEMBERSHIP, MONITORING, PRACTICES
from deh_monitoring.adapters.indexes import MonitoringIndexes
from deh_monitoring.domain.activity import Activity, Context, cell_parts, defines, describe, references
from deh_platform.consumer import Delivery
from deh_platform.errors import TransientError

# The domain streams it projects (each service's own, kept forever for replays).
PROJECTED_TOPICS = [MEMBERSHIP, COMMUNITY, PRACTICES, EVENTS, MONITORING]
# OpenSearch answers these for one item when trying again later may succeed.
TRANSIENT_STATUSES = {429, 502, 503, 504}
VERSION_CONFLICT = 409


class Projection:
    """Writes to `activity` and `indicators` (the aliases when live, a new version's indexes
    during a rebuild) and keeps what later events need in `context`."""

    def __init__(
        self, search: AsyncOpenSearch, indexes: MonitoringIndexes, *, rebuilding: tuple[str, str] | None = None
    ) -> None:
        self.search = search
        self.activity, self.indicators = rebuilding or (indexes.activity.alias, indexes.indicators.alias)
        self.context = indexes.context
        self.observations = indexes.observations
        self.last_event_at: dict[tuple[str, int], datetime] = {}

    async def project(self, deliveries: Sequence[Delivery]) -> None:
        context = await self._context(deliveries)
        activities = [describe(d.event, d.topic, d.partition, d.offset, context) for d in deliveries]
        observed = [
            _observation(self.observations, d.event)
            for d in deliveries
            if isinstance(d.event.data, ObservationRecorded)
        ]
        await self._bulk([*(_indexed(self.activity, activity) for activity in activities), *observed])
        cells = sorted({cell for activity in activities for cell in activity.cells})
        if cells:
            await self.search.indices.refresh(index=self.activity)
            counts = await self._counts(cells)
            await self._bulk([self._cell_document(cell, counts.get(cell, 0)) for cell in cells])
        for delivery in deliveries:
            self.last_event_at[(delivery.topic, delivery.partition)] = delivery.event.time

    async def _context(self, deliveries: Sequence[Delivery]) -> Context:
        """What the batch's events need from earlier ones: defined in the batch itself (stored
        first, for later batches), or stored by an earlier batch. An aggregate's events share a
        partition, so the defining event is always read before those that need it."""
        defined = dict(found for d in deliveries if (found := defines(d.event)) is not None)
        await self._bulk(
            [[{"index": {"_index": self.context, "_id": key}}, {"fields": fields}] for key, fields in defined.items()]
        )
        wanted = {key for d in deliveries if (key := references(d.event)) is not None} - set(defined)
        if wanted:
            response = await self.search.mget(index=self.context, body={"ids": sorted(wanted)})
            defined.update({doc["_id"]: doc["_source"]["fields"] for doc in response["docs"] if doc.get("found")})
        return defined

    async def _counts(self, cells: list[str]) -> dict[str, int]:
        body = {
            "size": 0,
            "query": {"terms": {"cells": cells}},
            "aggs": {"cells": {"terms": {"field": "cells", "include": cells, "size": len(cells)}}},
        }
        response = await self.search.search(index=self.activity, body=body)
        return {bucket["key"]: bucket["doc_count"] for bucket in response["aggregations"]["cells"]["buckets"]}

    def _cell_document(self, cell: str, count: int) -> list[dict[str, Any]]:
        action = {
            "index": {
                "_index": self.indicators,
                "_id": cell,
                "version": count,
                "version_type": "external_gte",
            }
        }
        document = {"cell": cell, **cell_parts(cell), "value": count, "updated_at": datetime.now(UTC).isoformat()}
        return [action, document]

    async def _bulk(self, pairs: list[list[dict[str, Any]]]) -> None:
        body = [line for pair in pairs for line in pair]
        if not body:
            return
        response = await self.search.bulk(body=body)
        if not response["errors"]:
            return
        failures = [result for item in response["items"] for result in item.values() if result.get("error")]
        # A conflict: the activity document exists already (first write wins), or a larger count won.
        lasting = [f for f in failures if f["status"] != VERSION_CONFLICT]
        if any(failure["status"] in TRANSIENT_STATUSES for failure in lasting):
            raise TransientError(f"OpenSearch is overloaded or away: {lasting[0]['error']}")
        if lasting:
            raise ValueError(f"OpenSearch refused {len(lasting)} documents, first: {lasting[0]['error']}")


def _observation(index: str, event: CloudEvent[Any]) -> list[dict[str, Any]]:
    """A partner's observation, its newest value (a correction comes later, with a later time)."""
    recorded: ObservationRecorded = event.data
    version = int(event.time.timestamp() * 1000)
    action = {
        "index": {"_index": index, "_id": recorded.observation_id, "version": version, "version_type": "external_gte"}
    }
    document = {
        "observation_id": recorded.observation_id,
        **recorded.observation.model_dump(mode="json"),
        "partner": recorded.partner,
        "recorded_at": recorded.recorded_at.isoformat(),
        "event_id": event.id,
    }
    return [action, document]


def _indexed(alias: str, activity: Activity) -> list[dict[str, Any]]:
    """Created, never replaced: an event read again (a redelivery, a replay, a re-published
    copy) leaves the first record, and so its cells, as they were."""
    return [{"create": {"_index": alias, "_id": activity.event_id}}, activity.model_dump(mode="json")]
