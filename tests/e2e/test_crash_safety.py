"""What a service answers 2xx is kept: its document and its events survive a crash (SIGKILL) of
the MongoDB server in the middle of a stream of writes."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from hub_samples import member_application, practice_metadata
from hub_testing import ServiceUnderTest, active_in_practices, events_on, isolated_settings, running

from deh_contracts.registry import MEMBERSHIP, PRACTICES, Topic
from deh_membership.app import create_app as create_membership
from deh_membership.settings import MembershipSettings
from deh_practices.app import create_app as create_practices
from deh_practices.settings import PracticesSettings
from deh_stack.mongo import MongoServer
from deh_stack.testing import ServerAddresses, eventually, private_server, restarted

pytestmark = pytest.mark.e2e

WRITERS_PER_SERVICE = 4
AUTHOR = "author-1"  # approved by membership before the writes begin (only active members submit)
ACKNOWLEDGED_BEFORE_THE_CRASH = 60
Write = Callable[[ServiceUnderTest], Awaitable[tuple[str, httpx.Response]]]


async def apply_to_join(membership: ServiceUnderTest) -> tuple[str, httpx.Response]:
    member_id = f"m-{uuid.uuid4().hex[:10]}"
    application = member_application(member_id)
    return member_id, await membership.client.post("/members", json=application, headers=membership.caller(member_id))


async def submit_a_practice(practices: ServiceUnderTest) -> tuple[str, httpx.Response]:
    body = {"metadata": practice_metadata(), "body": "Find a room.", "submit": True}
    response = await practices.client.post("/practices", json=body, headers=practices.caller(AUTHOR))
    return (response.json()["id"] if response.status_code == 201 else ""), response


@dataclasses.dataclass
class Stream:
    """Writers sending one kind of request until told to stop, and what was answered 2xx."""

    service: ServiceUnderTest
    write: Write
    acknowledged: list[str] = dataclasses.field(default_factory=list)
    refused: dict[int, int] = dataclasses.field(default_factory=dict)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            identifier, response = await self.write(self.service)
            if response.is_success:
                self.acknowledged.append(identifier)
            else:
                self.refused[response.status_code] = self.refused.get(response.status_code, 0) + 1


async def test_every_2xx_write_keeps_its_document_and_events_when_mongodb_is_killed(
    servers: ServerAddresses, tmp_path: Path
) -> None:
    with private_server(MongoServer, tmp_path) as mongo:
        on_private_mongo = dataclasses.replace(servers, mongo_url=mongo.address)
        membership_app = create_membership(isolated_settings(MembershipSettings, on_private_mongo))
        practices_app = create_practices(
            isolated_settings(PracticesSettings, on_private_mongo, search_alias="practices-{isolated}")
        )
        async with running(membership_app) as membership, running(practices_app) as practices:
            await active_in_practices(practices, servers, AUTHOR)
            streams = [Stream(membership, apply_to_join), Stream(practices, submit_a_practice)]
            stop = asyncio.Event()
            writers = [asyncio.create_task(stream.run(stop)) for stream in streams for _ in range(WRITERS_PER_SERVICE)]

            async def enough_acknowledged() -> bool:
                return all(len(stream.acknowledged) >= ACKNOWLEDGED_BEFORE_THE_CRASH for stream in streams)

            await eventually(enough_acknowledged, within=120, interval=0.01)
            mongo.kill()  # with requests in flight on every writer

            async def every_stream_refused() -> bool:
                return all(stream.refused.get(503) for stream in streams)

            await eventually(every_stream_refused, within=60)
            await restarted(mongo)

            async def writes_succeed_again() -> bool:
                counts = [len(stream.acknowledged) for stream in streams]
                await asyncio.sleep(0.5)
                return all(len(stream.acknowledged) > count for stream, count in zip(streams, counts, strict=True))

            await eventually(writes_succeed_again, within=60)
            stop.set()
            await asyncio.gather(*writers)

            members, submitted = streams[0].acknowledged, streams[1].acknowledged
            references = []  # how the members' events name them
            for member_id in members:
                answer = await membership.client.get(f"/members/{member_id}", headers=membership.caller(member_id))
                assert answer.status_code == 200, f"member {member_id} was answered 201 and is gone"
                references.append(answer.json()["reference"])
            for practice_id in submitted:
                answer = await practices.client.get(f"/practices/{practice_id}", headers=practices.caller(AUTHOR))
                assert answer.status_code == 200, f"practice {practice_id} was answered 201 and is gone"
            # Nothing but the crash refused a request, and only as "unavailable".
            assert {status for stream in streams for status in stream.refused} == {503}

            await every_event_published(servers, MEMBERSHIP, "eu.deh.membership.member.applied.v1", references)
            await every_event_published(servers, PRACTICES, "eu.deh.practices.practice.submitted.v1", submitted)


async def every_event_published(servers: ServerAddresses, topic: Topic, type_name: str, subjects: list[str]) -> None:
    async def all_there() -> set[str] | None:
        missing = set(subjects) - {
            event.subject for event in await events_on(servers, topic) if event.type == type_name
        }
        return None if missing else set(subjects)

    await eventually(all_there, within=60, interval=1)
