"""Fixtures of the platform's integration tests: a tiny counters service on the real servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from asgi_lifespan import LifespanManager
from counters_service import CountersService, CounterStream, build_counters_service

from deh_stack.testing import ServerAddresses, eventually


@pytest.fixture(scope="session")
def counter_stream() -> CounterStream:
    return CounterStream()


@pytest.fixture
async def counters(servers: ServerAddresses) -> AsyncIterator[CountersService]:
    service = build_counters_service(servers)
    async with LifespanManager(service.app, startup_timeout=60, shutdown_timeout=60):
        await eventually(service.ready, within=30)
        yield service
