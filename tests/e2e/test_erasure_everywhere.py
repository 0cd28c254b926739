"""After a member's erasure, the hub keeps nothing that names them: their account id, name and
email are in no service's MongoDB collections, not in the search index, and on no domain stream
(kept forever), which name members only by a reference that then points at nobody (decision
0015); on the people topic the member's last record is a tombstone, so that the log cleaner
removes their earlier records and then the tombstone itself (`test_forgetting_on_kafka.py` shows
it does). Membership, practices and events run together on the real servers; the person joins,
is named, writes a practice, registers for an event, applies to a squad, coordinates a National
Advisory Service, forms a hackathon team that submits, and approves someone else's application
as a moderator; then asks to be erased."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hub_samples import event_draft, member_application, practice_metadata
from hub_testing import ServiceUnderTest, isolated_settings, records_on, running

from deh_contracts.registry import EVENTS, MEMBERSHIP, PEOPLE, PRACTICES
from deh_events.app import create_app as create_events
from deh_events.settings import EventsSettings
from deh_membership.app import create_app as create_membership
from deh_membership.settings import MembershipSettings
from deh_practices.app import create_app as create_practices
from deh_practices.settings import PracticesSettings
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.e2e

MODERATOR = ("moderator-1", "member", "moderator")


@pytest.fixture
async def hub(servers: ServerAddresses) -> AsyncIterator[dict[str, ServiceUnderTest]]:
    membership_app = create_membership(isolated_settings(MembershipSettings, servers))
    practices_app = create_practices(isolated_settings(PracticesSettings, servers))
    events_app = create_events(isolated_settings(EventsSettings, servers))
    async with (
        running(membership_app) as membership,
        running(practices_app) as practices,
        running(events_app) as events,
    ):
        yield {"membership": membership, "practices": practices, "events": events}


async def test_an_erased_member_is_named_nowhere_in_the_hub(
    hub: dict[str, ServiceUnderTest], servers: ServerAddresses
) -> None:
    membership, practices, events = hub["membership"], hub["practices"], hub["events"]
    member_id = f"m-{uuid.uuid4().hex[:10]}"
    name, email = f"Ilze Kalniņa {member_id[-4:]}", f"{member_id}@school.example.eu"
    me = membership.caller(member_id)
    body = member_application(member_id, display_name=name, email=email)
    assert (await membership.client.post("/members", json=body, headers=me)).status_code == 201
    approve = await membership.client.post(
        f"/members/{member_id}/approve", json={}, headers=membership.caller(*MODERATOR)
    )
    assert approve.status_code == 200
    reference = approve.json()["reference"]

    async def named_in_practices() -> bool:
        copy = await practices.runtime.db.members.find_one({"_id": member_id})
        return bool(copy and copy.get("status") == "active" and copy.get("display_name") == name)

    await eventually(named_in_practices)
    submission = {"metadata": practice_metadata(), "body": "Pairs.", "submit": True}
    submitted = await practices.client.post("/practices", json=submission, headers=practices.caller(member_id))
    assert submitted.status_code == 201, submitted.text
    practice_id = submitted.json()["id"]
    event = await events.client.post("/events", json=event_draft(), headers=events.caller(*MODERATOR))
    registered = await events.client.post(
        f"/events/{event.json()['event_id']}/registrations",
        json={"appear_on_participant_list": True},
        headers=events.caller(member_id),
    )
    assert registered.status_code == 201, registered.text
    await acts_everywhere_else(membership, events, member_id)

    assert (await membership.client.delete(f"/members/{member_id}", headers=me)).status_code == 204

    async def forgotten_by_the_services() -> bool:
        stored: list[dict[str, Any]] = [*await indexed(practices, practice_id)]
        for service in (membership, practices, events):
            documents = await everything_in(service)
            if documents is None:
                return False  # events still leaving an outbox: they are on Kafka then, checked below
            stored += documents
        # Not even in a tombstone: each service keeps only the reference of a former member.
        return not any(member_id in str(document) or name in str(document) for document in stored)

    await eventually(forgotten_by_the_services, within=60)
    for topic in (MEMBERSHIP, PRACTICES, EVENTS):
        for key, value in await records_on(servers, topic.name):
            record = (key or b"") + (value or b"")
            assert member_id.encode() not in record, f"the account id on {topic.name}"
            assert name.encode() not in record, f"the name on {topic.name}"
            assert email.encode() not in record, f"the email on {topic.name}"
    assert reference in str(await records_on(servers, MEMBERSHIP.name)), "the domain stream keeps their reference"
    people = [value for key, value in await records_on(servers, PEOPLE.name) if key == member_id.encode()]
    assert people[0] is not None, "the name was on the people topic"
    assert name.encode() in people[0], "the name was on the people topic"
    assert people[-1] is None, "the last record is a tombstone: the log cleaner removes the others"


async def acts_everywhere_else(membership: ServiceUnderTest, events: ServiceUnderTest, member_id: str) -> None:
    """The member in every other role the hub knows: squad candidate, NAS coordinator, hackathon
    participant with a team and a submission, and a moderator deciding another application."""
    staff = membership.caller(*MODERATOR)
    squad = {
        "title": "AI in VET",
        "topic": "ai-in-education",
        "cap": 3,
        "starts_on": "2027-01-01",
        "ends_on": "2027-12-31",
    }
    squad_id = (await membership.client.post("/squads", json=squad, headers=staff)).json()["id"]
    candidacy = {
        "motivation": "Pilots in twelve schools.",
        "examples_of_expertise": "National AI working group",
        "availability": "monthly",
    }
    applied = await membership.client.post(
        f"/squads/{squad_id}/applications", json=candidacy, headers=membership.caller(member_id)
    )
    assert applied.status_code == 201, applied.text
    organisation = {"name": f"Ministry {uuid.uuid4().hex[:6]}", "type": "national_authority", "country": "LV"}
    admin = membership.caller("admin-1", "admin")
    organisation_id = (await membership.client.post("/organisations", json=organisation, headers=admin)).json()["id"]
    nas = {"country": "LV", "organisation_id": organisation_id, "coordinator_ids": [member_id], "scope": "schools"}
    assert (await membership.client.post("/nas", json=nas, headers=admin)).status_code == 201

    other = f"m-{uuid.uuid4().hex[:10]}"
    await membership.client.post("/members", json=member_application(other), headers=membership.caller(other))
    as_moderator = membership.caller(member_id, "member", "moderator")
    assert (await membership.client.post(f"/members/{other}/approve", json={}, headers=as_moderator)).is_success

    hackathon = event_draft(kind="hackathon", audience="public", team_size_max=2, challenges=[{"title": "Offline"}])
    event = (await events.client.post("/events", json=hackathon, headers=events.caller(*MODERATOR))).json()
    me = events.caller(member_id)
    assert (await events.client.post(f"/events/{event['event_id']}/registrations", json={}, headers=me)).is_success
    team = {"name": "Mesh", "challenge_id": event["challenges"][0]["challenge_id"]}
    formed = await events.client.post(f"/events/{event['event_id']}/teams", json=team, headers=me)
    assert formed.status_code == 201, formed.text
    submission = {"title": "Mesh lessons", "summary": "Lessons over a local mesh network."}
    submitted = await events.client.post(
        f"/teams/{formed.json()['team_id']}/submissions", json=submission, headers={**me, "Idempotency-Key": "k-1"}
    )
    assert submitted.status_code == 201, submitted.text


async def everything_in(service: ServiceUnderTest) -> list[dict[str, Any]] | None:
    """Every document of every collection of a service, or None while events are pending in an
    outbox (those leave for Kafka within moments)."""
    database = service.runtime.db
    documents: list[dict[str, Any]] = []
    for name in await database.list_collection_names():
        if await database[name].count_documents({"_outbox.0": {"$exists": True}}):
            return None
        documents += [document async for document in database[name].find({})]
    return documents


async def indexed(practices: ServiceUnderTest, practice_id: str) -> list[dict[str, Any]]:
    search = practices.runtime.search
    assert search is not None
    alias = practices.app.state.index.alias
    found = await search.search(index=alias, body={"query": {"ids": {"values": [practice_id]}}})
    return [hit["_source"] for hit in found["hits"]["hits"]]
