"""The membership service, in process, on the real Kafka and MongoDB servers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from hub_testing import ServiceUnderTest, running

from deh_membership.app import create_app
from deh_membership.settings import MembershipSettings
from deh_stack.testing import ServerAddresses


@pytest.fixture(scope="module")
async def membership(servers: ServerAddresses) -> AsyncIterator[ServiceUnderTest]:
    isolated = uuid.uuid4().hex[:8]
    settings = MembershipSettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        mongo_url=servers.mongo_url,
        mongo_database=f"membership-{isolated}",
        consumer_group=f"membership-{isolated}",
        outbox_poll_seconds=0.1,
    )
    async with running(create_app(settings)) as service:
        yield service
