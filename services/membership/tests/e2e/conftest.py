"""The membership service, in process, on the real Kafka and MongoDB servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hub_testing import ServiceUnderTest, isolated_settings, running

from deh_membership.app import create_app
from deh_membership.settings import MembershipSettings
from deh_stack.testing import ServerAddresses


@pytest.fixture(scope="module")
async def membership(servers: ServerAddresses) -> AsyncIterator[ServiceUnderTest]:
    async with running(create_app(isolated_settings(MembershipSettings, servers))) as service:
        yield service
