"""Creating the registry's topics on the broker: idempotent, at service start."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from deh_contracts.registry import Topic


async def ensure_topics(bootstrap: str, topics: Iterable[Topic], replication_factor: int = 1) -> None:
    wanted = {topic.name: topic for topic in topics}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                topic.name,
                num_partitions=topic.partitions,
                replication_factor=replication_factor,
                topic_configs=topic.config,
            )
            for name, topic in wanted.items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another replica created it first
                await admin.create_topics(missing)
    finally:
        await admin.close()
