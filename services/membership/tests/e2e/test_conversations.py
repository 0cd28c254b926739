"""Conversations of the Community of Practice (issue 17), over HTTP and Kafka on the real
servers: threads in the community, a squad or the NAS network, read only where the reader may;
posts and replies in the author's language; edits keep the earlier texts; an author deletes their
own post; the events say who wrote where, never what; an erased member's posts stay, by nobody."""

from __future__ import annotations

from typing import Any

import pytest
from hub_testing import ServiceUnderTest, published_events, validate_against_committed_schema
from membership_steps import ADMIN, MODERATOR, join, reference_of, squad_that_selected

from deh_contracts.registry import COMMUNITY

pytestmark = pytest.mark.e2e


async def start(hub: ServiceUnderTest, author: str, **space: Any) -> dict[str, Any]:
    thread = {
        "space": space or {"kind": "community"},
        "title": "Generative AI in the classroom",
        "text": "Wie gehen eure Schulen mit KI-Hausaufgaben um?",
        "language": "de",
        "mentions": [{"kind": "practice", "id": "p-coding-clubs"}],
    }
    response = await hub.client.post("/threads", json=thread, headers=hub.caller(author))
    assert response.status_code == 201, response.text
    started: dict[str, Any] = response.json()
    return started


async def posts(hub: ServiceUnderTest, thread_id: str, reader: str, *roles: str) -> list[dict[str, Any]]:
    response = await hub.client.get(f"/threads/{thread_id}/posts", headers=hub.caller(reader, *roles))
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()["posts"]
    return listed


async def test_members_talk_in_a_community_thread_in_their_languages_and_edit_and_delete_their_posts(
    membership: ServiceUnderTest,
) -> None:
    anna, jonas = await join(membership), await join(membership)
    thread = await start(membership, anna)
    (opening,) = await posts(membership, thread["thread_id"], jonas)
    assert (opening["author_id"], opening["language"], opening["version"]) == (anna, "de", 1)
    assert opening["mentions"] == [{"kind": "practice", "id": "p-coding-clubs"}]

    reply = {"text": "Mūsu skolā skolotāji izmanto KI kā palīgu.", "language": "lv", "reply_to": opening["post_id"]}
    answered = await membership.client.post(
        f"/threads/{thread['thread_id']}/posts", json=reply, headers=membership.caller(jonas)
    )
    assert answered.status_code == 201, answered.text
    reply_id = answered.json()["post_id"]
    assert answered.json()["reply_to"] == opening["post_id"]

    edit = {"text": "Mūsu skolā skolotāji izmanto MI kā palīgu.", "language": "lv"}
    url = f"/threads/{thread['thread_id']}/posts/{reply_id}"
    assert (await membership.client.put(url, json=edit, headers=membership.caller(anna))).status_code == 403
    edited = await membership.client.put(url, json=edit, headers=membership.caller(jonas))
    assert edited.status_code == 200, edited.text
    assert (edited.json()["version"], edited.json()["text"]) == (2, edit["text"])
    history = (await membership.client.get(f"{url}/history", headers=membership.caller(anna))).json()
    assert [(entry["version"], entry["text"]) for entry in history] == [(1, reply["text"])]

    assert (await membership.client.delete(url, headers=membership.caller(anna))).status_code == 403
    assert (await membership.client.delete(url, headers=membership.caller(jonas))).status_code == 204
    after = await posts(membership, thread["thread_id"], anna)
    assert [(post["post_id"], post["deleted"], post["text"]) for post in after] == [
        (opening["post_id"], False, opening["text"]),
        (reply_id, True, None),
    ], "a deleted post keeps its place, without its text"
    assert (await membership.client.get(f"{url}/history", headers=membership.caller(anna))).json() == []
    listed = await membership.client.get("/threads", headers=membership.caller(jonas))
    assert thread["thread_id"] in [found["thread_id"] for found in listed.json()["threads"]]


async def test_threads_and_posts_are_read_a_page_at_a_time_each_once(membership: ServiceUnderTest) -> None:
    member = await join(membership)
    squad_id = await squad_that_selected(membership, member)
    started = [(await start(membership, member, kind="squad", squad_id=squad_id))["thread_id"] for _ in range(5)]
    thread_id = started[0]
    for number in range(6):
        written = await membership.client.post(
            f"/threads/{thread_id}/posts",
            json={"text": f"Post {number}", "language": "en"},
            headers=membership.caller(member),
        )
        assert written.status_code == 201, written.text

    async def every_page(path: str, items: str, **params: Any) -> list[list[str]]:
        pages: list[list[str]] = []
        cursor = None
        while True:
            query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
            response = await membership.client.get(path, params=query, headers=membership.caller(member))
            assert response.status_code == 200, response.text
            pages.append([item.get("post_id") or item["thread_id"] for item in response.json()[items]])
            if (cursor := response.json()["next_cursor"]) is None:
                return pages

    post_pages = await every_page(f"/threads/{thread_id}/posts", "posts")
    assert [len(page) for page in post_pages] == [2, 2, 2, 1], "the opening post and 6 replies, 2 a page"
    texts = [post["text"] for post in await posts(membership, thread_id, member)]
    assert texts[1:] == [f"Post {number}" for number in range(6)], "oldest first"
    thread_pages = await every_page("/threads", "threads", space="squad", squad_id=squad_id)
    # The thread with the replies was active last; the others newest first.
    assert [len(page) for page in thread_pages] == [2, 2, 1]
    assert [found for page in thread_pages for found in page] == [thread_id, *reversed(started[1:])]
    for forged in ("bm90IGEgY3Vyc29y", "W3siJG5lIjogbnVsbH0sICJ0LTEiXQ=="):
        response = await membership.client.get("/threads", params={"cursor": forged}, headers=membership.caller(member))
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


async def test_a_squad_thread_is_read_and_written_by_the_squads_members_only(membership: ServiceUnderTest) -> None:
    member, outsider = await join(membership), await join(membership)
    squad_id = await squad_that_selected(membership, member)

    thread = await start(membership, member, kind="squad", squad_id=squad_id)
    thread_id = thread["thread_id"]
    for path in (f"/threads/{thread_id}", f"/threads/{thread_id}/posts"):
        assert (await membership.client.get(path, headers=membership.caller(outsider))).status_code == 403
    in_squad = {"space": "squad", "squad_id": squad_id}
    assert (
        await membership.client.get("/threads", params=in_squad, headers=membership.caller(outsider))
    ).status_code == 403
    written = await membership.client.post(
        f"/threads/{thread_id}/posts", json={"text": "Hello", "language": "en"}, headers=membership.caller(outsider)
    )
    assert written.status_code == 403
    community = await membership.client.get("/threads", headers=membership.caller(outsider))
    assert thread_id not in [found["thread_id"] for found in community.json()["threads"]], (
        "not listed outside its space"
    )
    elsewhere = await membership.client.post(
        "/threads",
        json={"space": {"kind": "squad", "squad_id": squad_id}, "title": "Mine", "text": "x", "language": "en"},
        headers=membership.caller(outsider),
    )
    assert elsewhere.status_code == 403, "nobody starts a thread where they may not read"

    listed = await membership.client.get("/threads", params=in_squad, headers=membership.caller(member))
    assert [found["thread_id"] for found in listed.json()["threads"]] == [thread_id]
    moderated = await membership.client.get(f"/threads/{thread_id}/posts", headers=membership.caller(*MODERATOR))
    assert moderated.status_code == 200, "moderators read every space, to look at what is reported"


async def test_the_nas_network_is_for_coordinators_and_suspended_members_write_nowhere(
    membership: ServiceUnderTest,
) -> None:
    coordinator, member = await join(membership), await join(membership)
    response = await membership.client.post(
        "/threads",
        json={"space": {"kind": "nas_network"}, "title": "Country reports", "text": "Due in May.", "language": "en"},
        headers=membership.caller(coordinator, "member", "nas_coordinator"),
    )
    assert response.status_code == 201, response.text
    thread_id = response.json()["thread_id"]
    assert (await membership.client.get(f"/threads/{thread_id}", headers=membership.caller(member))).status_code == 403

    suspended = await membership.client.post(
        f"/members/{member}/suspend", json={"reason": "Spam."}, headers=membership.caller(*MODERATOR)
    )
    assert suspended.status_code == 200, suspended.text
    community_thread = await start(membership, coordinator)
    written = await membership.client.post(
        f"/threads/{community_thread['thread_id']}/posts",
        json={"text": "Buy now", "language": "en"},
        headers=membership.caller(member),
    )
    assert written.status_code == 403


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"space": {"kind": "squad"}, "title": "No squad", "text": "x", "language": "en"}, ["body", "space"]),
        ({"space": {"kind": "community"}, "title": "T", "text": "x", "language": "en"}, ["body", "title"]),
        ({"space": {"kind": "community"}, "title": "Title", "text": "", "language": "en"}, ["body", "text"]),
        ({"space": {"kind": "community"}, "title": "Title", "text": "x", "language": "xx"}, ["body", "language"]),
    ],
)
async def test_a_thread_that_breaks_the_rules_is_a_422_naming_the_field(
    membership: ServiceUnderTest, body: dict[str, Any], location: list[str]
) -> None:
    author = await join(membership)
    response = await membership.client.post("/threads", json=body, headers=membership.caller(author))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][: len(location)] == location


async def test_the_events_say_who_wrote_where_by_reference_never_what(
    membership: ServiceUnderTest, servers: Any
) -> None:
    author = await join(membership)
    thread = await start(membership, author)
    events = await published_events(servers, COMMUNITY, [thread["thread_id"]], at_least=2)
    assert {event.type for event in events} == {
        "eu.deh.community.thread.started.v1",
        "eu.deh.community.post.written.v1",
    }
    reference = await reference_of(membership, author)
    for event in events:
        validate_against_committed_schema(event)
        text = str(event.data)
        assert "KI-Hausaufgaben" not in text, "no text on Kafka"
        assert "Generative AI" not in text, "no title on Kafka"
        assert author not in text, "members by reference, never by account id"
    assert {event.data.get("started_by") or event.data.get("author") for event in events} == {reference}


async def test_an_erased_members_posts_stay_written_by_nobody(membership: ServiceUnderTest) -> None:
    author, reader = await join(membership), await join(membership)
    thread = await start(membership, author)
    reply = await membership.client.post(
        f"/threads/{thread['thread_id']}/posts",
        json={"text": "Bad advice", "language": "en"},
        headers=membership.caller(reader),
    )
    reported = await membership.client.post(
        f"/threads/{thread['thread_id']}/posts/{reply.json()['post_id']}/reports",
        json={"reason": "This advice is dangerous for pupils."},
        headers=membership.caller(author),
    )
    assert reported.status_code == 204, "the erased member reported a post too"
    erased = await membership.client.delete(f"/members/{author}", headers=membership.caller(*ADMIN))
    assert erased.status_code in (200, 204), erased.text
    opening, _ = await posts(membership, thread["thread_id"], reader)
    assert opening["author_id"] is None
    assert opening["text"] == "Wie gehen eure Schulen mit KI-Hausaufgaben um?", "the text stays"
    shown = (await membership.client.get(f"/threads/{thread['thread_id']}", headers=membership.caller(reader))).json()
    assert shown["started_by"] is None
    for collection in ("threads", "posts"):
        stored = [document async for document in membership.runtime.db[collection].find({})]
        assert author not in str(stored), f"the account id is gone from {collection}"


# Moderation --------------------------------------------------------------------------------------


async def test_a_reported_post_is_hidden_by_a_moderator_with_a_reason_and_restored(
    membership: ServiceUnderTest, servers: Any
) -> None:
    author, reader = await join(membership), await join(membership)
    thread = await start(membership, author)
    thread_id = thread["thread_id"]
    (opening,) = await posts(membership, thread_id, reader)
    post_url = f"/threads/{thread_id}/posts/{opening['post_id']}"
    reason = {"reason": "Advertises a paid course in every reply."}
    assert (
        await membership.client.post(f"{post_url}/reports", json=reason, headers=membership.caller(reader))
    ).status_code == 204
    again = await membership.client.post(f"{post_url}/reports", json=reason, headers=membership.caller(reader))
    assert again.status_code == 409, "one report per reader and post"
    queue = (await membership.client.get("/moderation/reports", headers=membership.caller(*MODERATOR))).json()
    (reported,) = [entry for entry in queue if entry["post"]["post_id"] == opening["post_id"]]
    assert [(report["reported_by"], report["reason"]) for report in reported["reports"]] == [(reader, reason["reason"])]
    assert (await membership.client.get("/moderation/reports", headers=membership.caller(reader))).status_code == 403

    own = await membership.client.post(f"{post_url}/hide", json=reason, headers=membership.caller(author, "moderator"))
    assert own.status_code == 403, "a moderator does not decide on their own post"
    hidden = await membership.client.post(f"{post_url}/hide", json=reason, headers=membership.caller(*MODERATOR))
    assert hidden.status_code == 200, hidden.text
    (seen,) = await posts(membership, thread_id, reader)
    assert (seen["hidden"], seen["text"]) == (True, None), "its place stays, its text is for moderators"
    (moderated,) = await posts(membership, thread_id, *MODERATOR)
    assert moderated["text"] == opening["text"]
    queue = (await membership.client.get("/moderation/reports", headers=membership.caller(*MODERATOR))).json()
    assert opening["post_id"] not in [entry["post"]["post_id"] for entry in queue], "the decision closes the reports"

    edit = {"text": "Now without the advertisement.", "language": "de"}
    while_hidden = await membership.client.put(post_url, json=edit, headers=membership.caller(author))
    assert while_hidden.status_code == 409, "not rewritten under the moderator's decision"
    restored = await membership.client.post(
        f"{post_url}/restore",
        json={"reason": "The author removed the advertisement."},
        headers=membership.caller(*MODERATOR),
    )
    assert restored.status_code == 200, restored.text
    (seen,) = await posts(membership, thread_id, reader)
    assert (seen["hidden"], seen["text"]) == (False, opening["text"])
    other = await join(membership)
    fresh = {"reason": "Still advertising, in the signature."}
    reported_again = await membership.client.post(f"{post_url}/reports", json=fresh, headers=membership.caller(other))
    assert reported_again.status_code == 204
    queue = (await membership.client.get("/moderation/reports", headers=membership.caller(*MODERATOR))).json()
    (reported,) = [entry for entry in queue if entry["post"]["post_id"] == opening["post_id"]]
    assert [report["reason"] for report in reported["reports"]] == [fresh["reason"]], "decided reports are closed"

    events = await published_events(servers, COMMUNITY, [thread_id], at_least=5)
    kinds = [event.type.rsplit(".", 2)[-2] for event in events]
    assert {"reported", "hidden", "restored"} <= set(kinds)
    for event in events:
        validate_against_committed_schema(event)
        assert reader not in str(event.data), "who reported stays here"


async def test_a_locked_thread_takes_no_more_posts(membership: ServiceUnderTest) -> None:
    author = await join(membership)
    thread = await start(membership, author)
    url = f"/threads/{thread['thread_id']}"
    locked = await membership.client.post(
        f"{url}/lock", json={"reason": "The question was answered."}, headers=membership.caller(*MODERATOR)
    )
    assert locked.status_code == 200, locked.text
    assert locked.json()["locked"] is True
    written = await membership.client.post(
        f"{url}/posts", json={"text": "One more thing", "language": "en"}, headers=membership.caller(author)
    )
    assert written.status_code == 409
    (opening,) = await posts(membership, thread["thread_id"], author)
    rewritten = await membership.client.put(
        f"{url}/posts/{opening['post_id']}",
        json={"text": "Changed", "language": "en"},
        headers=membership.caller(author),
    )
    assert rewritten.status_code == 409, "nor are its posts rewritten"
    unlocked = await membership.client.post(
        f"{url}/unlock", json={"reason": "A follow-up question was asked."}, headers=membership.caller(*MODERATOR)
    )
    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json()["locked"] is False
    written = await membership.client.post(
        f"{url}/posts", json={"text": "One more thing", "language": "en"}, headers=membership.caller(author)
    )
    assert written.status_code == 201, written.text
    assert (await membership.client.get(f"{url}/posts", headers=membership.caller(author))).status_code == 200


async def test_a_member_writes_at_most_30_posts_an_hour(membership: ServiceUnderTest) -> None:
    author = await join(membership)
    thread = await start(membership, author)
    url = f"/threads/{thread['thread_id']}/posts"
    for number in range(29):  # the opening post was the first
        written = await membership.client.post(
            url, json={"text": f"Point {number}", "language": "en"}, headers=membership.caller(author)
        )
        assert written.status_code == 201, written.text
    refused = await membership.client.post(
        url, json={"text": "Too many", "language": "en"}, headers=membership.caller(author)
    )
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0


async def test_readers_react_to_a_post_once_per_kind_and_follow_threads(membership: ServiceUnderTest) -> None:
    author, reader = await join(membership), await join(membership)
    thread = await start(membership, author)
    thread_id = thread["thread_id"]
    (opening,) = await posts(membership, thread_id, reader)
    url = f"/threads/{thread_id}/posts/{opening['post_id']}/reactions"
    for who, kind in ((reader, "insightful"), (reader, "insightful"), (author, "insightful"), (reader, "thanks")):
        reacted = await membership.client.put(f"{url}/{kind}", headers=membership.caller(who))
        assert reacted.status_code == 200, reacted.text
    assert reacted.json()["reactions"] == {"insightful": 2, "thanks": 1}, "each reader's once per kind"
    taken_back = await membership.client.delete(f"{url}/thanks", headers=membership.caller(reader))
    assert taken_back.json()["reactions"] == {"insightful": 2}
    assert (await membership.client.put(f"{url}/shrug", headers=membership.caller(reader))).status_code == 422

    assert (
        await membership.client.put(f"/threads/{thread_id}/followers/mine", headers=membership.caller(reader))
    ).status_code == 204
    followed = await membership.client.get("/threads/followed/mine", headers=membership.caller(reader))
    assert [found["thread_id"] for found in followed.json()["threads"]] == [thread_id]
    assert (
        await membership.client.delete(f"/threads/{thread_id}/followers/mine", headers=membership.caller(reader))
    ).status_code == 204
    assert (await membership.client.get("/threads/followed/mine", headers=membership.caller(reader))).json()[
        "threads"
    ] == []


async def test_a_members_export_holds_their_threads_posts_and_reports_but_not_who_reported_them(
    membership: ServiceUnderTest,
) -> None:
    author, reader = await join(membership), await join(membership)
    thread = await start(membership, author)
    (opening,) = await posts(membership, thread["thread_id"], reader)
    reply = await membership.client.post(
        f"/threads/{thread['thread_id']}/posts",
        json={"text": "I disagree.", "language": "en"},
        headers=membership.caller(reader),
    )
    base = f"/threads/{thread['thread_id']}/posts"
    reason = {"reason": "This is not on the thread's subject."}
    await membership.client.post(f"{base}/{opening['post_id']}/reports", json=reason, headers=membership.caller(reader))
    await membership.client.post(
        f"{base}/{reply.json()['post_id']}/reports", json=reason, headers=membership.caller(author)
    )

    exported = (await membership.client.get(f"/members/{author}/export", headers=membership.caller(author))).json()
    assert [thread_["title"] for thread_ in exported["threads"]] == [thread["title"]]
    assert [post["text"] for post in exported["posts"]] == [opening["text"]]
    assert reader not in str(exported["posts"]), "who reported their post is someone else's data"
    assert [report["reason"] for report in exported["reports_made"]] == [reason["reason"]]


async def test_a_member_who_asks_for_it_has_their_posts_deleted_with_their_erasure(
    membership: ServiceUnderTest,
) -> None:
    author, reader = await join(membership), await join(membership)
    thread = await start(membership, author)
    erased = await membership.client.delete(
        f"/members/{author}", params={"posts": "delete"}, headers=membership.caller(author)
    )
    assert erased.status_code == 204, erased.text
    (opening,) = await posts(membership, thread["thread_id"], reader)
    assert (opening["deleted"], opening["text"], opening["author_id"]) == (True, None, None)
    stored = [document async for document in membership.runtime.db.posts.find({"thread_id": thread["thread_id"]})]
    assert "KI-Hausaufgaben" not in str(stored), "the text is gone, not only hidden"
