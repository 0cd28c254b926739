"""A registration answered 201 is kept, and the capacity holds, when the events service is killed
(SIGKILL) in the middle of a burst of registrations: after a restart, the repair job gives back
the seats of requests that died between taking a seat and writing their registration, and every
stored registration's event reaches Kafka."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from hub_samples import event_draft
from hub_testing import published_events
from pymongo.asynchronous.database import AsyncDatabase

from deh_contracts.registry import EVENTS
from deh_events.settings import EventsSettings
from deh_platform.auth import issue_token
from deh_stack.testing import ServerAddresses, ServiceProcess, eventually

pytestmark = pytest.mark.e2e
CAPACITY, PEOPLE = 40, 80


def events_process(servers: ServerAddresses, database: str) -> ServiceProcess:
    # Jobs often, short leases and outbox claims, so that the restarted replica repairs and
    # publishes what the killed one left within seconds.
    settings = {
        "MONGO_DATABASE": database,
        "CONSUMER_GROUP": f"events-{database}",  # the events user's groups start so
        "SWEEP_SECONDS": "1",
        "REPAIR_AFTER_SECONDS": "1",
        "JOB_SECONDS": "0.5",
        "JOB_LEASE_SECONDS": "3",
        "OUTBOX_CLAIM_SECONDS": "3",
        "LOG_LEVEL": "WARNING",
    }
    return ServiceProcess(
        "events", {**servers.environment("events"), **{f"DEH_EVENTS_{k}": v for k, v in settings.items()}}
    )


async def test_killing_the_service_mid_burst_loses_no_answered_registration_and_never_exceeds_the_capacity(
    servers: ServerAddresses, own_database: AsyncDatabase[dict[str, Any]]
) -> None:
    tokens = EventsSettings()
    service = events_process(servers, own_database.name)
    await service.start()
    answered: list[dict[str, Any]] = []
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
            organiser = {"Authorization": f"Bearer {issue_token(tokens, 'organiser', ['moderator'])}"}
            created = await client.post(
                "/events", json=event_draft(capacity=CAPACITY, audience="public"), headers=organiser
            )
            event_id = created.json()["event_id"]

            async def register(person: int) -> None:
                headers = {"Authorization": f"Bearer {issue_token(tokens, f'person-{person}', ['member'])}"}
                try:
                    response = await client.post(f"/events/{event_id}/registrations", json={}, headers=headers)
                except httpx.TransportError:
                    return  # the service died: no answer, no promise
                if response.status_code == 201:
                    answered.append(response.json())

            burst = [asyncio.create_task(register(person)) for person in range(PEOPLE)]

            async def some_answered() -> bool:
                return len(answered) >= PEOPLE // 8

            await eventually(some_answered, within=60, interval=0.005)
            service.kill()
            await asyncio.gather(*burst)
    finally:
        service.kill()
    assert PEOPLE // 8 <= len(answered) < PEOPLE

    restarted = events_process(servers, own_database.name)
    await restarted.start()
    try:

        async def repaired() -> bool:
            held = await own_database.seats.count_documents({"event_id": event_id, "holder": {"$exists": True}})
            registered = await own_database.registrations.count_documents({"event_id": event_id, "state": "registered"})
            waiting = await own_database.registrations.count_documents({"event_id": event_id, "state": "waitlisted"})
            # No seat held for nobody, and no free seat while someone waits.
            return held == registered and (waiting == 0 or registered == CAPACITY)

        await eventually(repaired, within=60, interval=0.5)
    finally:
        restarted.stop()

    stored = {document["_id"]: document async for document in own_database.registrations.find({"event_id": event_id})}
    assert sum(document["state"] == "registered" for document in stored.values()) <= CAPACITY
    for answer in answered:  # every 201 is there, as answered or promoted since
        assert stored[answer["registration_id"]]["state"] in ("registered", "waitlisted")
        if answer["state"] == "registered":
            assert stored[answer["registration_id"]]["state"] == "registered"
    seat_holders = {
        seat["holder"] async for seat in own_database.seats.find({"event_id": event_id, "holder": {"$exists": True}})
    }
    assert seat_holders == {d["attempt"] for d in stored.values() if d["state"] == "registered"}
    # Every stored registration's outcome reached Kafka (published once per event id).
    published = await published_events(servers, EVENTS, [event_id], at_least=len(stored) + 1)
    outcomes = {e.data["registration_id"] for e in published if e.type.split(".")[-3] == "registration"}
    assert outcomes == set(stored)
