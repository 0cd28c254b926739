"""Full-text search of the community's threads (issue 17), over HTTP on the real servers: in the
EU languages with the practice library's analysis, each thread once with the post that matched
best, only where the reader may read, and never a hidden or deleted post's text.

Each test's posts carry a word of their own (`marker`), so that the threads of other tests in
the same service never answer its searches."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hub_testing import ServiceUnderTest, isolated_settings, running
from membership_steps import ADMIN, MODERATOR, join, squad_that_selected

from deh_membership.app import create_app
from deh_membership.settings import MembershipSettings
from deh_platform.outbox import SET_ASIDE_FIELD
from deh_platform.search_index import PENDING
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.e2e


def _now() -> datetime:
    return datetime.now(UTC)


def marker() -> str:
    """A word no other test writes (letters only: the analyzers keep it whole)."""
    return "zq" + "".join(chr(ord("a") + int(digit, 16) % 26) for digit in uuid.uuid4().hex[:10])


async def start(
    hub: ServiceUnderTest, author: str, title: str, text: str, language: str, **space: Any
) -> dict[str, Any]:
    thread = {"space": space or {"kind": "community"}, "title": title, "text": text, "language": language}
    response = await hub.client.post("/threads", json=thread, headers=hub.caller(author))
    assert response.status_code == 201, response.text
    started: dict[str, Any] = response.json()
    return started


async def write(hub: ServiceUnderTest, thread_id: str, author: str, text: str, language: str) -> str:
    response = await hub.client.post(
        f"/threads/{thread_id}/posts", json={"text": text, "language": language}, headers=hub.caller(author)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["post_id"])


async def found(hub: ServiceUnderTest, reader: tuple[str, ...], q: str, **filters: Any) -> list[dict[str, Any]]:
    response = await hub.client.get("/threads/search", params={"q": q, **filters}, headers=hub.caller(*reader))
    assert response.status_code == 200, response.text
    threads: list[dict[str, Any]] = response.json()["threads"]
    return threads


async def eventually_found(
    hub: ServiceUnderTest, reader: tuple[str, ...], q: str, **filters: Any
) -> list[dict[str, Any]]:
    """What a search finds once the indexer has caught up with the writes before it."""
    return await eventually(lambda: found(hub, reader, q, **filters))


async def test_a_member_finds_threads_by_the_words_of_their_language_inflected_or_without_diacritics(
    membership: ServiceUnderTest,
) -> None:
    word = marker()
    anna, jonas, ewa = await join(membership), await join(membership), await join(membership)
    thread = await start(
        membership, anna, f"Hausaufgaben mit KI {word}", f"Wie gehen eure Schulen mit KI um? {word}", "de"
    )
    thread_id = thread["thread_id"]
    reply = await write(membership, thread_id, jonas, f"Our teachers use chatbots for feedback {word}", "en")
    polish = await write(membership, thread_id, ewa, f"Nauczyciele w naszych szkołach oceniają inaczej {word}", "pl")

    # German: Schule finds Schulen in the opening post; the title's words are found too.
    listed = await membership.client.get(f"/threads/{thread_id}/posts", headers=membership.caller(jonas))
    opening = listed.json()["posts"][0]["post_id"]
    (german,) = await eventually_found(membership, (jonas,), f"{word} Schule")
    assert (german["thread_id"], german["post_id"], german["language"]) == (thread_id, opening, "de")
    assert "<em>Schulen</em>" in german["excerpt"]
    assert german["title"] == f"Hausaufgaben mit KI {word}"
    assert german["space"] == {"kind": "community", "squad_id": None}
    (titled,) = await found(membership, (jonas,), f"{word} Hausaufgabe")
    assert titled["thread_id"] == thread_id
    # English: teacher finds teachers, in the reply; Polish: szkoła (the word's dictionary form)
    # and szkolach (as written, without diacritics) find szkołach, in the Polish reply.
    (english,) = await eventually_found(membership, (anna,), f"{word} teacher")
    assert english["post_id"] == reply
    for typed in ("szkoła", "szkolach"):
        (in_polish,) = await eventually_found(membership, (anna,), f"{word} {typed}")
        assert in_polish["post_id"] == polish, typed
        assert "<em>szkołach</em>" in in_polish["excerpt"], "the excerpt shows the word as it was written"
    # Each thread once, with its best post; a language filter keeps posts of that language.
    everything = await found(membership, (anna,), word)
    assert [hit["thread_id"] for hit in everything] == [thread_id]
    (only_english,) = await found(membership, (anna,), word, language="en")
    assert only_english["post_id"] == reply
    assert await found(membership, (anna,), f"{word} -chatbots", language="en") == []
    assert await found(membership, (anna,), f'{word} "feedback chatbots"') == []


async def test_a_search_finds_only_threads_where_the_reader_may_read(membership: ServiceUnderTest) -> None:
    word = marker()
    member, outsider, coordinator = await join(membership), await join(membership), await join(membership)
    squad_id = await squad_that_selected(membership, member)
    in_squad = await start(
        membership, member, "Squad plan", f"Draft of the squad's plan {word}", "en", kind="squad", squad_id=squad_id
    )
    network = await membership.client.post(
        "/threads",
        json={"space": {"kind": "nas_network"}, "title": "NAS plan", "text": f"Country plan {word}", "language": "en"},
        headers=membership.caller(coordinator, "member", "nas_coordinator"),
    )
    assert network.status_code == 201, network.text
    community = await start(membership, outsider, "Open plan", f"Everyone's plan {word}", "en")

    def threads(hits: list[dict[str, Any]]) -> set[str]:
        return {hit["thread_id"] for hit in hits}

    everywhere = {in_squad["thread_id"], network.json()["thread_id"], community["thread_id"]}
    await eventually(lambda: _finds(membership, MODERATOR, f"{word} plan", everywhere))
    assert threads(await found(membership, (outsider,), f"{word} plan")) == {community["thread_id"]}
    assert threads(await found(membership, (member,), f"{word} plan")) == {
        in_squad["thread_id"],
        community["thread_id"],
    }
    assert threads(await found(membership, (coordinator, "member", "nas_coordinator"), f"{word} plan")) == {
        network.json()["thread_id"],
        community["thread_id"],
    }
    assert threads(await found(membership, (member,), f"{word} plan", space="squad")) == {in_squad["thread_id"]}


async def _finds(hub: ServiceUnderTest, reader: tuple[str, ...], q: str, expected: set[str]) -> bool:
    return {hit["thread_id"] for hit in await found(hub, reader, q)} == expected


async def test_a_hidden_or_deleted_post_is_never_found_and_an_edit_is_found_as_it_reads_now(
    membership: ServiceUnderTest,
) -> None:
    word = marker()
    author, troll, reader = await join(membership), await join(membership), await join(membership)
    thread = await start(membership, author, "Assessment rubrics", f"Share your rubrics {word}", "en")
    thread_id = thread["thread_id"]
    rude = await write(membership, thread_id, troll, f"Rubrics are nonsense, insulting {word}", "en")
    (hit,) = await eventually_found(membership, (reader,), f"{word} insulting")
    assert hit["post_id"] == rude

    post = f"/threads/{thread_id}/posts/{rude}"
    reported = await membership.client.post(
        f"{post}/reports", json={"reason": "Insulting to colleagues."}, headers=membership.caller(reader)
    )
    assert reported.status_code == 204, reported.text
    hidden = await membership.client.post(
        f"{post}/hide", json={"reason": "Insults, against the charter."}, headers=membership.caller(*MODERATOR)
    )
    assert hidden.status_code == 200, hidden.text
    # Never found from the moment it is hidden (the hits are checked against MongoDB), and the
    # index itself keeps no text of it once it has followed.
    for who in ((reader,), (troll,), MODERATOR, ADMIN):
        assert await found(membership, who, f"{word} insulting") == [], "not for anyone, moderators included"
    await eventually(lambda: _indexed_text_of(membership, rude, None))
    # The thread is still found by its other posts and its title, with the best of those.
    (still,) = await eventually_found(membership, (reader,), f"{word} rubrics")
    assert still["post_id"] != rude

    restored = await membership.client.post(
        f"{post}/restore", json={"reason": "The author apologised."}, headers=membership.caller(*MODERATOR)
    )
    assert restored.status_code == 200, restored.text
    await eventually(lambda: _finds(membership, (reader,), f"{word} insulting", {thread_id}))
    assert await _indexed_text_of(membership, rude, f"Rubrics are nonsense, insulting {word}")

    edited = await membership.client.put(
        post, json={"text": f"Rubrics need care {word}", "language": "en"}, headers=membership.caller(troll)
    )
    assert edited.status_code == 200, edited.text
    await eventually(lambda: _finds(membership, (reader,), f"{word} insulting", set()))
    (now,) = await found(membership, (reader,), f"{word} care")
    assert now["post_id"] == rude

    assert (await membership.client.delete(post, headers=membership.caller(troll))).status_code == 204
    assert await found(membership, (reader,), f"{word} care") == []
    await eventually(lambda: _indexed_text_of(membership, rude, None))


async def _indexed_text_of(hub: ServiceUnderTest, post_id: str, text: str | None) -> bool:
    """Whether the index holds this text of the post (None: no text, as for a hidden post)."""
    index = hub.app.state.index
    indexed = await index.search.get(index=index.alias, id=post_id)
    return bool(indexed["_source"]["body"].get("en") == text)


async def test_an_erased_members_deleted_posts_are_not_found_and_no_hit_names_an_author(
    membership: ServiceUnderTest,
) -> None:
    word = marker()
    author, reader = await join(membership), await join(membership)
    thread = await start(membership, reader, "Inclusion", f"Inclusive classrooms {word}", "en")
    story = await write(membership, thread["thread_id"], author, f"My private story of inclusion {word}", "en")
    hits = await eventually_found(membership, (reader,), f"{word} story")
    assert author not in str(hits), "hits name no author"
    assert reader not in str(hits), "hits name no author"
    erased = await membership.client.delete(
        f"/members/{author}", params={"posts": "delete"}, headers=membership.caller(*ADMIN)
    )
    assert erased.status_code == 204, erased.text
    assert await found(membership, (reader,), f"{word} story") == []
    await eventually(lambda: _indexed_text_of(membership, story, None))
    assert [hit["thread_id"] for hit in await found(membership, (reader,), f"{word} inclusive")] == [
        thread["thread_id"]
    ]


async def test_a_members_markup_comes_back_escaped_in_an_excerpt(membership: ServiceUnderTest) -> None:
    word = marker()
    author = await join(membership)
    await start(membership, author, "Markup", f"<script>alert(1)</script> {word} safety", "en")
    (hit,) = await eventually_found(membership, (author,), f"{word} safety")
    assert "<script>" not in hit["excerpt"]
    assert "&lt;script&gt;" in hit["excerpt"]
    assert f"<em>{word}</em>" in hit["excerpt"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "-"}, "q"),
        ({"q": '"'}, "q"),
        ({"q": "-plan"}, "q"),
        ({"q": " ".join(f"w{i}" for i in range(21))}, "q"),
        ({"q": "plan", "page": "11"}, "page"),
        ({"q": "plan", "language": "xx"}, "language"),
        ({"q": "plan", "space": "everywhere"}, "space"),
    ],
)
async def test_a_search_that_breaks_the_rules_is_a_422_naming_the_field(
    membership: ServiceUnderTest, params: dict[str, str], field: str
) -> None:
    member = await join(membership)
    response = await membership.client.get("/threads/search", params=params, headers=membership.caller(member))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][-1] == field


async def test_only_active_members_search(membership: ServiceUnderTest) -> None:
    assert (await membership.client.get("/threads/search", params={"q": "plan"})).status_code == 401
    member = await join(membership)
    suspended = await membership.client.post(
        f"/members/{member}/suspend", json={"reason": "Spam."}, headers=membership.caller(*MODERATOR)
    )
    assert suspended.status_code == 200, suspended.text
    response = await membership.client.get("/threads/search", params={"q": "plan"}, headers=membership.caller(member))
    assert response.status_code == 403


async def test_a_match_in_the_title_alone_shows_the_title_found(membership: ServiceUnderTest) -> None:
    in_title, in_text = marker(), marker()
    author = await join(membership)
    await start(membership, author, f"Hausaufgaben {in_title}", f"Wie macht ihr das? {in_text}", "de")
    (hit,) = await eventually_found(membership, (author,), in_title)
    assert hit["excerpt"] == f"Hausaufgaben <em>{in_title}</em>"


async def test_posts_of_an_older_shape_are_made_searchable_and_one_that_cannot_be_is_set_aside(
    membership: ServiceUnderTest,
) -> None:
    """Posts written before threads were searched lack their thread's title; a document of a
    shape the code cannot index must not hold up the others."""
    word = marker()
    author = await join(membership)
    thread = await start(membership, author, "Older posts", f"Opening {word}", "en")
    posts = membership.runtime.db.posts
    older = {"thread_id": thread["thread_id"], "language": "en", "deleted": False, "hidden": False}
    await posts.insert_one({"_id": f"older-{word}", **older, "text": f"Written long ago {word}", "written_at": _now()})
    broken = {**older, "thread_id": f"gone-{word}", "text": "x", "revision": 1, PENDING: True}
    await posts.insert_one({"_id": f"broken-{word}", **broken, "written_at": _now()})
    store = membership.app.state.conversations
    assert await store.posts_searchable() == 1, "the post whose thread is gone stays as it is"
    membership.app.state.index.notify([f"older-{word}", f"broken-{word}"])

    (hit,) = await eventually_found(membership, (author,), f"{word} long ago")
    assert hit["post_id"] == f"older-{word}"
    set_aside = await eventually(lambda: posts.find_one({"_id": f"broken-{word}", SET_ASIDE_FIELD: {"$exists": True}}))
    assert "not searchable" in set_aside[SET_ASIDE_FIELD][0]["reason"]
    later = await start(membership, author, "Later", f"After the broken one {word}", "en")
    (found_later,) = await eventually_found(membership, (author,), f"{word} after broken")
    assert found_later["thread_id"] == later["thread_id"]


async def test_membership_serves_while_opensearch_is_away_and_its_search_answers_503(
    servers: ServerAddresses,
) -> None:
    nowhere = dataclasses.replace(servers, opensearch_url="http://127.0.0.1:9")
    async with running(create_app(isolated_settings(MembershipSettings, nowhere))) as without_search:
        readiness = await without_search.client.get("/readyz")
        assert readiness.status_code == 200, readiness.text
        assert readiness.json()["checks"]["opensearch"] != "ok"
        member = await join(without_search)
        await start(without_search, member, "Still talking", "Threads are written without search", "en")
        response = await without_search.client.get(
            "/threads/search", params={"q": "talking"}, headers=without_search.caller(member)
        )
        assert response.status_code == 503, response.text
