"""Rebuilding the monitoring indexes from Kafka, without downtime.

1. New versions of both indexes are created (not yet behind the aliases).
2. A consumer group of its own reads every domain topic from the earliest offset and projects
   into the new versions, until it has caught up with the topics' ends.
3. Once it has also projected at least what the live service's group has committed, both
   aliases move to the new versions in one atomic request.
4. The rebuild catches up once more: whatever the live service projected into the old versions
   in the moment before the swap is read again into the new ones (projecting twice counts
   nothing twice). In that moment readers can see a few events fewer than just before.
The old versions stay until an operator deletes them (a way back); the command says which.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka.admin import AIOKafkaAdminClient

from deh_monitoring.adapters.indexes import MonitoringIndexes, rebuilding, swap
from deh_monitoring.adapters.projection import PROJECTED_TOPICS, Projection
from deh_monitoring.settings import MonitoringSettings
from deh_platform.consumer import EventConsumer
from deh_platform.runtime import ServiceRuntime

Progress = Callable[[int, int], None]


async def rebuild(settings: MonitoringSettings, progress: Progress) -> dict[str, tuple[str, str]]:
    """Rebuild both indexes; returns, per alias, the old and the new version."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    group = f"{settings.consumer_group or settings.service_name}-rebuild-{stamp}-{uuid.uuid4().hex[:6]}"
    runtime = ServiceRuntime.from_settings(settings.model_copy(update={"consumer_group": group}))
    search = runtime.search
    assert search is not None
    indexes = MonitoringIndexes.named(settings.index_prefix)
    await indexes.ensure(search)
    moves = {
        index.alias: (await index.live_version(search), index.new_version())
        for index in (indexes.activity, indexes.indicators)
    }
    for alias, (_, new) in moves.items():
        await search.indices.create(index=new, body={"aliases": {rebuilding(alias): {}}})
    activity_new, indicators_new = moves[indexes.activity.alias][1], moves[indexes.indicators.alias][1]
    projection = Projection(search, indexes, rebuilding=(activity_new, indicators_new))
    consumer = runtime.consumer(PROJECTED_TOPICS)
    consumer.project(projection.project)
    await runtime.start()
    admin = AIOKafkaAdminClient(**settings.kafka_options())
    await admin.start()
    try:
        await _catch_up(consumer, progress)
        live_group = settings.consumer_group or settings.service_name
        while await _behind(admin, group, live_group):  # noqa: ASYNC110 (polling another process's commits)
            await asyncio.sleep(0.1)
        await swap(search, moves)
        await _catch_up(consumer, progress)
    finally:
        await admin.close()
        await runtime.stop()
    return moves


async def _behind(admin: AIOKafkaAdminClient, rebuild_group: str, live_group: str) -> bool:
    """Whether the rebuild has not yet projected everything the live service has (so that,
    swapped now, readers would see fewer events than a moment before)."""
    live = await admin.list_consumer_group_offsets(live_group)
    mine = await admin.list_consumer_group_offsets(rebuild_group)
    topics = {topic.name for topic in PROJECTED_TOPICS}
    return any(
        partition not in mine or mine[partition].offset < committed.offset
        for partition, committed in live.items()
        if partition.topic in topics
    )


async def _catch_up(consumer: EventConsumer, progress: Progress) -> None:
    """Until the rebuild's group has projected every partition up to its end as of now."""
    while True:
        done, total = await consumer.progress()
        progress(done, total)
        if total and await consumer.caught_up():
            return
        await asyncio.sleep(0.2)
