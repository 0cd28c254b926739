"""Apache Kafka in KRaft mode as one combined broker and controller node, from Maven jars."""

from __future__ import annotations

import asyncio
import base64
import logging
import subprocess
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from deh_stack import maven, resources
from deh_stack.config import KAFKA_VERSION
from deh_stack.errors import StackError
from deh_stack.server import Server
from deh_stack.tools import java


class KafkaServer(Server):
    name = "kafka"
    port_names = ("kafka", "kafka_controller")
    startup_timeout = 90.0

    @property
    def address(self) -> str:
        return self.config.kafka_bootstrap

    @property
    def dist(self) -> Path:
        return self.config.cache / f"kafka-{KAFKA_VERSION}"

    def install(self) -> None:
        pom = maven.pom_from_template("kafka-pom.xml", KAFKA_VERSION=KAFKA_VERSION)
        maven.copy_dependencies(pom, self.dist)

    def prepare(self) -> None:
        super().prepare()
        properties = self.folder / "server.properties"
        properties.write_text(self._properties())
        log_config = self.folder / "log4j2.properties"
        log_config.write_text(resources.text("kafka-log4j2.properties"))
        if not (self.data_dir / "meta.properties").exists():
            self._format_storage()

    def _properties(self) -> str:
        host, ports = self.config.host, self.config.ports
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{host}:{ports['kafka_controller']}",
            "listeners": f"PLAINTEXT://{host}:{ports['kafka']},CONTROLLER://{host}:{ports['kafka_controller']}",
            "advertised.listeners": f"PLAINTEXT://{host}:{ports['kafka']}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "3",
            # One node: every internal topic has a single replica.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Topics come from the contract registry, never from a typo in a producer.
            "auto.create.topics.enable": "false",
            "group.initial.rebalance.delay.ms": "0",
            # The log cleaner looks for compactable segments every second (15 s by default), so
            # that an erasure's tombstone removes a member's data from a compacted topic soon.
            "log.cleaner.backoff.ms": "1000",
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _format_storage(self) -> None:
        result = subprocess.run(
            [
                *self._java_command(),
                "kafka.tools.StorageTool",
                "format",
                "-t",
                new_cluster_id(),
                "-c",
                str(self.folder / "server.properties"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"Formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

    def _java_command(self) -> list[str]:
        return [
            java(),
            "-Xms512m",
            "-Xmx1g",
            f"-Dlog4j2.configurationFile={self.folder / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.logs_dir}",
            "-cp",
            f"{self.dist / 'lib'}/*",
        ]

    def command(self) -> tuple[list[str], dict[str, str]]:
        return [*self._java_command(), "kafka.Kafka", str(self.folder / "server.properties")], {}

    def is_ready(self) -> bool:
        return asyncio.run(_kafka_answers(self.address))


def new_cluster_id() -> str:
    """A random cluster id as Kafka writes them (URL-safe base64 of 16 bytes, unpadded).

    Like Kafka's own `Uuid.randomUuid`, never one that starts with `-`: the storage tool would
    read it as an option (one id in 64 would).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


async def _kafka_answers(bootstrap: str) -> bool:
    # While the broker boots every poll fails; the client's error logs would only be noise.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:  # any failure means "not ready yet"; the caller keeps polling
        return False
    finally:
        await admin.close()
