"""The practices service, in process, on the real Kafka, MongoDB and OpenSearch servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hub_testing import ServiceUnderTest, active_in_practices, isolated_settings, running

from deh_practices.app import create_app
from deh_practices.settings import PracticesSettings
from deh_stack.testing import ServerAddresses


@pytest.fixture(scope="module")
async def practices(servers: ServerAddresses) -> AsyncIterator[ServiceUnderTest]:
    # The link checker may reach the tests' own web server on 127.0.0.1 (never in a deployment)
    # and looks for asked-for checks often.
    settings = isolated_settings(
        PracticesSettings,
        servers,
        link_check_allowed_networks=("127.0.0.1/32",),
        link_check_poll_seconds=0.2,
    )
    async with running(create_app(settings)) as service:
        await active_in_practices(service, servers, *MEMBERS)
        yield service


# The people the tests act as: membership has approved them (only active members submit,
# edit and review). Staff act by the role in their token.
MEMBERS = [f"{kind}-{n}" for kind in ("author", "reviewer") for n in range(1, 10)]
