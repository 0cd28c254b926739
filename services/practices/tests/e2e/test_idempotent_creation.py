"""A client that retries `POST /practices` with the same `Idempotency-Key` after its connection
was cut mid-request (the first request was stored and published) gets the practice created
first, not a second one; the same key with another body is refused."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hub_samples import practice_metadata
from hub_testing import approve, published_events
from pymongo.asynchronous.database import AsyncDatabase

from deh_contracts.registry import PRACTICES
from deh_platform.auth import issue_token
from deh_practices.settings import PracticesSettings
from deh_stack.testing import ServerAddresses, ServiceProcess, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
async def service(
    servers: ServerAddresses, own_database: AsyncDatabase[dict[str, Any]]
) -> AsyncIterator[ServiceProcess]:
    own = {
        "MONGO_DATABASE": own_database.name,
        "CONSUMER_GROUP": f"practices-{own_database.name}",
        "SEARCH_ALIAS": own_database.name,
    }
    process = ServiceProcess(
        "practices", {**servers.environment("practices"), **{f"DEH_PRACTICES_{k}": v for k, v in own.items()}}
    )
    await process.start()
    yield process
    process.stop()


async def send_and_hang_up(service: ServiceProcess, body: bytes, headers: dict[str, str]) -> None:
    """Send a whole request on a socket and close it before any answer, as a cut connection does."""
    _, writer = await asyncio.open_connection("127.0.0.1", service.port)
    lines = ["POST /practices HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def an_active_member(servers: ServerAddresses, database: AsyncDatabase[dict[str, Any]]) -> str:
    """Someone membership approved, once the practices service knows it (only they submit)."""
    member_id = f"author-{uuid.uuid4().hex[:8]}"
    await approve(servers, member_id)

    async def known() -> bool:
        return await database.members.count_documents({"_id": member_id, "status": "active"}) == 1

    await eventually(known)
    return member_id


async def test_a_retry_after_a_cut_connection_with_the_same_key_leaves_one_practice(
    servers: ServerAddresses, service: ServiceProcess, own_database: AsyncDatabase[dict[str, Any]]
) -> None:
    author = await an_active_member(servers, own_database)
    token = issue_token(PracticesSettings(), author, ["member"])
    key = str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key}
    body = json.dumps({"metadata": practice_metadata(), "body": "Step one.", "submit": True}).encode()

    await send_and_hang_up(service, body, headers)

    async def stored() -> list[dict[str, Any]] | None:
        return await own_database.practices.find({"created_by": author}).to_list() or None

    (first,) = await eventually(stored)
    async with httpx.AsyncClient(base_url=service.url) as client:
        retried = await client.post("/practices", content=body, headers=headers)
        again = await client.post("/practices", content=body, headers=headers)
        other_body = body.replace(b"Step one.", b"Step two.")
        reused = await client.post("/practices", content=other_body, headers=headers)
        another_key = await client.post("/practices", content=body, headers={**headers, "Idempotency-Key": "other"})

    assert retried.status_code == again.status_code == 201
    assert retried.json()["id"] == again.json()["id"] == first["_id"]
    assert reused.status_code == 422
    assert reused.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert another_key.status_code == 201
    assert another_key.json()["id"] != first["_id"]
    assert await own_database.practices.count_documents({"created_by": author}) == 2
    submitted = [
        event
        for event in await published_events(servers, PRACTICES, [first["_id"]], at_least=1)
        if event.subject == first["_id"] and event.type.endswith("practice.submitted.v1")
    ]
    assert len(submitted) == 1, "the retry published nothing again"


async def test_two_concurrent_requests_with_one_key_create_one_practice(
    servers: ServerAddresses, service: ServiceProcess, own_database: AsyncDatabase[dict[str, Any]]
) -> None:
    author = await an_active_member(servers, own_database)
    token = issue_token(PracticesSettings(), author, ["member"])
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
    body = {"metadata": practice_metadata(), "body": "Step one.", "submit": False}
    async with httpx.AsyncClient(base_url=service.url) as client:
        answers = await asyncio.gather(*(client.post("/practices", json=body, headers=headers) for _ in range(8)))
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert await own_database.practices.count_documents({"created_by": author}) == 1
