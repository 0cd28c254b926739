"""The practices service's copy of its authors' names converges whatever the interleaving: a name
or an erasure that arrives while a practice is being created reaches that practice, and an older
copy (redelivered or re-driven) never overwrites a newer one nor brings an erased member back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.partitioner import murmur2
from hub_samples import practice_metadata
from hub_testing import ServiceUnderTest, erase, from_membership, produce, reference_of

from deh_contracts.catalogue.membership import MemberPerson
from deh_contracts.registry import PEOPLE
from deh_practices.adapters.store import PracticeStore
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.e2e

MODERATOR = ("moderator-1", "moderator")
NOW = datetime.now(UTC)


def person(member_id: str, name: str | None = None) -> MemberPerson:
    """The member's record on membership's people topic: active, with the name they show (None
    when hidden)."""
    return MemberPerson(
        member_id=member_id, reference=reference_of(member_id), status="active", display_name=name, updated_at=NOW
    )


async def create_while(
    practices: ServiceUnderTest,
    monkeypatch: pytest.MonkeyPatch,
    author: str,
    meanwhile: Callable[[], Awaitable[None]],
) -> str:
    """Create a practice by `author`, with `meanwhile` happening after the service has read the
    author's name and before it stores the practice: the interleaving that lost names once."""
    store: PracticeStore = practices.app.state.store
    read_names = store.authors_as_known
    names_read, go_on = asyncio.Event(), asyncio.Event()

    async def read_then_wait(member_ids: list[str]) -> list[dict[str, Any]]:
        names = await read_names(member_ids)
        if member_ids != [author]:
            return names  # another creation, from a consumer
        names_read.set()
        await go_on.wait()
        return names

    monkeypatch.setattr(store, "authors_as_known", read_then_wait)
    creating = asyncio.create_task(
        practices.client.post(
            "/practices",
            json={"metadata": practice_metadata(), "body": "Pairs.", "submit": True},
            headers=practices.caller(author),
        )
    )
    await names_read.wait()
    monkeypatch.setattr(store, "authors_as_known", read_names)
    await meanwhile()
    go_on.set()
    created = await creating
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def copy_of(practices: ServiceUnderTest, member_id: str) -> dict[str, Any] | None:
    store: PracticeStore = practices.app.state.store
    return await store.people.collection.find_one({"_id": member_id})


async def former(practices: ServiceUnderTest, member_id: str) -> bool:
    """Whether the copy keeps the member's reference as a former member's (after the tombstone)."""
    store: PracticeStore = practices.app.state.store
    return await store.people.former.find_one({"_id": reference_of(member_id)}) is not None


async def practice(practices: ServiceUnderTest, practice_id: str) -> dict[str, Any]:
    response = await practices.client.get(f"/practices/{practice_id}", headers=practices.caller(*MODERATOR))
    return dict(response.json())


async def arrived(
    servers: ServerAddresses, practices: ServiceUnderTest, member_id: str, data: MemberPerson, n: int
) -> None:
    """Produce a member's record numbered `n` and wait until the copy has it."""
    await produce(servers, from_membership(data, n))

    async def applied() -> bool:
        copy = await copy_of(practices, member_id)
        return copy is not None and copy.get("sequence") == n

    await eventually(applied)


async def erased(servers: ServerAddresses, practices: ServiceUnderTest, member_id: str) -> None:
    """Produce the member's tombstone and wait until the copy is gone, its reference kept as a
    former member's."""
    await erase(servers, member_id)

    async def applied() -> bool:
        return await copy_of(practices, member_id) is None and await former(practices, member_id)

    await eventually(applied)


def key_on_the_same_partition(key: str, partitions: int) -> str:
    """Another member id that Kafka's default partitioner puts on the same partition as `key`."""

    def partition(candidate: str) -> int:
        return int(murmur2(candidate.encode()) & 0x7FFFFFFF) % partitions

    return next(
        candidate
        for candidate in (f"m-{uuid.uuid4().hex[:8]}" for _ in range(10_000))
        if partition(candidate) == partition(key)
    )


async def test_a_name_that_arrives_while_a_practice_is_created_reaches_it(
    practices: ServiceUnderTest, servers: ServerAddresses, monkeypatch: pytest.MonkeyPatch
) -> None:
    author = f"m-{uuid.uuid4().hex[:8]}"
    await arrived(servers, practices, author, person(author), 1)  # only active members submit

    practice_id = await create_while(
        practices, monkeypatch, author, lambda: arrived(servers, practices, author, person(author, "Kadri Tamm"), 2)
    )

    async def shown() -> bool:
        return bool((await practice(practices, practice_id))["authors"] == {author: "Kadri Tamm"})

    await eventually(shown)


async def test_an_erasure_that_arrives_while_a_practice_is_created_reaches_it(
    practices: ServiceUnderTest, servers: ServerAddresses, monkeypatch: pytest.MonkeyPatch
) -> None:
    author = f"m-{uuid.uuid4().hex[:8]}"
    await arrived(servers, practices, author, person(author), 1)
    await arrived(servers, practices, author, person(author, "Kadri Tamm"), 2)

    practice_id = await create_while(
        practices,
        monkeypatch,
        author,
        lambda: erased(servers, practices, author),
    )

    async def anonymised() -> bool:
        found = await practice(practices, practice_id)
        return bool(found["authors"] == {} and found["author_names"] == ["(erased member)"])

    await eventually(anonymised)


async def test_an_older_copy_never_overwrites_a_newer_one_nor_revives_an_erased_member(
    practices: ServiceUnderTest, servers: ServerAddresses
) -> None:
    author = f"m-{uuid.uuid4().hex[:8]}"
    await arrived(servers, practices, author, person(author), 1)
    await arrived(servers, practices, author, person(author, "Kadri Tamm"), 2)
    await arrived(servers, practices, author, person(author, None), 4)  # the member hid their name

    # A stale copy (redelivered, re-driven) of the name before it was hidden, then the newest record.
    await produce(servers, from_membership(person(author, "Kadri Tamm"), 3))
    await arrived(servers, practices, author, person(author, None), 5)
    copy = await copy_of(practices, author)
    assert copy is not None
    assert copy["display_name"] is None

    await erased(servers, practices, author)
    await produce(servers, from_membership(person(author, "Kadri Tamm"), 7))  # even newer ones (re-driven)
    # Consumed after those (a partition is read in order, and the same key goes to the same
    # one), so they have been read when these arrive.
    last = key_on_the_same_partition(author, PEOPLE.partitions)
    await arrived(servers, practices, last, person(last), 1)
    await arrived(servers, practices, last, person(last, "Jaan"), 2)
    assert await copy_of(practices, author) is None, "nothing of the erased member came back"
