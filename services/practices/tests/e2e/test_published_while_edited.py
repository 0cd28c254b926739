"""A published practice stays public, unchanged, while its authors edit its next version and
that version is reviewed; publishing the new version replaces it, rejecting it leaves the
published one as it was. On the real servers, through the HTTP API and the search index."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hub_testing import ServiceUnderTest
from practice_steps import MODERATOR, SCORES, found, metadata, publish, search, submit

from deh_stack.testing import eventually

pytestmark = pytest.mark.e2e


def titled(tag: str, title: str) -> dict[str, Any]:
    return metadata(tag, title={"en": title}, summary={"en": "After school."}, languages=["en"])


async def edit(hub: ServiceUnderTest, practice_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await hub.client.put(
        f"/practices/{practice_id}", json={"metadata": body, "body": "A new version."}, headers=hub.caller("author-3")
    )
    assert response.status_code == 200, response.text
    edited: dict[str, Any] = response.json()
    return edited


async def indexed(hub: ServiceUnderTest, practice_id: str) -> None:
    """Wait until the index holds the practice's last change (the indexer clears its mark once
    written), then make it searchable now rather than at the next refresh."""

    async def clear() -> bool:
        stored = await hub.runtime.db.practices.find_one({"_id": practice_id}, {"search_pending": 1})
        return stored is not None and "search_pending" not in stored

    await eventually(clear, within=20, interval=0.2)
    index = hub.app.state.index
    await index.search.indices.refresh(index=index.alias)


async def test_the_published_version_stays_public_until_the_next_one_is_published(
    practices: ServiceUnderTest,
) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    practice_id = await submit(practices, "author-3", titled(tag, "Coding clubs in village halls"))
    await publish(practices, practice_id)
    await found(practices, {practice_id}, q="village", topics=[tag])

    working = await edit(practices, practice_id, titled(tag, "Robotics clubs in libraries"))
    assert (working["status"], working["version"]) == ("submitted", 2)
    await indexed(practices, practice_id)

    public = (await practices.client.get(f"/practices/{practice_id}")).json()
    assert (public["status"], public["version"], public["metadata"]["title"]) == (
        "published",
        1,
        {"en": "Coding clubs in village halls"},
    )
    assert (await search(practices, q="village", topics=[tag]))["total"] == 1, "still found as published"
    assert (await search(practices, q="robotics", topics=[tag]))["total"] == 0, "the draft is nobody's search"
    stranger = (
        await practices.client.get(f"/practices/{practice_id}/versions", headers=practices.caller("x-1"))
    ).json()
    assert [entry["version"] for entry in stranger] == [1], "nor are its unpublished versions"
    author = (await practices.client.get(f"/practices/{practice_id}", headers=practices.caller("author-3"))).json()
    assert (author["status"], author["version"]) == ("submitted", 2), "the authors see what they work on"

    await publish(practices, practice_id, reviewer="reviewer-3")
    await found(practices, {practice_id}, q="robotics", topics=[tag])
    assert (await search(practices, q="village", topics=[tag]))["total"] == 0
    public = (await practices.client.get(f"/practices/{practice_id}")).json()
    assert (public["version"], public["metadata"]["title"]) == (2, {"en": "Robotics clubs in libraries"})
    stranger = (
        await practices.client.get(f"/practices/{practice_id}/versions", headers=practices.caller("x-1"))
    ).json()
    assert [entry["version"] for entry in stranger] == [1, 2]
    reviewer_finds = await search(practices, practices.caller("reviewer-3"), scope="mine", topics=[tag])
    assert [hit["id"] for hit in reviewer_finds["hits"]] == [practice_id]


async def test_a_rejected_new_version_leaves_the_published_one_as_it_was(practices: ServiceUnderTest) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    practice_id = await submit(practices, "author-3", titled(tag, "Coding clubs in village halls"))
    await publish(practices, practice_id)
    await edit(practices, practice_id, titled(tag, "Coding clubs, advertising inside"))
    await practices.client.post(
        f"/practices/{practice_id}/reviewer", json={"reviewer_id": "reviewer-3"}, headers=practices.caller(*MODERATOR)
    )

    rejected = await practices.client.post(
        f"/practices/{practice_id}/reviews",
        json={"scores": SCORES, "decision": "reject", "comments": "Advertising."},
        headers=practices.caller("reviewer-3", "member", "reviewer"),
    )

    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["version"]) == ("published", 1)
    public = (await practices.client.get(f"/practices/{practice_id}")).json()
    assert public["metadata"]["title"] == {"en": "Coding clubs in village halls"}
    assert public["reviewer_id"] == "reviewer-1", "as published: its review, not the rejection"
    stranger = practices.caller("x-1")
    history = (await practices.client.get(f"/practices/{practice_id}/versions", headers=stranger)).json()
    assert [entry["version"] for entry in history] == [1], "the rejected version is nobody's but its people's"
    await indexed(practices, practice_id)
    assert (await search(practices, q="village", topics=[tag]))["total"] == 1
    assert (await search(practices, q="advertising", topics=[tag]))["total"] == 0
    again = await edit(practices, practice_id, titled(tag, "Coding clubs in village halls and libraries"))
    assert again["version"] == 3, "the rejected version keeps its number in the history"
