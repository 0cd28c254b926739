"""The practices service, in process, on the real Kafka, MongoDB and OpenSearch servers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from hub_testing import ServiceUnderTest, running

from deh_practices.app import create_app
from deh_practices.settings import PracticesSettings
from deh_stack.testing import ServerAddresses


@pytest.fixture(scope="module")
async def practices(servers: ServerAddresses) -> AsyncIterator[ServiceUnderTest]:
    isolated = uuid.uuid4().hex[:8]
    settings = PracticesSettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        mongo_url=servers.mongo_url,
        opensearch_url=servers.opensearch_url,
        mongo_database=f"practices-{isolated}",
        consumer_group=f"practices-{isolated}",
        search_alias=f"practices-{isolated}",
        outbox_poll_seconds=0.1,
    )
    async with running(create_app(settings)) as service:
        yield service
