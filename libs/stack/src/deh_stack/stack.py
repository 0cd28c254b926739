"""The whole local hub: three servers, then the four services."""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass

from deh_platform import access
from deh_platform.access import ADMIN
from deh_stack.config import SERVICE_NAMES, StackConfig
from deh_stack.errors import StackError
from deh_stack.kafka import KafkaServer
from deh_stack.mongo import MongoServer
from deh_stack.opensearch import OpenSearchServer
from deh_stack.server import Server
from deh_stack.services import ServiceProcess

SERVERS = ("kafka", "mongo", "opensearch")


@dataclass(frozen=True)
class Status:
    name: str
    state: str
    address: str
    pid: int | None


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        # The admin's user is written when the storage is formatted; the services' are created
        # over the protocol at every start (_provision_services), like a partner's.
        self.kafka = KafkaServer(config, users=self._formatted_users())
        self.servers: list[Server] = [MongoServer(config), self.kafka, OpenSearchServer(config)]
        self.services: list[Server] = [ServiceProcess(config, name) for name in SERVICE_NAMES]

    def up(self, with_services: bool = True) -> list[Status]:
        """Start what is not running and wait until everything answers; a no-op when all is up."""
        self._start_group(self.servers)
        asyncio.run(self._provision_services())
        if with_services:
            self._start_group(self.services)
        return self.status()

    def _start_group(self, group: list[Server]) -> None:
        # Launch together, then wait: the JVMs warm up in parallel.
        started: list[Server] = []
        try:
            for server in group:
                if server.launch():
                    started.append(server)
            for server in group:
                server.wait_ready()
        except (StackError, KeyboardInterrupt):
            for server in reversed(started):
                server.stop()
            raise

    async def _provision_services(self) -> None:
        await provision_services(self.kafka, self.config.kafka_passwords())

    def down(self) -> list[str]:
        """Stop services first, then servers; returns the names that were running."""
        return [member.name for member in [*self.services, *reversed(self.servers)] if member.stop()]

    def status(self) -> list[Status]:
        return [
            Status(member.name, _state(member), member.address, member.process.pid())
            for member in [*self.servers, *self.services]
        ]

    def clean(self) -> None:
        """Stop everything and delete this profile's data, logs and secrets (downloads stay
        cached); a start after it makes new secrets, which Kafka's storage is formatted with."""
        self.down()
        shutil.rmtree(self.config.home, ignore_errors=True)
        self.kafka.users = self._formatted_users()

    def _formatted_users(self) -> dict[str, str]:
        return {ADMIN: self.config.kafka_passwords()[ADMIN]}


async def provision_services(kafka: KafkaServer, passwords: dict[str, str]) -> None:
    """Each service's Kafka user and what it may do (again at every start: idempotent)."""
    connection = {"bootstrap_servers": kafka.address, **kafka.client_settings()}
    await access.provision_services(connection, {service: passwords[service] for service in SERVICE_NAMES})


def _state(member: Server) -> str:
    if not member.running():
        return "stopped"
    return "ready" if member.is_ready() else "starting"


def container_server(config: StackConfig, name: str) -> KafkaServer | MongoServer | OpenSearchServer:
    """A server as its image runs it: data and settings under DEH_STACK_HOME, its distribution
    under DEH_STACK_CACHE; Kafka with SASL/SCRAM when DEH_KAFKA_ADMIN_PASSWORD gives its admin's
    password (the services' users are made by the provisioning job)."""
    if name == "kafka":
        password = os.environ.get("DEH_KAFKA_ADMIN_PASSWORD")
        return KafkaServer(config, users={ADMIN: password} if password else None, console_log=True)
    return MongoServer(config) if name == "mongo" else OpenSearchServer(config)
