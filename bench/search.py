"""Search benchmark: the practices service's indexer and search API against raw OpenSearch
baselines on the same server, in the same run, with the demo generator's practices.

Usage: uv run python bench/search.py [--practices N] [--queries N]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import secrets
import statistics
import time
import uuid
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from deh_contracts.catalogue.practices import PracticeMetadata
from deh_practices.adapters.index import SearchIndex, index_document, usable_analyses
from deh_practices.adapters.store import PENDING, PracticeStore
from deh_practices.app import create_app
from deh_practices.domain.search import SearchRequest, build_query, choose_analyses, index_definition
from deh_practices.settings import PracticesSettings
from deh_stack.demo_practices import demo_practices
from deh_stack.testing import ServerAddresses, provide_servers

WORDS = [
    "Schule",
    "szkoła",
    "coding clubs",
    "prasmes",
    "bibliothèques",
    "robots",
    "Lehrkräfte",
    "docentes",
    "sicurezza",
]


def percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100)
    return "  ".join(f"p{p} {cuts[p - 1] * 1000:6.1f} ms" for p in (50, 95, 99))


async def index_all(store: PracticeStore, index: SearchIndex, ids: list[str], changes: dict[str, Any]) -> float:
    """Mark the practices changed (as a store write does), tell the indexer, and time until
    every mark is cleared."""
    await store.practices.update_many(
        {"_id": {"$in": ids}}, {"$set": {**changes, PENDING: True}, "$inc": {"revision": 1}}
    )
    began = time.perf_counter()
    index.notify(ids)
    while await store.practices.find_one({"_id": {"$in": ids}, PENDING: True}, {"_id": 1}):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return time.perf_counter() - began


async def run(servers: ServerAddresses, count: int, queries: int, existing: int) -> None:
    isolated = uuid.uuid4().hex[:8]
    settings = PracticesSettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        mongo_url=servers.mongo_url,
        opensearch_url=servers.opensearch_url,
        mongo_database=f"bench-{isolated}",
        consumer_group=f"bench-{isolated}",
        search_alias=f"bench-{isolated}",
        auth_secret=secrets.token_urlsafe(48),  # no request is signed here; the service needs a key to start
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        store, index = app.state.store, app.state.index
        generated = demo_practices(count)
        for practice in generated:
            await store.create(
                practice_id=None,
                metadata=PracticeMetadata.model_validate(practice["metadata"]),
                body=practice["body"],
                author_ids=["bench"],
                author_names=[],
                status="submitted",
                created_by="bench",
            )
        ids = [document["_id"] async for document in store.practices.find({}, {"_id": 1})]
        indexer_seconds = await index_all(store, index, ids, {"status": "published", "published_at": None})
        # The same work with many more practices in the collection: the indexer reads by id, so
        # its cost per practice must not grow with the collection.
        for first in range(0, existing, 5000):
            stored = range(first, min(existing, first + 5000))
            await store.practices.insert_many(
                [{"_id": f"old-{n}", "status": "archived", "revision": 1} for n in stored]
            )
        crowded_seconds = await index_all(store, index, ids, {})

        raw_index = f"bench-raw-{isolated}"
        raw_definition = index_definition(choose_analyses(await usable_analyses(index.search)))
        await index.search.indices.create(index=raw_index, body=raw_definition)
        documents = [document async for document in store.practices.find({"_id": {"$in": ids}})]
        began = time.perf_counter()
        for offset in range(0, len(documents), 200):
            operations: list[dict[str, Any]] = []
            for document in documents[offset : offset + 200]:
                operations += [{"index": {"_index": raw_index, "_id": document["_id"]}}, index_document(document)]
            await index.search.bulk(body=operations)
        raw_seconds = time.perf_counter() - began
        await index.search.indices.refresh(index=f"{settings.search_alias},{raw_index}")

        api, raw = [], []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://practices") as client:
            for number in range(queries):
                word = WORDS[number % len(WORDS)]
                start = time.perf_counter()
                response = await client.get("/search", params={"q": word, "size": 10})
                api.append(time.perf_counter() - start)
                assert response.status_code == 200
                start = time.perf_counter()
                await index.search.search(
                    index=raw_index, body=build_query(SearchRequest(q=word, size=10), caller=None)
                )
                raw.append(time.perf_counter() - start)
        await index.search.indices.delete(index=raw_index)
        # Leave the shared servers as found: the practices' database and their search index.
        await index.search.indices.delete(index=await index.live_index())
        await store.practices.database.client.drop_database(store.practices.database.name)

    print(f"\n{count} demo practices, {queries} searches, servers from {servers.origin}\n")
    print(f"{'indexer (MongoDB -> OpenSearch, external versions)':<52} {count / indexer_seconds:8.0f} practices/s")
    crowded = f"indexer, {existing:,} more practices stored"
    print(f"{crowded:<52} {count / crowded_seconds:8.0f} practices/s")
    print(f"{'raw bulk of the same documents':<52} {count / raw_seconds:8.0f} practices/s")
    print(f"{'search API (FastAPI, facets, highlights)':<52} {percentiles(api)}")
    print(f"{'raw OpenSearch query, same body':<52} {percentiles(raw)}")
    print(f"\nindexer / raw bulk throughput:      {raw_seconds / indexer_seconds:.2f}")
    print(f"indexer, crowded / not crowded:     {indexer_seconds / crowded_seconds:.2f}")
    print(f"search API / raw query, median:     {statistics.median(api) / statistics.median(raw):.2f}")
    print(f"peak memory (RSS) of this process:  {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--practices", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--existing", type=int, default=100_000, help="practices added before the second indexing")
    args = parser.parse_args()
    with provide_servers() as servers:
        asyncio.run(run(servers, args.practices, args.queries, args.existing))


if __name__ == "__main__":
    main()
