"""Suggestions as a person types and practices related to one, on the real servers: only
published practices, in the person's language, diacritics optional."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hub_testing import ServiceUnderTest
from practice_steps import found, metadata, publish, submit

pytestmark = pytest.mark.e2e


async def practice(
    hub: ServiceUnderTest, language: str, title: str, *, published: bool = True, **overrides: Any
) -> str:
    body = metadata("discovery", title={language: title}, summary={language: title}, languages=[language])
    practice_id = await submit(hub, "author-4", {**body, **overrides}, submit=published)
    if published:
        await publish(hub, practice_id)
    return practice_id


async def suggested(hub: ServiceUnderTest, q: str, language: str) -> list[tuple[str, str]]:
    response = await hub.client.get("/suggestions", params={"q": q, "language": language})
    assert response.status_code == 200, response.text
    return [(suggestion["kind"], suggestion["text"]) for suggestion in response.json()]


async def test_suggestions_offer_published_titles_topics_and_terms_in_the_persons_language(
    practices: ServiceUnderTest,
) -> None:
    word = f"robo{uuid.uuid4().hex[:6]}"  # a word of this test's own, so that nothing else begins so
    clubs = await practice(practices, "en", f"{word}tics clubs for girls", topics=["discovery", f"{word}tics"])
    kits = await practice(practices, "en", f"{word}t kits in libraries")
    german = await practice(practices, "de", f"{word}tik in der Grundschule für Schüler")
    await practice(practices, "en", f"{word}ts: a draft", published=False)
    await found(practices, {clubs, kits, german}, topics=["discovery"], size=50)

    assert sorted(await suggested(practices, word, "en")) == [
        ("title", f"{word}t kits in libraries"),
        ("title", f"{word}tics clubs for girls"),
        ("topic", f"{word}tics"),
    ], "published titles and topics in English; not the draft, not the German title"
    assert await suggested(practices, f"{word}tik grundschule sch", "de") == [
        ("title", f"{word}tik in der Grundschule für Schüler")
    ], "word by word, the last one begun"
    assert await suggested(practices, f"{word}tik schuler", "de") == [
        ("title", f"{word}tik in der Grundschule für Schüler")
    ], "diacritics optional"


async def test_vocabulary_terms_are_suggested_where_they_have_labels_in_the_language(
    practices: ServiceUnderTest,
) -> None:
    response = await practices.client.get("/suggestions", params={"q": "netiq", "language": "en"})
    assert response.json() == [{"text": "Netiquette", "kind": "digcomp", "value": "2.5"}]
    assert ("digcompedu", "Digital continuous professional development") in await suggested(
        practices, "digital cont", "en"
    )
    assert await suggested(practices, "netiq", "pl") == [], "the vocabularies have English labels only"
    for params in ({"q": "", "language": "en"}, {"q": "netiq", "language": "xx"}, {"q": "x" * 101, "language": "en"}):
        refused = await practices.client.get("/suggestions", params=params)
        assert refused.status_code == 422, params


async def test_related_practices_share_text_or_topics_and_are_published(practices: ServiceUnderTest) -> None:
    topic = f"coding-{uuid.uuid4().hex[:6]}"
    about_coding: dict[str, Any] = {"topics": [topic], "digcomp": ["3.4"]}
    rural = await practice(practices, "en", "Coding clubs in rural schools", **about_coding)
    libraries = await practice(practices, "en", "Coding clubs in rural libraries", **about_coding)
    german = await practice(practices, "de", "Programmierclubs an Grundschulen", topics=[topic])
    museums = await practice(practices, "en", "Museum visits with tablets", topics=["museums"], digcomp=["1.1"])
    draft = await practice(practices, "en", "Coding clubs in rural schools, again", published=False, **about_coding)
    await found(practices, {rural, libraries, german}, topics=[topic])

    response = await practices.client.get(f"/practices/{rural}/related")

    assert response.status_code == 200, response.text
    related = [hit["id"] for hit in response.json()["hits"]]
    assert related[0] == libraries, "text, topic and competence alike first"
    assert german in related, "the topic alone, in another language"
    assert not {rural, museums, draft} & set(related), "not itself, not unrelated, not unpublished"
    assert (await practices.client.get(f"/practices/{draft}/related")).status_code == 404, "a draft is not found"
