"""Steps that the events service's end-to-end tests share: organise, register, cancel, read."""

from __future__ import annotations

import uuid
from typing import Any

from hub_samples import event_draft
from hub_testing import ServiceUnderTest, person_record, produce

from deh_stack.testing import ServerAddresses, eventually


def someone() -> str:
    return f"m-{uuid.uuid4().hex[:10]}"


async def schedule(events: ServiceUnderTest, **overrides: Any) -> dict[str, Any]:
    organiser = events.caller(someone(), "member", "moderator")
    response = await events.client.post("/events", json=event_draft(**overrides), headers=organiser)
    assert response.status_code == 201, response.text
    event: dict[str, Any] = response.json()
    event["organiser"] = organiser
    return event


async def register(events: ServiceUnderTest, event_id: str, member_id: str, **body: Any) -> dict[str, Any]:
    response = await events.client.post(
        f"/events/{event_id}/registrations", json=body, headers=events.caller(member_id)
    )
    assert response.status_code == 201, response.text
    registration: dict[str, Any] = response.json()
    return registration


async def registrations(events: ServiceUnderTest, event: dict[str, Any], state: str) -> list[dict[str, Any]]:
    response = await events.client.get(
        f"/events/{event['event_id']}/registrations", params={"state": state}, headers=event["organiser"]
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def cancel(events: ServiceUnderTest, registration: dict[str, Any]) -> dict[str, Any]:
    response = await events.client.post(
        f"/registrations/{registration['registration_id']}/cancel", headers=events.caller(registration["member_id"])
    )
    assert response.status_code == 200, response.text
    cancelled: dict[str, Any] = response.json()
    return cancelled


async def approved(
    events: ServiceUnderTest, servers: ServerAddresses, *members: tuple[str, str, list[str]], name: str | None = None
) -> None:
    """Membership approved these (member id, country, sectors) and events has its copy of them;
    with a `name`, each shows one (on the people topic)."""
    records = [
        person_record(
            member, "active", 1, display_name=name and f"{name} {member[-4:]}", country=country, sectors=sectors
        )
        for member, country, sectors in members
    ]
    await produce(servers, *records)

    async def known() -> bool:
        copies = [await events.app.state.store.member(member) for member, _, _ in members]
        return all(copy is not None and (name is None or copy.display_name) for copy in copies)

    await eventually(known, within=30)
