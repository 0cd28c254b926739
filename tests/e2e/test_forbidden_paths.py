"""Every operation refuses whom it must: without a token, every operation that needs one is a
401; with a valid token that lacks the role an operation requires, it is a 403, whatever the
body or the ids; an operation for active members only is a 403 for a suspended member and for
someone who never joined, whatever their roles. The list of operations, the roles they require
and whether they are for active members is read from the services' own routes, so a new
operation is checked as soon as it exists."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from hub_samples import member_application
from hub_testing import ServiceUnderTest, isolated_settings, running

from deh_events.app import create_app as create_events
from deh_events.settings import EventsSettings
from deh_membership.app import create_app as create_membership
from deh_membership.settings import MembershipSettings
from deh_monitoring.app import create_app as create_monitoring
from deh_monitoring.settings import MonitoringSettings
from deh_platform.auth import ROLES, current_principal
from deh_platform.openapi import dependency_calls
from deh_practices.app import create_app as create_practices
from deh_practices.settings import PracticesSettings
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    needs_token: bool
    roles: tuple[str, ...]  # one of them is required; empty when any caller may try
    members_only: bool  # only active members (deh_platform.auth.members_only)

    def url(self) -> str:
        return re.sub(r"\{[^}]+\}", "nobody-1", self.path)


def operations(service: ServiceUnderTest) -> Iterator[Operation]:
    for context in iter_route_contexts(service.app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        calls = dependency_calls(route)
        roles = next((call.checks_roles for call in calls if hasattr(call, "checks_roles")), ())
        members_only = any(hasattr(call, "refuses_inactive_members") for call in calls)
        for method in sorted(context.methods or ()):
            yield Operation(method, str(context.path_format), current_principal in calls, tuple(roles), members_only)


@pytest.fixture(scope="module")
async def services(servers: ServerAddresses) -> AsyncIterator[dict[str, ServiceUnderTest]]:
    apps = {
        "membership": create_membership(isolated_settings(MembershipSettings, servers)),
        "practices": create_practices(isolated_settings(PracticesSettings, servers)),
        "events": create_events(isolated_settings(EventsSettings, servers)),
        "monitoring": create_monitoring(isolated_settings(MonitoringSettings, servers, index_prefix="{isolated}")),
    }
    async with (
        running(apps["membership"]) as membership,
        running(apps["practices"]) as practices,
        running(apps["events"]) as events,
        running(apps["monitoring"]) as monitoring,
    ):
        yield {"membership": membership, "practices": practices, "events": events, "monitoring": monitoring}


@pytest.mark.parametrize("name", ["membership", "practices", "events", "monitoring"])
async def test_no_token_is_a_401_and_a_missing_role_a_403_on_every_operation(
    services: dict[str, ServiceUnderTest], name: str
) -> None:
    service = services[name]
    wrong: list[str] = []
    checked = 0
    for operation in operations(service):
        if operation.needs_token:
            answer = await service.client.request(operation.method, operation.url(), json={})
            checked += 1
            if answer.status_code != 401:
                wrong.append(f"{operation.method} {operation.path} without a token: {answer.status_code}")
        if operation.roles:
            others = [role for role in ROLES if role not in operation.roles]
            headers = service.caller("someone-1", *others)
            answer = await service.client.request(operation.method, operation.url(), json={}, headers=headers)
            checked += 1
            if answer.status_code != 403:
                wrong.append(f"{operation.method} {operation.path} with {others}: {answer.status_code}")
    assert wrong == []
    assert checked > 0 or name == "monitoring"


# Every role but the staff's, who act on members' behalf whatever their own status.
NOT_STAFF = ("member", "reviewer", "nas_coordinator")


async def test_operations_for_active_members_refuse_a_suspended_member_and_a_stranger(
    services: dict[str, ServiceUnderTest],
) -> None:
    membership, practices = services["membership"], services["practices"]
    suspended = f"m-{uuid.uuid4().hex[:10]}"
    await membership.client.post("/members", json=member_application(suspended), headers=membership.caller(suspended))
    moderator = membership.caller("moderator-1", "moderator")
    assert (await membership.client.post(f"/members/{suspended}/approve", json={}, headers=moderator)).is_success
    suspension = {"reason": "spam"}
    assert (
        await membership.client.post(f"/members/{suspended}/suspend", json=suspension, headers=moderator)
    ).is_success

    async def practices_knows() -> bool:  # from membership's people topic, as in production
        return bool(await practices.app.state.store.member_status(suspended) == "suspended")

    await eventually(practices_knows)
    wrong: list[str] = []
    checked = 0
    for service in (membership, practices):
        for operation in (operation for operation in operations(service) if operation.members_only):
            for who in (suspended, f"never-joined-{uuid.uuid4().hex[:6]}"):
                headers = service.caller(who, *NOT_STAFF)
                answer = await service.client.request(operation.method, operation.url(), json={}, headers=headers)
                checked += 1
                if answer.status_code != 403:
                    wrong.append(f"{operation.method} {operation.path} by {who}: {answer.status_code}")
    assert wrong == []
    # The directory and a NAS's members; submitting, editing, submitting a draft and reviewing.
    assert checked >= 2 * 6, "every members-only operation of membership and practices, for both"
