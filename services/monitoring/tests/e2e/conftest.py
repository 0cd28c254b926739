"""The monitoring service, in process, on the real Kafka and OpenSearch servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hub_testing import ServiceUnderTest, isolated_settings, running

from deh_monitoring.app import create_app
from deh_monitoring.settings import MonitoringSettings
from deh_stack.testing import ServerAddresses


@pytest.fixture(scope="module")
async def monitoring(servers: ServerAddresses) -> AsyncIterator[ServiceUnderTest]:
    settings = isolated_settings(MonitoringSettings, servers, index_prefix="{isolated}")
    async with running(create_app(settings)) as service:
        yield service
