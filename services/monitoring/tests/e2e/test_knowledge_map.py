"""The knowledge map: where expertise sits, as counts: practices by competence and country,
squad applications by topic and country (the topic known from the squad's creation), NAS
activity by country (a registration's NAS meeting known from the event's scheduling)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from domain_stream import a_day_of_its_own
from hub_testing import ServiceUnderTest, produce

from deh_contracts import Contract, new_event, to_kafka
from deh_contracts.catalogue.events import EventScheduled, RegistrationConfirmed
from deh_contracts.catalogue.membership import NationalAdvisoryServiceRegistered, SquadApplicationReceived, SquadCreated
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.e2e


def on(day: date, *contracts: tuple[Contract, str]) -> list[Any]:
    at = datetime.combine(day, time(10), tzinfo=UTC)
    return [
        to_kafka(new_event(data, source=source, time=at + timedelta(seconds=n)))
        for n, (data, source) in enumerate(contracts)
    ]


async def mapped(monitoring: ServiceUnderTest, of: str, day: date) -> list[tuple[str, str, int]]:
    response = await monitoring.client.get("/knowledge-map", params={"of": of, "from": str(day), "to": str(day)})
    assert response.status_code == 200, response.text
    return sorted((row["key"], row["country"], row["count"]) for row in response.json())


async def test_the_knowledge_map_counts_squad_topics_and_nas_activity_by_country(
    monitoring: ServiceUnderTest, servers: ServerAddresses
) -> None:
    day = a_day_of_its_own()
    at = datetime.combine(day, time(10), tzinfo=UTC)
    squad, meeting = uuid.uuid4().hex, uuid.uuid4().hex
    created = SquadCreated(
        squad_id=squad,
        title="AI",
        topic="ai-in-education",
        cap=20,
        starts_on=day,
        ends_on=day,
        created_by="m",
        created_at=at,
    )
    applications = [
        SquadApplicationReceived(
            squad_id=squad,
            application_id=f"a{n}",
            member_id=f"p{n}",
            country=country,
            sectors=["school"],
            received_at=at,
        )
        for n, country in enumerate(["PL", "PL", "LV"])
    ]
    scheduled = EventScheduled(
        event_id=meeting,
        kind="nas_meeting",
        title="NAS network meeting",
        starts_at=at,
        ends_at=at,
        timezone="Europe/Warsaw",
        online=True,
        capacity=40,
        audience="nas_only",
        scheduled_at=at,
    )
    registration = RegistrationConfirmed(
        event_id=meeting, registration_id="r1", member_id="p9", country="EE", confirmed_at=at
    )
    nas = NationalAdvisoryServiceRegistered(
        nas_id=uuid.uuid4().hex,
        country="EE",
        organisation_id="o",
        coordinator_ids=["c"],
        scope="schools",
        registered_at=at,
    )
    # The squad's creation and its first application in one go; the rest later, in other batches.
    await produce(servers, *on(day, (created, "/deh/membership"), (applications[0], "/deh/membership")))
    await produce(servers, *on(day, *((a, "/deh/membership") for a in applications[1:])))
    await produce(servers, *on(day, (scheduled, "/deh/events"), (nas, "/deh/membership")))
    await produce(servers, *on(day, (registration, "/deh/events")))

    async def squads_mapped() -> list[tuple[str, str, int]] | None:
        found = await mapped(monitoring, "squad_topics", day)
        return found if sum(count for _, _, count in found) == 3 else None

    assert await eventually(squads_mapped, within=60, interval=0.5) == [
        ("ai-in-education", "LV", 1),
        ("ai-in-education", "PL", 2),
    ]

    async def nas_mapped() -> list[tuple[str, str, int]] | None:
        found = await mapped(monitoring, "nas", day)
        return found if len(found) == 2 else None

    assert await eventually(nas_mapped, within=60, interval=0.5) == [
        ("events.registration.confirmed", "EE", 1),
        ("membership.nas.registered", "EE", 1),
    ]
