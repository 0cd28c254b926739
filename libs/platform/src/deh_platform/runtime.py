"""The connections a service holds for its lifetime: Kafka (FastStream), MongoDB, OpenSearch."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from faststream.kafka import KafkaBroker
from opensearchpy import AsyncOpenSearch
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from deh_platform.settings import ServiceSettings

Document = dict[str, Any]

# A readiness probe must answer quickly even when a server hangs.
READINESS_CHECK_SECONDS = 2.0


def create_broker(settings: ServiceSettings) -> KafkaBroker:
    """The one way a service talks to Kafka: an idempotent producer that waits for all replicas."""
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=settings.service_name,
        acks="all",
        enable_idempotence=True,
    )


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    broker: KafkaBroker
    mongo: AsyncMongoClient[Document] | None = None
    search: AsyncOpenSearch | None = None
    _started: bool = field(default=False, init=False)

    @classmethod
    def from_settings(cls, settings: ServiceSettings, broker: KafkaBroker | None = None) -> ServiceRuntime:
        mongo: AsyncMongoClient[Document] | None = None
        if settings.uses_mongodb:
            if not settings.mongo_url:
                raise ValueError(f"{settings.service_name} needs MongoDB: set DEH_MONGO_URL")
            mongo = AsyncMongoClient(settings.mongo_url, appname=settings.service_name, serverSelectionTimeoutMS=5000)
        search: AsyncOpenSearch | None = None
        if settings.uses_opensearch:
            if not settings.opensearch_url:
                raise ValueError(f"{settings.service_name} needs OpenSearch: set DEH_OPENSEARCH_URL")
            search = AsyncOpenSearch(settings.opensearch_url, timeout=10)
        return cls(settings, broker or create_broker(settings), mongo, search)

    @property
    def db(self) -> AsyncDatabase[Document]:
        if self.mongo is None:
            raise RuntimeError(f"{self.settings.service_name} has no MongoDB configured (DEH_MONGO_URL)")
        return self.mongo[self.settings.mongo_database or self.settings.service_name]

    async def start(self) -> None:
        await self.broker.start()
        self._started = True

    async def stop(self) -> None:
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
        return {name: _describe(result) for name, result in zip(checks, results, strict=True)}

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
