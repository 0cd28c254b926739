"""The practices service on an OpenSearch node that has no Polish analysis at all (no
Morfologik, no Stempel, no hunspell dictionary): it starts, says once what degrades, indexes
Polish text with standard analysis, and serves search."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hub_samples import practice_metadata
from hub_testing import active_in_practices, isolated_settings, running
from opensearchpy import AsyncOpenSearch
from practice_steps import MODERATOR, SCORES

from deh_practices.app import create_app
from deh_practices.settings import PracticesSettings
from deh_stack.opensearch import OpenSearchServer
from deh_stack.testing import ServerAddresses, eventually, private_server

pytestmark = pytest.mark.e2e


@contextmanager
def warnings_of(logger_name: str) -> Iterator[list[str]]:
    """The warnings one logger emits (the service's own logging set-up replaces root handlers)."""
    logged: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: logged.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield logged
    finally:
        logger.removeHandler(handler)


async def test_practices_start_and_search_on_a_node_without_polish_analysis(
    servers: ServerAddresses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEH_OPENSEARCH_JAVA_OPTS", "-Xms256m -Xmx256m")
    without_polish = functools.partial(OpenSearchServer, leave_out=("analysis-polish",))
    with private_server(without_polish, tmp_path) as node:
        settings = isolated_settings(PracticesSettings, dataclasses.replace(servers, opensearch_url=node.address))
        with warnings_of("deh_platform.search_index") as logged:
            async with running(create_app(settings)) as practices:
                warnings = [message for message in logged if "cannot build" in message]
                assert len(warnings) == 1
                assert "of pl:" in warnings[0]
                await active_in_practices(practices, servers, "author-1", "reviewer-1")

                metadata = practice_metadata(
                    title={"pl": "Kluby programowania w szkołach wiejskich"},
                    summary={"pl": "Wolontariusze uczą dzieci programowania."},
                    languages=["pl"],
                )
                created = await practices.client.post(
                    "/practices",
                    json={"metadata": metadata, "body": "Znajdź salę.", "submit": True},
                    headers=practices.caller("author-1"),
                )
                assert created.status_code == 201, created.text
                practice_id = created.json()["id"]
                await practices.client.post(
                    f"/practices/{practice_id}/reviewer",
                    json={"reviewer_id": "reviewer-1"},
                    headers=practices.caller(*MODERATOR),
                )
                reviewed = await practices.client.post(
                    f"/practices/{practice_id}/reviews",
                    json={"scores": SCORES, "decision": "publish"},
                    headers=practices.caller("reviewer-1", "member", "reviewer"),
                )
                assert reviewed.json()["status"] == "published", reviewed.text

                async def hits(words: str) -> list[str]:
                    response = await practices.client.get("/search", params={"q": words})
                    assert response.status_code == 200, response.text
                    return [hit["id"] for hit in response.json()["hits"]]

                async def found_by_the_exact_word() -> bool:
                    return await hits("szkołach") == [practice_id]

                await eventually(found_by_the_exact_word)
                # What degrades: without a stemmer, the base form no longer finds the inflected one.
                assert await hits("szkoła") == []

                search = AsyncOpenSearch(node.address)
                mapping = await search.indices.get_mapping(index=settings.search_alias)
                await search.close()
                (index_mapping,) = mapping.values()
                assert (
                    index_mapping["mappings"]["properties"]["title"]["properties"]["pl"]["analyzer"] == "standard_text"
                )
                assert index_mapping["mappings"]["_meta"]["analyzers"]["pl"] == "standard_text"
                assert index_mapping["mappings"]["_meta"]["analyzers"]["de"] == "german_text"
