"""Creating the registry's topics on the broker at service start (idempotent), with the
replication that the environment asks for, and refusing to run on topics that have less.

`acks=all` waits for the in-sync replicas: with one replica (the local stack) that is one
broker; in production the settings ask for 3 replicas and at least 2 in sync, and a topic
created earlier with fewer would silently make every acknowledged event one disk failure away
from loss.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from deh_contracts.registry import Topic

MIN_INSYNC = "min.insync.replicas"
RETENTION = "retention.ms"
METADATA_ATTEMPTS = 40
_EXISTS = 36  # TOPIC_ALREADY_EXISTS
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Replication:
    """How many copies of every partition, how many must have an event before acks=all, and the
    retention an environment sets for some topics instead of the registry's."""

    factor: int = 1
    min_insync: int = 1
    retention_ms: Mapping[str, int] = field(default_factory=dict)

    def config_of(self, topic: Topic) -> dict[str, str]:
        config = {**topic.config, MIN_INSYNC: str(self.min_insync)}
        # By the topic's name, or its family's (`deh.deadletter.{service}.v1` sets every service's).
        for name in (topic.family_name, topic.name):
            if name in self.retention_ms:
                config[RETENTION] = str(self.retention_ms[name])
        return config

    def __post_init__(self) -> None:
        if not 1 <= self.min_insync <= self.factor:
            raise ValueError(f"min.insync.replicas {self.min_insync} must be between 1 and the factor {self.factor}")


class TopicMisconfigured(Exception):
    """A topic exists with less durability than the environment asks for."""


async def ensure_topics(
    connection: Mapping[str, Any], topics: Iterable[Topic], replication: Replication | None = None
) -> None:
    """Create what is missing of `topics` and check them all. A family of topics is left out:
    each partner's are created when the partner is onboarded (deh_platform.access), each
    service's when it starts (`Topic.for_service`)."""
    replication = replication or Replication()
    wanted = {topic.name: topic for topic in topics if not topic.family}
    admin = AIOKafkaAdminClient(**connection)
    await admin.start()
    try:
        await create_and_check(admin, wanted, replication)
    finally:
        await admin.close()


async def create_and_check(admin: AIOKafkaAdminClient, wanted: Mapping[str, Topic], replication: Replication) -> None:
    """Create the topics named in `wanted` (a name and what it is: a topic, or the family of a
    partner's topic) that do not exist yet, then check that all have the replication wanted."""
    existing = set(await admin.list_topics())
    missing = [
        NewTopic(
            name,
            num_partitions=topic.partitions,
            replication_factor=replication.factor,
            topic_configs=replication.config_of(topic),
        )
        for name, topic in wanted.items()
        if name not in existing
    ]
    if missing:
        response = await admin.create_topics(missing)
        # aiokafka returns the broker's answer unchecked: a topic refused is an error here (one
        # that another replica created meanwhile is not).
        refused = [f"{topic}: error {code}" for topic, code, *_ in response.topic_errors if code not in (0, _EXISTS)]
        if refused:
            raise TopicMisconfigured("Kafka refused to create " + "; ".join(refused))
    await _check(admin, dict(wanted), replication)


async def _described(admin: AIOKafkaAdminClient, names: list[str]) -> list[dict[str, Any]]:
    """The topics' metadata, once the broker has it for all of them: a topic that another
    replica or service has only just created shows no partitions for a moment."""
    for _ in range(METADATA_ATTEMPTS):
        descriptions: list[dict[str, Any]] = await admin.describe_topics(names)
        if all(description["partitions"] for description in descriptions):
            return descriptions
        await asyncio.sleep(0.5)
    missing = [description["topic"] for description in descriptions if not description["partitions"]]
    raise TopicMisconfigured(f"the broker shows no partitions for {', '.join(missing)}")


async def _check(admin: AIOKafkaAdminClient, topics: dict[str, Topic], replication: Replication) -> None:
    names, problems = list(topics), []
    for description in await _described(admin, names):
        factors = {len(partition["replicas"]) for partition in description["partitions"]}
        if min(factors, default=0) < replication.factor:
            problems.append(
                f"{description['topic']} has {min(factors, default=0)} replicas, {replication.factor} wanted"
            )
    resources = [ConfigResource(ConfigResourceType.TOPIC, name, {MIN_INSYNC: None, RETENTION: None}) for name in names]
    for response in await admin.describe_configs(resources):
        for resource in response.to_object()["resources"]:
            name = resource["resource_name"]
            values = {entry["config_names"]: entry["config_value"] for entry in resource["config_entries"]}
            if int(values.get(MIN_INSYNC, 0)) < replication.min_insync:
                problems.append(f"{name} has {MIN_INSYNC}={values.get(MIN_INSYNC)}, {replication.min_insync} wanted")
            wanted_retention = replication.config_of(topics[name]).get(RETENTION)
            if wanted_retention is not None and values.get(RETENTION) != wanted_retention:
                # Retention can be changed on a live topic without harm: say so, do not refuse.
                log.warning(
                    "topic %s keeps %s=%s; this environment asks %s",
                    name,
                    RETENTION,
                    values.get(RETENTION),
                    wanted_retention,
                )
    if problems:
        raise TopicMisconfigured(
            "Kafka topics are less durable than this environment asks for (DEH_KAFKA_REPLICATION_FACTOR, "
            "DEH_KAFKA_MIN_INSYNC_REPLICAS): " + "; ".join(problems) + ". Raise them with kafka-topics / "
            "kafka-reassign-partitions and kafka-configs, or correct the settings."
        )
