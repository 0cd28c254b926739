"""Registration under load and change: the capacity holds, the waitlist keeps its order, freed
seats are given on, and members who lose their membership lose their seats."""

from __future__ import annotations

import asyncio

import pytest
from event_steps import approved, cancel, register, registrations, schedule, someone
from hub_testing import (
    ServiceUnderTest,
    person_record,
    produce,
    published_events,
    validate_against_committed_schema,
)

from deh_contracts.registry import EVENTS
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.e2e


async def test_a_hundred_people_registering_at_once_for_ten_seats(
    events: ServiceUnderTest, servers: ServerAddresses
) -> None:
    event = await schedule(events, capacity=10, audience="public")
    people = [someone() for _ in range(100)]

    answers = await asyncio.gather(*(register(events, event["event_id"], person) for person in people))

    assert sorted(answer["state"] for answer in answers) == ["registered"] * 10 + ["waitlisted"] * 90
    registered = await registrations(events, event, "registered")
    waitlisted = await registrations(events, event, "waitlisted")
    assert {r["member_id"] for r in registered} == {a["member_id"] for a in answers if a["state"] == "registered"}
    # The waitlist is in the order the places were given, positions 1..90 without a gap.
    assert [r["position"] for r in waitlisted] == list(range(1, 91))
    assert [r["queue_key"] for r in waitlisted] == sorted(r["queue_key"] for r in waitlisted)
    counts = (await events.client.get(f"/events/{event['event_id']}/counts")).json()
    assert counts["registered"] == 10
    assert counts["waitlisted"] == 90
    assert counts["seats_free"] == 0
    # Each registration published exactly one contract event, valid against the committed schema.
    published = await published_events(servers, EVENTS, [event["event_id"]], at_least=101)
    outcomes = [e for e in published if e.type.startswith("eu.deh.events.registration.")]
    assert sorted(e.type.rsplit(".", 2)[-2] for e in outcomes) == ["confirmed"] * 10 + ["waitlisted"] * 90
    for published_event in published:
        validate_against_committed_schema(published_event)
        assert "@" not in str(published_event.data)


async def test_freed_seats_go_down_the_waitlist_in_order_a_chain_of_cancellations_a_chain_of_promotions(
    events: ServiceUnderTest, servers: ServerAddresses
) -> None:
    event = await schedule(events, capacity=2, audience="public")
    first, second, *waiting = [await register(events, event["event_id"], someone()) for _ in range(5)]
    assert [r["state"] for r in (first, second)] == ["registered", "registered"]
    assert [r["position"] for r in waiting] == [1, 2, 3]

    await cancel(events, first)
    await cancel(events, second)
    promoted = await registrations(events, event, "registered")
    assert {r["member_id"] for r in promoted} == {waiting[0]["member_id"], waiting[1]["member_id"]}
    # The one promoted first gives up at once: the last one waiting moves up too.
    await cancel(events, promoted[0])
    assert {r["member_id"] for r in await registrations(events, event, "registered")} == {
        promoted[1]["member_id"],
        waiting[2]["member_id"],
    }
    assert await registrations(events, event, "waitlisted") == []
    explained = (
        await events.client.get(f"/registrations/{waiting[2]['registration_id']}", headers=event["organiser"])
    ).json()
    assert explained["explanation"] == "first come, first served: first on the waitlist"
    assert [step["state"] for step in explained["history"]] == ["waitlisted", "registered"]

    published = await published_events(servers, EVENTS, [event["event_id"]], at_least=11)
    kinds = [e.type.split(".")[-2] for e in published if ".registration." in e.type]
    assert kinds.count("promoted") == 3
    assert kinds.count("cancelled") == 3


async def test_registering_again_after_cancelling_joins_the_back_of_the_queue(events: ServiceUnderTest) -> None:
    event = await schedule(events, capacity=1, audience="public")
    holder = await register(events, event["event_id"], someone())
    waiting = await register(events, event["event_id"], someone())
    await cancel(events, waiting)
    again = await register(events, event["event_id"], waiting["member_id"])
    assert again["registration_id"] == waiting["registration_id"]
    assert again["state"] == "waitlisted"
    twice = await events.client.post(
        f"/events/{event['event_id']}/registrations", json={}, headers=events.caller(holder["member_id"])
    )
    assert twice.status_code == 409


async def test_a_suspended_members_seat_goes_to_the_next_person(
    events: ServiceUnderTest, servers: ServerAddresses
) -> None:
    members = [someone() for _ in range(3)]
    await approved(events, servers, *((member, "LV", ["school"]) for member in members))
    event = await schedule(events, capacity=2, audience="members")
    seated, _other, waiting = [await register(events, event["event_id"], member) for member in members]
    assert waiting["state"] == "waitlisted"

    await produce(servers, person_record(seated["member_id"], "suspended", 2))

    async def promoted() -> bool:
        response = await events.client.get(f"/registrations/{waiting['registration_id']}", headers=event["organiser"])
        return bool(response.json()["state"] == "registered")

    await eventually(promoted, within=30)
    lost = (await events.client.get(f"/registrations/{seated['registration_id']}", headers=event["organiser"])).json()
    assert lost["state"] == "cancelled"
    assert lost["history"][-1]["note"] == "member_suspended"
    refused = await events.client.post(
        f"/events/{event['event_id']}/registrations", json={}, headers=events.caller(seated["member_id"])
    )
    assert refused.status_code == 409
    assert "suspended" in refused.json()["detail"]
    # Someone who is not a member cannot register for a members' event.
    stranger = await events.client.post(
        f"/events/{event['event_id']}/registrations", json={}, headers=events.caller(someone())
    )
    assert stranger.status_code == 409
    assert "members" in stranger.json()["detail"]


async def test_a_larger_capacity_promotes_at_once_and_a_smaller_one_only_down_to_the_seats_taken(
    events: ServiceUnderTest,
) -> None:
    event = await schedule(events, capacity=1, audience="public")
    await register(events, event["event_id"], someone())
    waiting = [await register(events, event["event_id"], someone()) for _ in range(3)]

    larger = await events.client.patch(f"/events/{event['event_id']}", json={"capacity": 3}, headers=event["organiser"])
    assert larger.json()["capacity"] == 3
    promoted = {r["member_id"] for r in await registrations(events, event, "registered")}
    assert promoted >= {waiting[0]["member_id"], waiting[1]["member_id"]}
    assert [r["member_id"] for r in await registrations(events, event, "waitlisted")] == [waiting[2]["member_id"]]

    smaller = await events.client.patch(
        f"/events/{event['event_id']}", json={"capacity": 2}, headers=event["organiser"]
    )
    assert smaller.status_code == 409
    assert "3 seats are taken" in smaller.json()["detail"]
    not_organiser = await events.client.patch(
        f"/events/{event['event_id']}", json={"title": "Mine now"}, headers=events.caller(waiting[2]["member_id"])
    )
    assert not_organiser.status_code == 403
