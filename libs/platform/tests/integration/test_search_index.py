"""The platform's search index on the real MongoDB and OpenSearch, with a shape of its own (notes
with a text in one language): replicas that start together make one index behind the alias, and
a stored document the shape cannot index is set aside without holding up the others."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from opensearchpy import AsyncOpenSearch
from pymongo import AsyncMongoClient

from deh_platform.outbox import SET_ASIDE_FIELD
from deh_platform.search_index import PENDING, IndexShape, SearchIndex, marked
from deh_platform.text_analysis import Analysis, text_index
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.integration
Document = dict[str, Any]


def definition(chosen: Mapping[str, Analysis]) -> dict[str, Any]:
    return text_index(chosen, 1, {"body": False}, {"note_id": {"type": "keyword"}})


def searchable(note: Document) -> dict[str, Any]:
    return {"note_id": note["_id"], "body": {note["language"]: note["text"]}}


NOTES = IndexShape(kind="note", version=1, definition=definition, searchable=searchable, rebuild_command="-")


@pytest.fixture
async def stores(servers: ServerAddresses) -> AsyncIterator[tuple[AsyncOpenSearch, Any, str]]:
    name = f"notes-{uuid.uuid4().hex[:8]}"
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(servers.mongo_url, tz_aware=True)
    search = AsyncOpenSearch(servers.opensearch_url)
    try:
        yield search, mongo[name], name
    finally:
        await search.indices.delete(index=f"{name}-v*", ignore_unavailable=True)
        await search.indices.delete_index_template(name=f"{name}-template", ignore=404)
        await mongo.drop_database(name)
        await mongo.close()
        await search.close()


async def test_replicas_starting_together_make_one_index_behind_the_alias(
    stores: tuple[AsyncOpenSearch, Any, str],
) -> None:
    search, db, alias = stores
    replicas = [SearchIndex(NOTES, search, db.notes, db.search_state, alias) for _ in range(4)]
    await asyncio.gather(*(replica.ensure() for replica in replicas))
    assert list(await search.indices.get_alias(name=alias)) == [f"{alias}-v1-first"]


async def test_a_document_the_shape_cannot_index_is_set_aside_and_the_others_are_indexed(
    stores: tuple[AsyncOpenSearch, Any, str],
) -> None:
    search, db, alias = stores
    index = SearchIndex(NOTES, search, db.notes, db.search_state, alias)
    await index.ensure()
    await db.notes.insert_many(
        [
            {"_id": "good", "language": "en", "text": "teachers share rubrics", "revision": 1, PENDING: True},
            {"_id": "older", "text": "written before notes had a language", "revision": 1, PENDING: True},
        ]
    )
    indexer = asyncio.create_task(index.run_indexer())
    try:
        index.notify(["good", "older"])

        async def found() -> list[str]:
            await search.indices.refresh(index=alias)
            answer = await index.run({"query": {"match": {"text.en": "teacher"}}})
            return [hit["_id"] for hit in answer["hits"]["hits"]]

        assert await eventually(found) == ["good"]
        older = await eventually(lambda: db.notes.find_one({"_id": "older", PENDING: {"$exists": False}}))
        assert "not searchable: KeyError" in older[SET_ASIDE_FIELD][0]["reason"]
        # Once repaired, it is indexed like any other.
        await db.notes.update_one({"_id": "older"}, marked({"$set": {"language": "en"}}))
        index.notify(["older"])

        async def both() -> bool:
            await search.indices.refresh(index=alias)
            answer = await index.run({"query": {"match": {"text.en": "written"}}})
            return [hit["_id"] for hit in answer["hits"]["hits"]] == ["older"]

        await eventually(both)
    finally:
        indexer.cancel()
