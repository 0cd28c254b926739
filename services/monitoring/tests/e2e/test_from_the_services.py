"""What people do through the other services' HTTP APIs reaches monitoring's indexes, and its
numbers agree with the services' own: members approved in membership, registrations, promotions
and attendance in events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from event_steps import schedule
from hub_samples import member_application
from hub_testing import ServiceUnderTest, isolated_settings, running

from deh_events.app import create_app as create_events
from deh_events.settings import EventsSettings
from deh_membership.app import create_app as create_membership
from deh_membership.settings import MembershipSettings
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.e2e
MODERATOR = ("moderator-1", "member", "moderator")
COUNTRY = "LI"  # a country other tests leave alone, so that the test can count its own members


@pytest.fixture(scope="module")
async def membership(servers: ServerAddresses) -> AsyncIterator[ServiceUnderTest]:
    async with running(create_membership(isolated_settings(MembershipSettings, servers))) as service:
        yield service


@pytest.fixture(scope="module")
async def events(servers: ServerAddresses) -> AsyncIterator[ServiceUnderTest]:
    settings = isolated_settings(EventsSettings, servers, job_seconds=0.5, job_lease_seconds=5)
    async with running(create_events(settings)) as service:
        yield service


async def total(monitoring: ServiceUnderTest, indicator: str, **filters: str) -> int:
    today = datetime.now(UTC).date().isoformat()
    params = {"from": today, "to": today, **filters}
    response = await monitoring.client.get(f"/indicators/{indicator}/series", params=params)
    assert response.status_code == 200, response.text
    found: int = response.json()["total"]
    return found


async def for_event(monitoring: ServiceUnderTest, event_id: str) -> dict[str, int]:
    """Monitoring's numbers for one event (its subject), from the activity index."""
    search = monitoring.runtime.search
    assert search is not None
    body = {
        "size": 0,
        "query": {"term": {"subject": event_id}},
        "aggs": {"by": {"terms": {"field": "indicators", "size": 50}}},
    }
    response = await search.search(index=monitoring.app.state.indexes.activity.alias, body=body)
    return {bucket["key"]: bucket["doc_count"] for bucket in response["aggregations"]["by"]["buckets"]}


async def test_members_registrations_and_attendance_agree_with_the_services(
    membership: ServiceUnderTest, events: ServiceUnderTest, monitoring: ServiceUnderTest
) -> None:
    before = await total(monitoring, "members_approved", country=COUNTRY)
    people = [f"m-{uuid.uuid4().hex[:10]}" for _ in range(5)]
    for person in people:
        applied = await membership.client.post(
            "/members", json=member_application(person, country=COUNTRY), headers=membership.caller(person)
        )
        assert applied.status_code == 201, applied.text
        approved = await membership.client.post(
            f"/members/{person}/approve", json={}, headers=membership.caller(*MODERATOR)
        )
        assert approved.status_code == 200, approved.text

    async def members_counted() -> bool:
        return await total(monitoring, "members_approved", country=COUNTRY) == before + len(people)

    await eventually(members_counted, within=60, interval=0.5)

    event = await schedule(events, capacity=3, audience="members")

    async def register(person: str) -> dict[str, Any]:
        async def accepted() -> dict[str, Any] | None:  # events learns of new members through Kafka
            response = await events.client.post(
                f"/events/{event['event_id']}/registrations", json={}, headers=events.caller(person)
            )
            return response.json() if response.status_code == 201 else None

        return await eventually(accepted, within=30, interval=0.2)

    registrations = [await register(person) for person in people]
    cancelled = await events.client.post(
        f"/registrations/{registrations[0]['registration_id']}/cancel", headers=events.caller(people[0])
    )
    assert cancelled.status_code == 200
    for registration in registrations[1:3]:
        checked = await events.client.post(
            f"/registrations/{registration['registration_id']}/check-in", headers=event["organiser"]
        )
        assert checked.status_code == 200
    counts = (await events.client.get(f"/events/{event['event_id']}/counts")).json()

    async def agreed() -> dict[str, int] | None:
        found = await for_event(monitoring, event["event_id"])
        seated_now = found.get("registrations", 0) - found.get("registrations_cancelled", 0)
        agree = (
            seated_now == counts["registered"] + counts["attended"]
            and found.get("attendances", 0) == counts["attended"]
            and found.get("waitlisted", 0) == 2
            and found.get("promotions", 0) == 1
        )
        return found if agree else None

    await eventually(agreed, within=60, interval=0.5)


async def by_status(monitoring: ServiceUnderTest) -> dict[str, int]:
    response = await monitoring.client.get("/members/by-status", params={"country": COUNTRY})
    assert response.status_code == 200, response.text
    members: dict[str, int] = response.json()["members"]
    return members


async def test_members_by_status_follow_what_moderators_and_members_do(
    membership: ServiceUnderTest, monitoring: ServiceUnderTest
) -> None:
    before = await by_status(monitoring)
    people = [f"m-{uuid.uuid4().hex[:10]}" for _ in range(4)]
    moderator = membership.caller(*MODERATOR)
    for person in people:
        await membership.client.post(
            "/members", json=member_application(person, country=COUNTRY), headers=membership.caller(person)
        )
    for person in people[:3]:
        await membership.client.post(f"/members/{person}/approve", json={}, headers=moderator)
    await membership.client.post(f"/members/{people[0]}/suspend", json={"reason": "conduct"}, headers=moderator)
    await membership.client.post(f"/members/{people[1]}/leave", headers=membership.caller(people[1]))
    erased = await membership.client.delete(f"/members/{people[0]}", headers=membership.caller(people[0]))
    assert erased.status_code == 204
    statuses = [(await membership.client.get(f"/members/{p}", headers=moderator)).json()["status"] for p in people[1:]]
    assert sorted(statuses) == ["active", "applied", "left"]

    expected = dict(before)
    for status, change in {"applied": 1, "active": 1, "left": 1, "erased": 1}.items():
        expected[status] += change

    async def followed() -> dict[str, int] | None:
        found = await by_status(monitoring)
        return found if found == expected else None

    assert await eventually(followed, within=60, interval=0.5) == expected
