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
from hub_testing import ServiceUnderTest, from_membership, produce

from deh_contracts import Contract
from deh_contracts.catalogue.membership import MemberApproved, MemberErased, MemberProfileUpdated
from deh_contracts.registry import MEMBERSHIP
from deh_practices.adapters.store import PracticeStore
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.e2e

MODERATOR = ("moderator-1", "moderator")
NOW = datetime.now(UTC)


def approved(member_id: str, name: str) -> MemberApproved:
    return MemberApproved(
        member_id=member_id,
        country="EE",
        sectors=["school"],
        roles=["member"],
        display_name=name,
        approved_by="mod",
        approved_at=NOW,
    )


def renamed(member_id: str, name: str | None) -> MemberProfileUpdated:
    return MemberProfileUpdated(
        member_id=member_id, display_name=name, country="EE", sectors=["school"], directory_visible=True, updated_at=NOW
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
    read_names = store.author_names
    names_read, go_on = asyncio.Event(), asyncio.Event()

    async def read_then_wait(member_ids: list[str]) -> dict[str, str | None]:
        names = await read_names(member_ids)
        if member_ids != [author]:
            return names  # another creation, from a consumer
        names_read.set()
        await go_on.wait()
        return names

    monkeypatch.setattr(store, "author_names", read_then_wait)
    creating = asyncio.create_task(
        practices.client.post(
            "/practices",
            json={"metadata": practice_metadata(), "body": "Pairs.", "submit": True},
            headers=practices.caller(author),
        )
    )
    await names_read.wait()
    monkeypatch.setattr(store, "author_names", read_names)
    await meanwhile()
    go_on.set()
    created = await creating
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def copy_of(practices: ServiceUnderTest, member_id: str) -> dict[str, Any] | None:
    store: PracticeStore = practices.app.state.store
    return await store.authors.find_one({"_id": member_id})


async def practice(practices: ServiceUnderTest, practice_id: str) -> dict[str, Any]:
    response = await practices.client.get(f"/practices/{practice_id}", headers=practices.caller(*MODERATOR))
    return dict(response.json())


async def arrived(
    servers: ServerAddresses, practices: ServiceUnderTest, member_id: str, data: Contract, n: int
) -> None:
    await produce(servers, from_membership(data, n))

    async def applied() -> bool:
        copy = await copy_of(practices, member_id)
        return copy is not None and copy["sequence"] == n

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
    await arrived(servers, practices, author, approved(author, "Kadri"), 1)  # only active members submit

    practice_id = await create_while(
        practices, monkeypatch, author, lambda: arrived(servers, practices, author, renamed(author, "Kadri Tamm"), 2)
    )

    async def named() -> bool:
        return bool((await practice(practices, practice_id))["authors"] == {author: "Kadri Tamm"})

    await eventually(named)


async def test_an_erasure_that_arrives_while_a_practice_is_created_reaches_it(
    practices: ServiceUnderTest, servers: ServerAddresses, monkeypatch: pytest.MonkeyPatch
) -> None:
    author = f"m-{uuid.uuid4().hex[:8]}"
    await arrived(servers, practices, author, approved(author, "Kadri Tamm"), 1)

    practice_id = await create_while(
        practices,
        monkeypatch,
        author,
        lambda: arrived(servers, practices, author, MemberErased(member_id=author, erased_at=NOW), 2),
    )

    async def anonymised() -> bool:
        found = await practice(practices, practice_id)
        return bool(found["authors"] == {} and found["author_names"] == ["(erased member)"])

    await eventually(anonymised)


async def test_an_older_copy_never_overwrites_a_newer_one_nor_revives_an_erased_member(
    practices: ServiceUnderTest, servers: ServerAddresses
) -> None:
    author = f"m-{uuid.uuid4().hex[:8]}"
    await arrived(servers, practices, author, approved(author, "Kadri Tamm"), 1)
    await arrived(servers, practices, author, renamed(author, None), 3)  # the member hid their name

    # A stale copy (redelivered, re-driven) of the name before it was hidden, then the newest event.
    await produce(servers, from_membership(renamed(author, "Kadri Tamm"), 2))
    await arrived(servers, practices, author, renamed(author, None), 4)
    copy = await copy_of(practices, author)
    assert copy is not None
    assert copy["display_name"] is None

    await arrived(servers, practices, author, MemberErased(member_id=author, erased_at=NOW), 5)
    await produce(servers, from_membership(renamed(author, "Kadri Tamm"), 4))
    await produce(servers, from_membership(approved(author, "Kadri Tamm"), 6))  # even a newer one
    # Consumed after those (one partition is read in order), so they have been read when it arrives.
    last = key_on_the_same_partition(author, MEMBERSHIP.partitions)
    await arrived(servers, practices, last, approved(last, "Jaan"), 1)
    assert await copy_of(practices, author) == {"_id": author, "erased": True, "sequence": 5}
