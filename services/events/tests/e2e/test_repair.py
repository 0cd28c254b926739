"""What a crash can leave between a seat and its registration, and how the repair job finishes
it. Each state below is one a replica killed between two writes leaves behind; it is made here
directly in MongoDB, since the moment between two writes cannot be hit from outside reliably."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from event_steps import register, registrations, schedule, someone
from hub_testing import ServiceUnderTest

from deh_events.adapters.store import EventStore

pytestmark = pytest.mark.e2e


async def test_repair_rolls_a_taken_seat_forward_and_gives_back_seats_of_registrations_cancelled_or_never_written(
    events: ServiceUnderTest,
) -> None:
    store: EventStore = events.app.state.store

    async def attempt(registration: dict[str, Any]) -> str:
        """The token a registration's seat is held by (a new one each time someone registers)."""
        document = await store.registrations.find_one({"_id": registration["registration_id"]}, {"attempt": 1})
        assert document is not None
        return str(document["attempt"])

    event = await schedule(events, audience="public", capacity=1)
    event_id = event["event_id"]
    seated = await register(events, event_id, someone())
    waiting = [await register(events, event_id, someone()) for _ in range(3)]
    # Killed after adding two seats (a larger capacity), before promoting:
    await store.seats.insert_many([{"_id": f"{event_id}:extra-{n}", "event_id": event_id} for n in (1, 2)])
    # ... and another replica, killed after taking one of them for the first waiting, before
    # recording it on the registration:
    await store.seats.update_one({"_id": f"{event_id}:extra-1"}, {"$set": {"holder": await attempt(waiting[0])}})
    # ... and one killed after cancelling the last waiting, before giving back the seat it had
    # just been given:
    cancelled = waiting.pop()
    await store.registrations.update_one({"_id": cancelled["registration_id"]}, {"$set": {"state": "cancelled"}})
    await store.seats.update_one({"_id": f"{event_id}:extra-2"}, {"$set": {"holder": await attempt(cancelled)}})
    # ... and one killed after taking a seat for a newcomer, before writing the registration (a
    # third extra seat, with no registration behind it):
    await store.seats.insert_one({"_id": f"{event_id}:extra-3", "event_id": event_id, "holder": "never-written"})
    # All of it happened a while ago (a seat taken just now belongs to a registration in flight):
    await store.seats.update_many(
        {"event_id": event_id, "holder": {"$exists": True}},
        {"$set": {"taken_at": datetime.now(UTC) - timedelta(minutes=5)}},
    )
    late = await register(events, event_id, someone())
    assert late["state"] == "waitlisted"

    await events.app.state.registrations.repair()

    assert {r["registration_id"] for r in await registrations(events, event, "registered")} == {
        seated["registration_id"],
        waiting[0]["registration_id"],
        waiting[1]["registration_id"],
        late["registration_id"],
    }
    # The seats of the cancelled registration and of the one never written went down the waitlist.
    holders = {seat.get("holder") async for seat in store.seats.find({"event_id": event_id})}
    assert holders == {await attempt(r) for r in (seated, waiting[0], waiting[1], late)}
    assert await registrations(events, event, "waitlisted") == []
    # A second run finds nothing to do.
    assert await events.app.state.registrations.repair() == 0
