"""Steps the membership tests share: people who join, staff who act, a squad opened."""

from __future__ import annotations

import uuid
from typing import Any

from hub_samples import member_application as application
from hub_testing import ServiceUnderTest

MODERATOR = ("moderator-1", "moderator")
ADMIN = ("admin-1", "admin")


def new_member_id() -> str:
    return f"m-{uuid.uuid4().hex[:10]}"


async def join(hub: ServiceUnderTest, member_id: str | None = None, **profile: Any) -> str:
    """A person applies and a moderator approves: an active member."""
    member_id = member_id or new_member_id()
    applied = await hub.client.post("/members", json=application(member_id, **profile), headers=hub.caller(member_id))
    assert applied.status_code == 201, applied.text
    approved = await hub.client.post(f"/members/{member_id}/approve", json={}, headers=hub.caller(*MODERATOR))
    assert approved.status_code == 200, approved.text
    return member_id


async def reference_of(hub: ServiceUnderTest, member_id: str) -> str:
    """How the member's events name them on Kafka (never by account id)."""
    member = await hub.client.get(f"/members/{member_id}", headers=hub.caller(*ADMIN))
    reference: str = member.json()["reference"]
    assert reference.startswith("person:")
    return reference


async def open_squad(hub: ServiceUnderTest, cap: int) -> str:
    proposal = {
        "title": "AI in education",
        "topic": "ai-in-education",
        "cap": cap,
        "starts_on": "2027-01-01",
        "ends_on": "2027-12-31",
    }
    response = await hub.client.post("/squads", json=proposal, headers=hub.caller(*MODERATOR))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


CANDIDACY = {
    "motivation": "I coordinate AI pilots in twelve vocational schools.",
    "examples_of_expertise": "National AI curriculum working group, 2024-2026",
    "availability": "two days a month",
}


async def squad_that_selected(hub: ServiceUnderTest, member_id: str) -> str:
    """A squad (room for two) that selected `member_id`: opened, applied to, the application chosen."""
    squad_id = await open_squad(hub, cap=2)
    applied = await hub.client.post(f"/squads/{squad_id}/applications", json=CANDIDACY, headers=hub.caller(member_id))
    assert applied.status_code == 201, applied.text
    selected = await hub.client.post(
        f"/squads/{squad_id}/selections", json={"application_id": member_id}, headers=hub.caller(*MODERATOR)
    )
    assert selected.status_code == 200, selected.text
    return squad_id
