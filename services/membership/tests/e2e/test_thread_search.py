"""Full-text search of the community's threads (issue 17), over HTTP on the real servers: in the
EU languages with the practice library's analysis, each thread once with the post that matched
best, only where the reader may read, and never a hidden or deleted post's text.

Each test's posts carry a word of their own (`marker`), so that the threads of other tests in
the same service never answer its searches."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hub_testing import ServiceUnderTest
from membership_steps import ADMIN, CANDIDACY, MODERATOR, join, open_squad

from deh_stack.testing import eventually

pytestmark = pytest.mark.e2e


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
    opening = listed.json()[0]["post_id"]
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
    # Each thread once, with its best post; a language filter keeps posts of that language.
    everything = await found(membership, (anna,), word)
    assert [hit["thread_id"] for hit in everything] == [thread_id]
    (only_english,) = await found(membership, (anna,), word, language="en")
    assert only_english["post_id"] == reply
    assert await found(membership, (anna,), f"{word} -chatbots", language="en") == []
    assert await found(membership, (anna,), f'{word} "feedback chatbots"') == []


async def test_a_search_finds_only_threads_where_the_reader_may_read(membership: ServiceUnderTest) -> None:
    word = marker()
    squad_id = await open_squad(membership, cap=2)
    member, outsider, coordinator = await join(membership), await join(membership), await join(membership)
    applied = await membership.client.post(
        f"/squads/{squad_id}/applications", json=CANDIDACY, headers=membership.caller(member)
    )
    assert applied.status_code == 201, applied.text
    selected = await membership.client.post(
        f"/squads/{squad_id}/selections", json={"application_id": member}, headers=membership.caller(*MODERATOR)
    )
    assert selected.status_code == 200, selected.text
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
    await eventually(lambda: _finds(membership, (reader,), f"{word} insulting", set()))
    for who in ((troll,), MODERATOR, ADMIN):
        assert await found(membership, who, f"{word} insulting") == [], "not for its author, nor moderators"
    # The thread is still found by its other posts and its title, with the best of those.
    (still,) = await found(membership, (reader,), f"{word} rubrics")
    assert still["post_id"] != rude

    restored = await membership.client.post(
        f"{post}/restore", json={"reason": "The author apologised."}, headers=membership.caller(*MODERATOR)
    )
    assert restored.status_code == 200, restored.text
    await eventually(lambda: _finds(membership, (reader,), f"{word} insulting", {thread_id}))

    edited = await membership.client.put(
        post, json={"text": f"Rubrics need care {word}", "language": "en"}, headers=membership.caller(troll)
    )
    assert edited.status_code == 200, edited.text
    await eventually(lambda: _finds(membership, (reader,), f"{word} insulting", set()))
    (now,) = await found(membership, (reader,), f"{word} care")
    assert now["post_id"] == rude

    assert (await membership.client.delete(post, headers=membership.caller(troll))).status_code == 204
    await eventually(lambda: _finds(membership, (reader,), f"{word} care", set()))


async def test_an_erased_members_deleted_posts_are_not_found_and_no_hit_names_an_author(
    membership: ServiceUnderTest,
) -> None:
    word = marker()
    author, reader = await join(membership), await join(membership)
    thread = await start(membership, reader, "Inclusion", f"Inclusive classrooms {word}", "en")
    await write(membership, thread["thread_id"], author, f"My private story of inclusion {word}", "en")
    hits = await eventually_found(membership, (reader,), f"{word} story")
    assert author not in str(hits), "hits name no author"
    assert reader not in str(hits), "hits name no author"
    erased = await membership.client.delete(
        f"/members/{author}", params={"posts": "delete"}, headers=membership.caller(*ADMIN)
    )
    assert erased.status_code == 204, erased.text
    await eventually(lambda: _finds(membership, (reader,), f"{word} story", set()))
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
