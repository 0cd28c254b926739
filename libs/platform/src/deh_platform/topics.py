"""Creating the registry's topics on the broker at service start (idempotent), with the
replication that the environment asks for, and refusing to run on topics that have less.

`acks=all` waits for the in-sync replicas: with one replica (the local stack) that is one
broker; in production the settings ask for 3 replicas and at least 2 in sync, and a topic
created earlier with fewer would silently make every acknowledged event one disk failure away
from loss.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from deh_contracts.registry import Topic

MIN_INSYNC = "min.insync.replicas"


@dataclass(frozen=True)
class Replication:
    """How many copies of every partition, and how many must have an event before acks=all."""

    factor: int = 1
    min_insync: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.min_insync <= self.factor:
            raise ValueError(f"min.insync.replicas {self.min_insync} must be between 1 and the factor {self.factor}")


class TopicMisconfigured(Exception):
    """A topic exists with less durability than the environment asks for."""


async def ensure_topics(bootstrap: str, topics: Iterable[Topic], replication: Replication | None = None) -> None:
    replication = replication or Replication()
    wanted = {topic.name: topic for topic in topics}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                topic.name,
                num_partitions=topic.partitions,
                replication_factor=replication.factor,
                topic_configs={**topic.config, MIN_INSYNC: str(replication.min_insync)},
            )
            for name, topic in wanted.items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another replica created it first
                await admin.create_topics(missing)
        await _check(admin, list(wanted), replication)
    finally:
        await admin.close()


async def _check(admin: AIOKafkaAdminClient, names: list[str], replication: Replication) -> None:
    problems = []
    for description in await admin.describe_topics(names):
        factors = {len(partition["replicas"]) for partition in description["partitions"]}
        if min(factors, default=0) < replication.factor:
            problems.append(
                f"{description['topic']} has {min(factors, default=0)} replicas, {replication.factor} wanted"
            )
    resources = [ConfigResource(ConfigResourceType.TOPIC, name, {MIN_INSYNC: None}) for name in names]
    for response in await admin.describe_configs(resources):
        for resource in response.to_object()["resources"]:
            for entry in resource["config_entries"]:
                if entry["config_names"] == MIN_INSYNC and int(entry["config_value"]) < replication.min_insync:
                    problems.append(
                        f"{resource['resource_name']} has {MIN_INSYNC}={entry['config_value']}, "
                        f"{replication.min_insync} wanted"
                    )
    if problems:
        raise TopicMisconfigured(
            "Kafka topics are less durable than this environment asks for (DEH_KAFKA_REPLICATION_FACTOR, "
            "DEH_KAFKA_MIN_INSYNC_REPLICAS): " + "; ".join(problems) + ". Raise them with kafka-topics / "
            "kafka-reassign-partitions and kafka-configs, or correct the settings."
        )
