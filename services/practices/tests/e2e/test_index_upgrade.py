"""A deployment whose live index was made by an older mapping version (before diacritic-free
fields and suggestions) goes on serving and indexing in the old shape, then one replica rebuilds
the index in the current shape and moves the alias: nothing is set aside, nothing is lost. One
rebuild runs at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from hub_testing import active_in_practices, isolated_settings, running
from opensearchpy import AsyncOpenSearch
from practice_steps import found, metadata, publish, submit

from deh_platform.search_index import ABANDONED_AFTER, SearchIndex
from deh_platform.search_node import usable_analyses
from deh_platform.text_analysis import choose_analyses
from deh_practices.app import create_app
from deh_practices.domain.search import MAPPING_VERSION, index_definition
from deh_practices.settings import PracticesSettings
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.e2e


async def an_index_of_the_previous_version(search: AsyncOpenSearch, alias: str) -> None:
    """The index as the previous mapping version made it: without the fields added since."""
    definition = index_definition(choose_analyses(await usable_analyses(search)))
    mapping = definition["mappings"]
    mapping["_meta"]["mapping_version"] = MAPPING_VERSION - 1
    del mapping["properties"]["title_suggest"]
    await search.indices.create(
        index=f"{alias}-v{MAPPING_VERSION - 1}-old", body={**definition, "aliases": {alias: {}}}
    )


async def test_an_index_of_an_older_mapping_serves_until_one_replica_has_rebuilt_it(servers: ServerAddresses) -> None:
    settings = isolated_settings(PracticesSettings, servers, search_upgrade_check_seconds=0)
    search = AsyncOpenSearch(servers.opensearch_url)
    try:
        await an_index_of_the_previous_version(search, settings.search_alias)

        async with running(create_app(settings)) as practices:  # no upgrade job: the old index stays
            await active_in_practices(practices, servers, "author-1", "reviewer-1")
            before = await submit(practices, "author-1", metadata("upgrade", title={"en": "Quilting with robots"}))
            await publish(practices, before)
            await found(practices, {before}, q="quilting")
            assert await practices.runtime.db.practices.count_documents({"_set_aside": {"$exists": True}}) == 0

        upgrading = settings.model_copy(update={"search_upgrade_check_seconds": 0.5})
        async with running(create_app(upgrading)) as practices:
            index: SearchIndex = practices.app.state.index

            async def upgraded() -> bool:
                return await index.mapping_version() == MAPPING_VERSION

            await eventually(upgraded, within=60, interval=0.5)
            after = await submit(practices, "author-1", metadata("upgrade", title={"en": "Quilting circles online"}))
            await publish(practices, after)
            await found(practices, {before, after}, q="quilting")
            offered = await practices.client.get("/suggestions", params={"q": "quilt", "language": "en"})
            assert {suggestion["value"] for suggestion in offered.json()} >= {before, after}
            assert await practices.runtime.db.practices.count_documents({"_set_aside": {"$exists": True}}) == 0
    finally:
        await search.indices.delete(index=f"{settings.search_alias}-*", ignore_unavailable=True)
        await search.close()


async def test_one_rebuild_runs_at_a_time_and_one_that_died_is_taken_over(servers: ServerAddresses) -> None:
    settings = isolated_settings(PracticesSettings, servers, search_upgrade_check_seconds=0)
    async with running(create_app(settings)) as practices:
        index: SearchIndex = practices.app.state.index
        dead = f"{index.alias}-v{MAPPING_VERSION}-died"
        await index.search.indices.create(index=dead)
        long_ago = datetime.now(UTC) - ABANDONED_AFTER * 2
        await index.state.update_one(
            {"_id": index.alias}, {"$set": {"building": dead, "heartbeat_at": long_ago}}, upsert=True
        )

        results = await asyncio.gather(index.rebuild(), index.rebuild(), return_exceptions=True)

        assert sorted(type(result).__name__ for result in results) == ["RebuildRunning", "str"]
        assert not await index.search.indices.exists(index=dead), "the dead rebuild's index is gone"
        state = await index.state.find_one({"_id": index.alias})
        assert state is not None
        assert "building" not in state
        assert await index.live_index() == next(result for result in results if isinstance(result, str))
