"""The practices service, in process, on the real Kafka, MongoDB and OpenSearch servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hub_testing import ServiceUnderTest, isolated_settings, running

from deh_practices.app import create_app
from deh_practices.settings import PracticesSettings
from deh_stack.testing import ServerAddresses


@pytest.fixture(scope="module")
async def practices(servers: ServerAddresses) -> AsyncIterator[ServiceUnderTest]:
    settings = isolated_settings(PracticesSettings, servers, search_alias="{isolated}")
    async with running(create_app(settings)) as service:
        yield service
