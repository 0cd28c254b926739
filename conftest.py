"""Session-wide fixtures for every test in the workspace (tests/, libs/*/tests, services/*/tests)."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from deh_stack.testing import ServerAddresses, provide_servers


@pytest.fixture(scope="session")
def servers() -> Iterator[ServerAddresses]:
    """Real Kafka, MongoDB and OpenSearch for the whole session (see deh_stack.testing)."""
    with provide_servers() as addresses:
        yield addresses


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A name no other test uses, for topics, groups, databases and indexes on shared servers."""
    return f"t-{request.node.name[:30].lower().replace('_', '-').replace('[', '-').rstrip(']')}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def own_database(servers: ServerAddresses, unique_name: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A MongoDB database of the test's own, dropped after: for a service run in its own process."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(servers.mongo_url, tz_aware=True)
    yield client[unique_name[:60]]
    await client.drop_database(unique_name[:60])
    await client.close()


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    """Every span the test process records (the services keep a provider that is already set)."""
    return _SPANS


@pytest.fixture(scope="session")
def metric_reader() -> InMemoryMetricReader:
    """Every metric the test process records."""
    return _METRICS


def pytest_configure(config: pytest.Config) -> None:
    # One token secret per test session, for the services in process and those in their own
    # process alike (they inherit the environment); none is committed.
    os.environ.setdefault("DEH_AUTH_SECRET", secrets.token_urlsafe(48))
    # Services find a partner onboarded by a test within a second (30 by default).
    os.environ.setdefault("DEH_KAFKA_PARTNER_DISCOVERY_SECONDS", "1")
    resource = Resource.create({"service.name": "deh-tests"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(_SPANS))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[_METRICS]))


_SPANS = InMemorySpanExporter()
_METRICS = InMemoryMetricReader()
