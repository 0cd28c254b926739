"""The MongoDB wire-protocol server behaves as the services rely on: unique indexes,
atomic conditional updates under concurrency, and durable data."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from deh_stack.config import StackConfig
from deh_stack.mongo import MongoServer
from deh_stack.testing import ServerAddresses

pytestmark = pytest.mark.integration

Document = dict[str, object]


async def test_a_unique_index_rejects_a_duplicate(servers: ServerAddresses, unique_name: str) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(servers.mongo_url)
    members = client[unique_name].members
    await members.create_index("email", unique=True)
    await members.insert_one({"email": "ana@example.eu"})

    with pytest.raises(DuplicateKeyError):
        await members.insert_one({"email": "ana@example.eu"})

    assert await members.count_documents({}) == 1
    await client.close()


async def test_concurrent_conditional_increments_never_pass_the_cap(servers: ServerAddresses, unique_name: str) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(servers.mongo_url, maxPoolSize=50)
    squads = client[unique_name].squads
    await squads.insert_one({"_id": "ai-in-education", "selected": 0})

    async def take_a_seat() -> int:
        result = await squads.update_one({"_id": "ai-in-education", "selected": {"$lt": 10}}, {"$inc": {"selected": 1}})
        return result.modified_count

    granted = await asyncio.gather(*(take_a_seat() for _ in range(50)))

    assert sum(granted) == 10
    assert await squads.find_one({"_id": "ai-in-education"}) == {"_id": "ai-in-education", "selected": 10}
    await client.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_data_survives_a_restart_of_the_server(tmp_path: Path, unique_name: str) -> None:
    # A private server instance, so that restarting it does not disturb the shared one.
    shared = StackConfig.from_env("test")
    config = dataclasses.replace(shared, home=tmp_path, ports={**shared.ports, "mongo": free_port()})
    server = MongoServer(config)
    server.launch()
    try:
        await asyncio.to_thread(server.wait_ready)
        client: AsyncMongoClient[Document] = AsyncMongoClient(server.address)
        await client.hub.practices.insert_one({"_id": unique_name, "title": {"en": "Coding clubs"}})
        await client.close()

        assert server.stop()
        server.launch()
        await asyncio.to_thread(server.wait_ready)

        client = AsyncMongoClient(server.address)
        assert await client.hub.practices.find_one({"_id": unique_name}) == {
            "_id": unique_name,
            "title": {"en": "Coding clubs"},
        }
        await client.close()
    finally:
        server.stop()
