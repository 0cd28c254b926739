"""The events service, in process, on the real Kafka and MongoDB servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hub_testing import ServiceUnderTest, isolated_settings, running

from deh_events.app import create_app
from deh_events.settings import EventsSettings
from deh_stack.testing import ServerAddresses


@pytest.fixture(scope="module")
async def events(servers: ServerAddresses) -> AsyncIterator[ServiceUnderTest]:
    # Jobs run often here so that tests of ending and reminding wait seconds, not minutes.
    settings = isolated_settings(EventsSettings, servers, job_seconds=0.5, job_lease_seconds=5)
    async with running(create_app(settings)) as service:
        yield service
