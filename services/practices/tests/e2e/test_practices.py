"""Practices end to end: submission over HTTP and Kafka, review, multilingual search, the index
rebuild, reactions to other services, link checking and staleness, on the real servers."""

from __future__ import annotations

import asyncio
import base64
import http.server
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hub_testing import (
    ServiceUnderTest,
    active_in_practices,
    erase,
    person_record,
    produce,
    published_events,
    reference_of,
    validate_against_committed_schema,
)
from practice_steps import MODERATOR, SCORES, found, metadata, publish, search, submit

from deh_contracts import new_event, to_kafka
from deh_contracts.catalogue.events import HackathonSubmissionMade
from deh_contracts.catalogue.membership import SquadOutputRecorded
from deh_contracts.registry import PRACTICES
from deh_platform import operations
from deh_platform.idempotency import derived_id
from deh_platform.query_text import MAX_TERMS
from deh_practices.domain.search import encode_cursor
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.e2e

ADMIN = ("admin-1", "admin")


async def test_highlights_show_an_authors_markup_escaped(practices: ServiceUnderTest) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    marked_up = await submit(
        practices,
        "author-1",
        metadata(
            tag,
            title={"en": "Robotics <script>alert(1)</script> & coding"},
            summary={"en": "Robots after school."},
            languages=["en"],
        ),
    )
    await publish(practices, marked_up)
    hit = (await found(practices, {marked_up}, q="robotics", topics=[tag]))["hits"][0]
    (fragment,) = hit["highlights"]["title.en"]
    assert fragment == "<em>Robotics</em> &lt;script&gt;alert(1)&lt;&#x2F;script&gt; &amp; coding"


async def test_a_practice_is_submitted_reviewed_published_and_found_by_inflected_words_in_two_languages(
    practices: ServiceUnderTest, servers: ServerAddresses
) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    coding = await submit(practices, "author-1", metadata(tag))
    adults = await submit(
        practices,
        "author-2",
        metadata(
            tag,
            title={"lv": "Digitālās prasmes pieaugušajiem", "en": "Digital skills for adults"},
            summary={"lv": "Kursi bibliotēkās"},
            languages=["lv", "en"],
            countries=["LV"],
            sectors=["adult_learning"],
            isced_levels=[],
        ),
    )
    draft = await submit(
        practices,
        "author-1",
        metadata(tag, title={"en": "Draft about schools"}, summary={"en": "not yet"}, languages=["en"]),
        submit=False,
    )
    await publish(practices, coding)
    await publish(practices, adults)

    german = await found(practices, {coding}, q="Schule", topics=[tag])
    assert any("<em>Schulen</em>" in fragment for fragment in german["hits"][0]["highlights"]["title.de"])
    await found(practices, {coding}, q="szkoła", topics=[tag])
    # Typed without diacritics: found, and highlighted as written.
    polish = await found(practices, {coding}, q="szkolach", topics=[tag])
    assert any("<em>szkołach</em>" in fragment for fragment in polish["hits"][0]["highlights"]["title.pl.folded"])
    await found(practices, {coding}, q="run club", topics=[tag])
    await found(practices, {adults}, q="prasme", topics=[tag])

    everything = await found(practices, {coding, adults}, topics=[tag])
    assert everything["total"] == 2
    assert everything["facets"]["sectors"] == {"school": 1, "adult_learning": 1}
    assert everything["facets"]["countries"] == {"PL": 1, "DE": 1, "LV": 1}
    assert everything["facets"]["languages"] == {"en": 2, "de": 1, "pl": 1, "lv": 1}
    assert everything["facets"]["digcomp"] == {"3.4": 2}
    filtered = await found(practices, {adults}, topics=[tag], sectors=["adult_learning"])
    assert filtered["total"] == 1
    assert filtered["facets"]["countries"] == {"LV": 1}, "across facets, choices combine"
    assert filtered["facets"]["sectors"] == {"school": 1, "adult_learning": 1}, (
        "within a facet, the other values keep their counts: what choosing them instead would give"
    )
    both = await found(practices, {coding, adults}, topics=[tag], sectors=["adult_learning", "school"])
    assert both["facets"]["sectors"] == {"school": 1, "adult_learning": 1}
    in_latvia = await found(practices, {adults}, topics=[tag], sectors=["adult_learning", "school"], countries=["LV"])
    assert in_latvia["facets"]["sectors"] == {"adult_learning": 1}, "the countries chosen bind the sectors' counts"
    assert in_latvia["facets"]["countries"] == {"PL": 1, "DE": 1, "LV": 1}

    assert (await practices.client.get(f"/practices/{draft}")).status_code == 404
    assert (await practices.client.get(f"/practices/{draft}", headers=practices.caller("author-1"))).status_code == 200
    mine = await found(practices, {coding, draft}, headers=practices.caller("author-1"), scope="mine", topics=[tag])
    assert mine["total"] == 2

    events = await published_events(servers, PRACTICES, [coding], at_least=3)
    assert [event.type.split(".")[-2] for event in events] == ["submitted", "review-recorded", "published"]
    for event in events:
        validate_against_committed_schema(event)


async def test_pages_follow_each_other_without_gaps_in_date_order(practices: ServiceUnderTest) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    ids = [
        await submit(
            practices,
            "author-3",
            metadata(tag, title={"en": f"Open textbooks {n}"}, summary={"en": "x"}, languages=["en"]),
        )
        for n in range(6)
    ]
    for practice_id in ids:
        await publish(practices, practice_id)
    await found(practices, set(ids), topics=[tag], size=50)

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        paging: dict[str, Any] = {"cursor": cursor} if cursor else {}
        page = await search(practices, topics=[tag], sort="date", size=3, **paging)
        pages += 1
        seen += [hit["id"] for hit in page["hits"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen))
    assert seen == list(reversed(ids)), "newest first"
    assert pages == 2, "a last page that ends exactly at the last hit has no cursor to an empty page"


async def test_the_review_workflow_enforces_its_rules(practices: ServiceUnderTest, servers: ServerAddresses) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    practice_id = await submit(practices, "author-4", metadata(tag))
    await practices.client.post(
        f"/practices/{practice_id}/reviewer", json={"reviewer_id": "reviewer-2"}, headers=practices.caller(*MODERATOR)
    )

    stranger = await practices.client.post(
        f"/practices/{practice_id}/reviews",
        json={"scores": SCORES, "decision": "publish"},
        headers=practices.caller("reviewer-9", "member", "reviewer"),
    )
    assert stranger.status_code == 403
    without_the_role = await practices.client.post(
        f"/practices/{practice_id}/reviews",
        json={"scores": SCORES, "decision": "publish"},
        headers=practices.caller("reviewer-2"),
    )
    assert without_the_role.status_code == 403, "the assigned reviewer's token must give the reviewer role"
    incomplete = await practices.client.post(
        f"/practices/{practice_id}/reviews",
        json={"scores": {"relevance": 9}, "decision": "request_changes"},
        headers=practices.caller("reviewer-2", "member", "reviewer"),
    )
    assert incomplete.status_code == 422
    assert "missing scores" in str(incomplete.json()["detail"])
    self_review = await practices.client.post(
        f"/practices/{practice_id}/reviewer", json={"reviewer_id": "author-4"}, headers=practices.caller(*MODERATOR)
    )
    assert self_review.status_code == 409
    by_member = await practices.client.post(
        f"/practices/{practice_id}/reviewer", json={"reviewer_id": "x"}, headers=practices.caller("author-4")
    )
    assert by_member.status_code == 403

    changes = await practices.client.post(
        f"/practices/{practice_id}/reviews",
        json={"scores": SCORES, "decision": "request_changes", "comments": "Add evidence of impact."},
        headers=practices.caller("reviewer-2", "member", "reviewer"),
    )
    assert changes.json()["status"] == "changes_requested"
    edited = await practices.client.put(
        f"/practices/{practice_id}",
        json={"metadata": metadata(tag, topics=[tag, "evidence"]), "body": "Now with results."},
        headers=practices.caller("author-4"),
    )
    assert edited.json()["version"] == 2
    assert (
        await practices.client.post(f"/practices/{practice_id}/submit", headers=practices.caller("author-4"))
    ).json()["status"] == "submitted"
    versions = (
        await practices.client.get(f"/practices/{practice_id}/versions", headers=practices.caller("author-4"))
    ).json()
    assert [version["version"] for version in versions] == [1, 2]

    await publish(practices, practice_id, reviewer="reviewer-2")
    archived = await practices.client.post(
        f"/practices/{practice_id}/archive", json={"reason": "superseded"}, headers=practices.caller("author-4")
    )
    assert archived.json()["status"] == "archived"
    again = await practices.client.post(
        f"/practices/{practice_id}/archive", json={"reason": "superseded"}, headers=practices.caller("author-4")
    )
    assert again.status_code == 409
    assert (await practices.client.get("/practices/unknown")).status_code == 404

    wrong_language = metadata(tag, title={"fr": "Clubs de code"}, languages=["en"])
    refused = await practices.client.post(
        "/practices", json={"metadata": wrong_language}, headers=practices.caller("author-4")
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][:3] == ["body", "metadata", "title"]
    invalid = await practices.client.post(
        "/practices",
        json={"metadata": {**metadata(tag), "countries": ["XX"], "licence": 7}},
        headers=practices.caller("author-4"),
    )
    assert invalid.status_code == 422
    assert {tuple(error["loc"][:4]) for error in invalid.json()["detail"]} >= {
        ("body", "metadata", "countries", 0),
        ("body", "metadata", "licence"),
    }

    types = [
        event.type.split(".")[-2] for event in await published_events(servers, PRACTICES, [practice_id], at_least=7)
    ]
    assert types == ["submitted", "review-recorded", "updated", "submitted", "review-recorded", "published", "archived"]


async def test_user_input_cannot_break_or_overload_a_search(practices: ServiceUnderTest) -> None:
    for hostile in [
        'title:(a OR b) AND "unclosed',
        "*:*",
        "a~10 b^100 [x TO y]",
        "\\",
        '{"query": 1}',
        "SELECT * FROM practices",
        " ".join(f"word{n}" for n in range(MAX_TERMS)),  # as many words as a search takes, all wanted
        " ".join(f"word{n} OR -x{n}" for n in range(MAX_TERMS // 2)),
        "-".join(["e"] * MAX_TERMS),
        "教育" * (MAX_TERMS // 2),
    ]:
        response = await practices.client.get("/search", params={"q": hostile})
        assert response.status_code == 200, hostile
    for too_many in (" ".join(["word"] * (MAX_TERMS + 1)), "教" * (MAX_TERMS + 1)):
        response = await practices.client.get("/search", params={"q": too_many})
        assert response.status_code == 422, too_many
        assert response.json()["detail"][0]["loc"] == ["query", "q"]
    assert (await practices.client.get("/search", params={"size": 10_000})).status_code == 422
    assert (await practices.client.get("/search", params={"q": "x" * 5000})).status_code == 422
    assert (await practices.client.get("/search", params={"cursor": "bm90IGEgY3Vyc29y"})).status_code == 422
    forged = base64.urlsafe_b64encode(b'["x", "y"]').decode()  # well-formed, wrong kinds: was a 500
    for order in ("date", "relevance"):
        response = await practices.client.get("/search", params={"cursor": forged, "sort": order, "q": "school"})
        assert response.status_code == 422, order
    for unknown in ({"result_type": "poem"}, {"origin": "somewhere"}, {"topics": "x" * 200}):
        assert (await practices.client.get("/search", params=unknown)).status_code == 422, unknown
    assert (await practices.client.get("/search", params={"countries": "XX"})).status_code == 422
    assert (await practices.client.get("/search", params={"scope": "mine"})).status_code == 422


# The index rebuild -------------------------------------------------------------------------------------------


async def test_a_rebuild_under_concurrent_writes_loses_no_document(practices: ServiceUnderTest) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    index = practices.app.state.index
    before = [
        await submit(
            practices, "author-5", metadata(tag, title={"en": f"Before {n}"}, summary={"en": "x"}, languages=["en"])
        )
        for n in range(30)
    ]
    live_before = await index.live_index()

    async def keep_writing() -> list[str]:
        written = []
        for n in range(30):
            written.append(
                await submit(
                    practices,
                    "author-5",
                    metadata(tag, title={"en": f"During {n}"}, summary={"en": "x"}, languages=["en"]),
                )
            )
            edit = {
                "metadata": metadata(tag, title={"en": f"Edited {n}"}, summary={"en": "x"}, languages=["en"]),
                "body": "changed",
            }
            await practices.client.put(f"/practices/{before[n]}", json=edit, headers=practices.caller("author-5"))
        return written

    progress: list[tuple[int, int]] = []
    _, new_index = await asyncio.gather(
        keep_writing(), index.rebuild(progress=lambda done, total: progress.append((done, total)))
    )

    assert new_index != live_before
    assert await index.live_index() == new_index
    assert progress[-1][0] == progress[-1][1]
    store = practices.app.state.store

    async def index_matches_mongo() -> bool:
        if await store.practices.count_documents({"search_pending": True}):
            return False
        await index.search.indices.refresh(index=index.alias)
        hits = (
            await index.search.search(
                index=index.alias,
                body={"query": {"terms": {"topics": [tag]}}, "size": 100, "_source": ["version", "title"]},
            )
        )["hits"]["hits"]
        indexed = {hit["_id"]: (hit["_source"]["version"], hit["_source"]["title"]["en"]) for hit in hits}
        stored = {
            document["_id"]: (document["version"], document["metadata"]["title"]["en"])
            async for document in store.practices.find({"metadata.topics": tag})
        }
        return indexed == stored and len(stored) == 60

    await eventually(index_matches_mongo, within=30, interval=0.5)
    assert all(
        title.startswith("Edited")
        for title in [(await store.get(practice_id))["metadata"]["title"]["en"] for practice_id in before]
    )


# Reactions to other services -------------------------------------------------------------------------------


async def test_authors_follow_membership_and_hackathons_and_squads_become_practices(
    practices: ServiceUnderTest, servers: ServerAddresses
) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    author = f"m-{tag}"
    now = datetime.now(UTC)
    await active_in_practices(practices, servers, author)
    await produce(servers, person_record(author, "active", 2, display_name="Kadri Tamm"))
    practice_id = await submit(practices, author, metadata(tag))

    async def author_named(name: str | None) -> bool:
        document = (
            await practices.client.get(f"/practices/{practice_id}", headers=practices.caller(*MODERATOR))
        ).json()
        return bool(document["authors"].get(author, "absent") == name)

    await eventually(lambda: author_named("Kadri Tamm"))
    await produce(servers, person_record(author, "active", 3))
    await eventually(lambda: author_named(None))
    await erase(servers, author)
    await eventually(lambda: author_named("absent"))
    anonymised = (await practices.client.get(f"/practices/{practice_id}", headers=practices.caller(*MODERATOR))).json()
    assert anonymised["author_names"] == ["(erased member)"]

    async def nowhere() -> bool:
        stored = await practices.runtime.db.practices.find_one({"_id": practice_id})
        return author not in str(stored) and "Kadri" not in str(stored)

    await eventually(nowhere)  # not as creator nor editor in the versions either

    await active_in_practices(practices, servers, "hacker-1", "hacker-2", "expert-1")
    submission = HackathonSubmissionMade(
        event_id="hack-1",
        team_id=f"team-{tag}",
        submission_id=f"sub-{tag}",
        title="Accessible quiz app",
        summary="A quiz app for blind pupils.",
        member_ids=[reference_of("hacker-1"), reference_of("hacker-2")],
        submitted_at=now,
    )
    output = SquadOutputRecorded(
        squad_id=f"squad-{tag}",
        output_id=f"out-{tag}",
        title="AI in VET",
        summary="A white paper.",
        kind="white_paper",
        language="en",
        # A late event that names the erased author: they are left out.
        author_ids=[reference_of("expert-1"), reference_of(author)],
        recorded_at=now,
    )
    hackathon_event = to_kafka(new_event(submission, source="/deh/events"))
    await produce(servers, hackathon_event, hackathon_event, to_kafka(new_event(output, source="/deh/membership")))

    async def created(practice: str, caller: str) -> dict[str, Any] | None:
        response = await practices.client.get(f"/practices/{practice}", headers=practices.caller(caller))
        return response.json() if response.status_code == 200 else None

    draft = await eventually(lambda: created(derived_id("hackathon", f"sub-{tag}"), "hacker-2"))
    assert draft["status"] == "draft"
    assert draft["metadata"]["origin"] == {"kind": "hackathon", "reference": f"team-{tag}", "partner": None}
    white_paper = await eventually(lambda: created(derived_id("squad-output", f"out-{tag}"), "expert-1"))
    assert white_paper["status"] == "submitted"
    assert list(white_paper["authors"]) == ["expert-1"]
    assert white_paper["metadata"]["result_type"] == "white_paper"


# Link checking and staleness ------------------------------------------------------------------------------------


@pytest.fixture
def link_server() -> Iterator[str]:
    class Links(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_response(200 if self.path == "/ok" else 404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Links)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def link_check(practices: ServiceUnderTest) -> dict[str, Any]:
    """Ask for a link check and wait for the job to report it."""
    admin = practices.caller(*ADMIN)
    assert (await practices.client.post("/maintenance/link-check", headers=admin)).status_code == 202

    async def reported() -> dict[str, Any] | None:
        state: dict[str, Any] = (await practices.client.get("/maintenance/link-check", headers=admin)).json()
        done = state.get("finished_at") and state["finished_at"] > state["asked_at"]
        return state if done else None

    return await eventually(reported)


async def test_dead_links_are_reported_once_and_old_entries_go_back_to_review(
    practices: ServiceUnderTest, servers: ServerAddresses, link_server: str
) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    practice_id = await submit(practices, "author-6", metadata(tag, links=[f"{link_server}/ok", f"{link_server}/gone"]))
    await publish(practices, practice_id)

    first, second = await link_check(practices), await link_check(practices)

    assert (first["checked"], first["broken"], first["newly_broken"]) == (2, 1, 1)
    assert second["newly_broken"] == 0
    broken = [
        event
        for event in await published_events(servers, PRACTICES, [practice_id], at_least=4)
        if event.type.endswith("link-broken.v1")
    ]
    assert [event.data["url"] for event in broken] == [f"{link_server}/gone"]
    assert broken[0].data["status_code"] == 404
    assert (await practices.client.get(f"/practices/{practice_id}")).json()["broken_links"] == [f"{link_server}/gone"]
    assert (
        await practices.client.post("/maintenance/link-check", headers=practices.caller("author-6"))
    ).status_code == 403
    assert (
        await practices.client.get("/maintenance/link-check", headers=practices.caller("author-6"))
    ).status_code == 403

    store = practices.app.state.store
    await store.practices.update_one(
        {"_id": practice_id}, {"$set": {"last_reviewed_at": datetime.now(UTC) - timedelta(days=3 * 365)}}
    )
    flagged = (await practices.client.post("/maintenance/staleness", headers=practices.caller(*ADMIN))).json()
    assert flagged == {"flagged": 1}
    queue = (await practices.client.get("/review-queue", headers=practices.caller(*MODERATOR))).json()
    assert {"id": practice_id, "status": "published", "stale": True, "reviewer_id": "reviewer-1"} in queue
    await publish(practices, practice_id)
    assert (await practices.client.get(f"/practices/{practice_id}")).json()["stale"] is False


async def test_a_practice_opensearch_refuses_is_set_aside_and_the_others_are_indexed(
    practices: ServiceUnderTest, servers: ServerAddresses
) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    refused = await submit(practices, "author-1", metadata(tag))
    accepted = await submit(practices, "author-1", metadata(tag))
    for practice_id in (refused, accepted):
        await publish(practices, practice_id)
    await found(practices, {refused, accepted}, topics=[tag])
    # A keyword longer than Lucene's 32,766-byte term limit, which OpenSearch refuses: the API's
    # limits no longer let one in, but a document stored before them (or by hand) can hold one.
    huge_licence = {"metadata.licence": "CC-BY-4.0 " + "x" * 40_000, "search_pending": True}
    await practices.runtime.db.practices.update_one({"_id": refused}, {"$set": huge_licence, "$inc": {"revision": 1}})
    practices.app.state.index.notify([refused])
    await submit(practices, "author-1", metadata(tag))  # and a later practice is indexed as usual

    async def set_aside() -> list[dict[str, Any]] | None:
        database = practices.runtime.db.name
        items = [
            item for item in await operations.set_aside(servers.mongo_url, database) if item["document"] == refused
        ]
        return items or None

    items = await eventually(set_aside)
    assert {item["kind"] for item in items} == {"search index"}
    assert all("max_bytes_length_exceeded_exception" in item["reason"] or "immense" in item["reason"] for item in items)
    store_document = await practices.runtime.db.practices.find_one({"_id": refused})
    assert store_document is not None
    assert "search_pending" not in store_document, "the indexer does not try it again and again"


async def test_only_active_members_submit_and_review(practices: ServiceUnderTest, servers: ServerAddresses) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    stranger, suspended = f"never-applied-{tag}", f"m-{tag}"
    body = {"metadata": metadata(tag), "body": "Step one.", "submit": True}
    assert (await practices.client.post("/practices", json=body, headers=practices.caller(stranger))).status_code == 403

    await active_in_practices(practices, servers, suspended)
    practice_id = await submit(practices, suspended, metadata(tag))
    await produce(servers, person_record(suspended, "suspended", 2))

    async def refused() -> bool:
        answer = await practices.client.post("/practices", json=body, headers=practices.caller(suspended))
        return answer.status_code == 403

    await eventually(refused)
    edit = {"metadata": metadata(tag), "body": "Step two."}
    edited = await practices.client.put(f"/practices/{practice_id}", json=edit, headers=practices.caller(suspended))
    assert edited.status_code == 403
    assigned = await practices.client.post(
        f"/practices/{practice_id}/reviewer", json={"reviewer_id": stranger}, headers=practices.caller(*MODERATOR)
    )
    assert assigned.status_code == 422
    assert assigned.json()["detail"][0]["loc"] == ["body", "reviewer_id"]


async def test_the_pages_of_a_search_show_the_library_as_it_was_at_the_first_page(
    practices: ServiceUnderTest,
) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"

    async def published(title: str) -> str:
        practice_id = await submit(
            practices, "author-1", metadata(tag, title={"en": title}, summary={"en": "Pairs."}, languages=["en"])
        )
        await publish(practices, practice_id)
        return practice_id

    before = {await published(f"Peer mentoring for new teachers, round {n}") for n in range(5)}
    await found(practices, before, q="mentoring", topics=[tag], size=50)
    page = await search(practices, q="mentoring", topics=[tag], size=2)
    seen = [hit["id"] for hit in page["hits"]]

    # Meanwhile, practices that match better are published and searchable.
    after = {await published("Mentoring: mentoring mentors who mentor") for _ in range(2)}
    await found(practices, before | after, q="mentoring", topics=[tag], size=50)
    while page["next_cursor"]:
        page = await search(practices, q="mentoring", topics=[tag], size=2, cursor=page["next_cursor"])
        seen += [hit["id"] for hit in page["hits"]]

    assert sorted(seen) == sorted(before), "each practice of the first page's library once, none published since"
    ended = await practices.client.get(
        "/search", params={"q": "mentoring", "cursor": encode_cursor([1.0, "p-1"], "bm90IGEgcG9pbnQgaW4gdGltZQ==")}
    )
    assert ended.status_code == 422
    assert ended.json()["detail"][0]["loc"] == ["query", "cursor"]


async def test_a_licence_stored_as_free_text_becomes_noassertion_and_the_practice_reads_again(
    practices: ServiceUnderTest,
) -> None:
    practice_id = await submit(practices, "author-1", metadata(f"t{uuid.uuid4().hex[:8]}"))
    stored = practices.runtime.db.practices
    await stored.update_one({"_id": practice_id}, {"$set": {"metadata.licence": "to be chosen by the team"}})

    assert await practices.app.state.store.licences_as_spdx() >= 1  # other tests may have left one

    again = await practices.client.get(f"/practices/{practice_id}", headers=practices.caller("author-1"))
    assert again.json()["metadata"]["licence"] == "NOASSERTION"
    refused = await practices.client.post(
        "/practices", json={"metadata": {**metadata("x"), "licence": "CC BY"}}, headers=practices.caller("author-1")
    )
    assert refused.json()["detail"][0]["loc"] == ["body", "metadata", "licence"]


async def test_target_groups_and_accessibility_stored_as_free_text_keep_the_terms_they_name(
    practices: ServiceUnderTest,
) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    practice_id = await submit(practices, "author-1", metadata(tag))
    await publish(practices, practice_id)
    edited = await practices.client.put(
        f"/practices/{practice_id}",
        json={"metadata": metadata(tag), "body": "Next."},
        headers=practices.caller("author-1"),
    )
    assert edited.status_code == 200, edited.text  # a published practice with a next version
    free_text = {
        "target_groups": ["Teachers", "school leaders", "everyone"],
        "accessibility_features": ["subtitles", "easy read"],
    }
    stored = practices.runtime.db.practices
    where = ("metadata", "public.metadata", "versions.0.metadata", "versions.1.metadata")
    await stored.update_one(
        {"_id": practice_id}, {"$set": {f"{place}.{k}": v for place in where for k, v in free_text.items()}}
    )

    assert await practices.app.state.store.vocabularies_kept() >= 1

    for reader in (practices.caller("author-1"), {}):  # the author's view, and the public's
        again = (await practices.client.get(f"/practices/{practice_id}", headers=reader)).json()
        assert again["metadata"]["target_groups"] == ["teacher", "administrator"]
        assert again["metadata"]["accessibility_features"] == ["captions"]
    history = await stored.find_one({"_id": practice_id}, {"versions.metadata": 1})
    assert history is not None
    assert [version["metadata"]["target_groups"] for version in history["versions"]] == [
        ["teacher", "administrator"]
    ] * 2
    refused = await practices.client.post(
        "/practices",
        json={"metadata": {**metadata("x"), "target_groups": ["teachers"]}},
        headers=practices.caller("author-1"),
    )
    assert refused.json()["detail"][0]["loc"] == ["body", "metadata", "target_groups", 0]
