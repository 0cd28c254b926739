"""The OpenSearch node has what the practices search needs: language analyzers (Polish
through Morfologik and Stempel) and painless scripts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from opensearchpy import AsyncOpenSearch

from deh_stack.testing import ServerAddresses

pytestmark = pytest.mark.integration


@pytest.fixture
async def search(servers: ServerAddresses) -> AsyncIterator[AsyncOpenSearch]:
    client = AsyncOpenSearch(servers.opensearch_url)
    yield client
    await client.close()


@pytest.fixture
async def multilingual_index(search: AsyncOpenSearch, unique_name: str) -> AsyncIterator[str]:
    await search.indices.create(
        index=unique_name,
        body={
            "settings": {
                "number_of_replicas": 0,
                "analysis": {
                    "analyzer": {
                        "polish_morfologik": {"tokenizer": "standard", "filter": ["morfologik_stem", "lowercase"]}
                    },
                },
            },
            "mappings": {
                "properties": {
                    "title_en": {"type": "text", "analyzer": "english"},
                    "title_de": {"type": "text", "analyzer": "german"},
                    "title_pl": {"type": "text", "analyzer": "polish_morfologik"},
                    "title_pl_stempel": {"type": "text", "analyzer": "polish"},
                    "views": {"type": "integer"},
                }
            },
        },
    )
    documents = [
        {
            "title_en": "Running a coding club",
            "title_de": "Programmieren in Schulen",
            "title_pl": "Kodowanie w szkołach dla nauczycieli i uczniów",
            "title_pl_stempel": "Kodowanie w szkołach dla nauczycieli i uczniów",
            "views": 1,
        },
        {
            "title_en": "Open textbooks",
            "title_de": "Offene Lehrbücher",
            "title_pl": "Otwarte podręczniki",
            "title_pl_stempel": "Otwarte podręczniki",
            "views": 1,
        },
    ]
    for number, document in enumerate(documents):
        await search.index(index=unique_name, id=str(number), body=document)
    await search.indices.refresh(index=unique_name)
    yield unique_name
    await search.indices.delete(index=unique_name)


async def matching_ids(search: AsyncOpenSearch, index: str, field: str, text: str) -> list[str]:
    response = await search.search(index=index, body={"query": {"match": {field: text}}})
    return [hit["_id"] for hit in response["hits"]["hits"]]


async def test_english_stemming_finds_running_by_run(search: AsyncOpenSearch, multilingual_index: str) -> None:
    assert await matching_ids(search, multilingual_index, "title_en", "run") == ["0"]


async def test_german_stemming_finds_schulen_by_schule(search: AsyncOpenSearch, multilingual_index: str) -> None:
    assert await matching_ids(search, multilingual_index, "title_de", "Schule") == ["0"]


@pytest.mark.parametrize("words", ["szkoła", "nauczyciel", "uczeń", "podręcznik"])
async def test_polish_morfologik_finds_inflected_forms_by_their_lemma(
    search: AsyncOpenSearch, multilingual_index: str, words: str
) -> None:
    expected = ["1"] if words == "podręcznik" else ["0"]
    assert await matching_ids(search, multilingual_index, "title_pl", words) == expected


async def test_polish_stempel_as_opensearch_names_it(search: AsyncOpenSearch, multilingual_index: str) -> None:
    assert await matching_ids(search, multilingual_index, "title_pl_stempel", "nauczyciel") == ["0"]


async def test_a_painless_script_updates_a_document(search: AsyncOpenSearch, multilingual_index: str) -> None:
    await search.update(
        index=multilingual_index,
        id="1",
        body={"script": {"lang": "painless", "source": "ctx._source.views += params.by", "params": {"by": 41}}},
    )
    document = await search.get(index=multilingual_index, id="1")
    assert document["_source"]["views"] == 42
