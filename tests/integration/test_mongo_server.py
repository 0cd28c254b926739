"""The MongoDB wire-protocol server behaves as the services rely on: unique indexes,
atomic conditional updates under concurrency, and data that survives a restart and a crash."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError, PyMongoError

from deh_stack.mongo import MongoServer
from deh_stack.testing import ServerAddresses, eventually, private_server, restarted

pytestmark = pytest.mark.integration

Document = dict[str, Any]


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


async def test_data_survives_a_restart_of_the_server(tmp_path: Path, unique_name: str) -> None:
    with private_server(MongoServer, tmp_path) as server:
        client: AsyncMongoClient[Document] = AsyncMongoClient(server.address)
        await client.hub.practices.insert_one({"_id": unique_name, "title": {"en": "Coding clubs"}})
        await client.close()

        assert server.stop()
        await restarted(server)

        client = AsyncMongoClient(server.address)
        assert await client.hub.practices.find_one({"_id": unique_name}) == {
            "_id": unique_name,
            "title": {"en": "Coding clubs"},
        }
        await client.close()


@dataclass
class Ledger:
    """What a writer tried and what the server acknowledged."""

    tried: set[str] = field(default_factory=set)
    acknowledged: set[str] = field(default_factory=set)
    increments_tried: int = 0
    increments_acknowledged: int = 0


WRITERS = 8


async def test_every_acknowledged_write_survives_a_sigkill_mid_stream(tmp_path: Path) -> None:
    with private_server(MongoServer, tmp_path) as server:
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            server.address, maxPoolSize=WRITERS, retryWrites=False, serverSelectionTimeoutMS=2000
        )
        documents, counters = client.hub.documents, client.hub.counters
        ledgers = [Ledger() for _ in range(WRITERS)]

        async def write_until_the_server_dies(number: int, ledger: Ledger) -> None:
            # Each round: an insert (a new document) and an $inc (a change to an existing one).
            for round_number in itertools.count():
                document_id = f"w{number}-{round_number}"
                ledger.tried.add(document_id)
                ledger.increments_tried += 1
                try:
                    await documents.insert_one({"_id": document_id, "payload": "x" * 200})
                    ledger.acknowledged.add(document_id)
                    await counters.update_one({"_id": f"w{number}"}, {"$inc": {"value": 1}}, upsert=True)
                    ledger.increments_acknowledged += 1
                except PyMongoError:
                    return

        writers = [asyncio.create_task(write_until_the_server_dies(n, ledger)) for n, ledger in enumerate(ledgers)]

        async def enough_acknowledged() -> bool:
            return sum(len(ledger.acknowledged) for ledger in ledgers) >= 400

        await eventually(enough_acknowledged, within=60, interval=0.01)
        server.kill()  # while every writer has a write in flight
        await asyncio.gather(*writers)
        await client.close()

        await restarted(server)
        client = AsyncMongoClient(server.address)
        stored = {document["_id"] async for document in client.hub.documents.find({}, {"_id": 1})}
        values = {document["_id"]: document["value"] async for document in client.hub.counters.find({})}
        await client.close()

    acknowledged = set().union(*(ledger.acknowledged for ledger in ledgers))
    tried = set().union(*(ledger.tried for ledger in ledgers))
    assert acknowledged - stored == set(), "acknowledged inserts lost"
    assert stored <= tried
    for number, ledger in enumerate(ledgers):
        # An acknowledged increment is kept; one in flight at the kill may or may not be.
        assert ledger.increments_acknowledged <= values.get(f"w{number}", 0) <= ledger.increments_tried
