"""The search index of posts loses nothing when the membership service is killed (SIGKILL) in
the middle of a burst of posts, edits and hidings: after a restart, the index holds every post
as MongoDB has it, at its revision (a mark written with each change; the restarted replica's
sweep finds what the killed one had not indexed). The platform's `SearchIndex` under fault."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from hub_samples import member_application
from opensearchpy import AsyncOpenSearch
from pymongo.asynchronous.database import AsyncDatabase

from deh_membership.settings import MembershipSettings
from deh_platform.auth import issue_token
from deh_platform.search_index import PENDING
from deh_stack.testing import ServerAddresses, ServiceProcess, eventually

pytestmark = pytest.mark.e2e
WRITERS, POSTS_EACH = 8, 10  # within the 30 posts an hour each member may write


def membership_process(servers: ServerAddresses, database: str) -> ServiceProcess:
    settings = {
        "MONGO_DATABASE": database,
        "CONSUMER_GROUP": f"membership-{database}",  # the membership user's groups start so
        "SEARCH_ALIAS": database,
        "SWEEP_SECONDS": "1",
        "OUTBOX_CLAIM_SECONDS": "3",
        "LOG_LEVEL": "WARNING",
    }
    environment = {f"DEH_MEMBERSHIP_{name}": value for name, value in settings.items()}
    return ServiceProcess("membership", {**servers.environment("membership"), **environment})


def as_caller(member_id: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(MembershipSettings(), member_id, list(roles) or ['member'])}"}


async def members(client: httpx.AsyncClient, count: int) -> list[str]:
    joined = []
    for _ in range(count):
        member_id = f"m-{uuid.uuid4().hex[:10]}"
        applied = await client.post("/members", json=member_application(member_id), headers=as_caller(member_id))
        assert applied.status_code == 201, applied.text
        approved = await client.post(f"/members/{member_id}/approve", json={}, headers=as_caller("mod-1", "moderator"))
        assert approved.status_code == 200, approved.text
        joined.append(member_id)
    return joined


async def test_killing_membership_mid_burst_leaves_every_post_in_the_index_as_mongodb_has_it(
    servers: ServerAddresses, own_database: AsyncDatabase[dict[str, Any]]
) -> None:
    service = membership_process(servers, own_database.name)
    await service.start()
    answered: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
            writers = await members(client, WRITERS)
            opening = {"space": {"kind": "community"}, "title": "Burst", "text": "Opening post", "language": "en"}
            started = await client.post("/threads", json=opening, headers=as_caller(writers[0]))
            assert started.status_code == 201, started.text
            thread_id = started.json()["thread_id"]

            async def write(writer: str) -> None:
                for number in range(POSTS_EACH):
                    body = {"text": f"Post {number} by {writer}", "language": "en"}
                    try:
                        posted = await client.post(f"/threads/{thread_id}/posts", json=body, headers=as_caller(writer))
                        if posted.status_code != 201:
                            continue
                        post_id = posted.json()["post_id"]
                        answered.append(post_id)
                        # Every other post changes again at once: an edit, or a moderator hides it.
                        url = f"/threads/{thread_id}/posts/{post_id}"
                        if number % 4 == 1:
                            edit = {"text": f"Post {number} by {writer}, edited", "language": "en"}
                            await client.put(url, json=edit, headers=as_caller(writer))
                        elif number % 4 == 3:
                            reason = {"reason": "Off topic for this thread."}
                            await client.post(f"{url}/hide", json=reason, headers=as_caller("mod-1", "moderator"))
                    except httpx.TransportError:
                        return  # the service died: no answer, no promise

            burst = [asyncio.create_task(write(writer)) for writer in writers]

            async def some_answered() -> bool:
                return len(answered) >= WRITERS * POSTS_EACH // 4

            await eventually(some_answered, within=60, interval=0.005)
            service.kill()
            await asyncio.gather(*burst)
    finally:
        service.kill()
    assert WRITERS * POSTS_EACH // 4 <= len(answered) < WRITERS * POSTS_EACH

    restarted = membership_process(servers, own_database.name)
    await restarted.start()
    search = AsyncOpenSearch(servers.opensearch_url)
    try:
        posts = own_database.posts

        async def indexed_as_stored() -> bool:
            if await posts.find_one({PENDING: True}, {"_id": 1}):
                return False
            stored = {post["_id"]: post async for post in posts.find({})}
            found = await search.mget(index=own_database.name, body={"ids": list(stored)})
            for document in found["docs"]:
                post = stored[document["_id"]]
                shown = not post["hidden"] and not post["deleted"]
                expected_body = {"en": post["text"]} if shown else {}
                if not document["found"] or document["_version"] != post["revision"]:
                    return False
                if (document["_source"]["shown"], document["_source"]["body"]) != (shown, expected_body):
                    return False
            return True

        await eventually(indexed_as_stored, within=60, interval=0.5)
        stored_ids = {post["_id"] async for post in posts.find({}, {"_id": 1})}
        assert set(answered) <= stored_ids, "every post answered 201 is stored"
    finally:
        restarted.stop()
        await search.indices.delete(index=f"{own_database.name}-v*", ignore_unavailable=True)
        await search.close()
