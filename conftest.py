"""Session-wide fixtures for every test in the workspace (tests/, libs/*/tests, services/*/tests)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

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
