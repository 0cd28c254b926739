"""People on Kafka: members appear by reference, never by account id (decision 0015).

Every event a service stores passes through `pseudonymised`: the account ids its code wrote into
person fields (`deh_contracts.people.PersonId`) become the members' references, which the
service knows from its `References`. In membership those are the members themselves; elsewhere
`MemberCopies`, the copy of the members kept from membership's people topic. A service that
needs the account behind a reference in an event it reads asks `MemberCopies.accounts`.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from datetime import timedelta
from typing import Any, Protocol

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from deh_contracts import CloudEvent, ContractError, FieldError, spec_of
from deh_contracts.catalogue.membership import MemberPerson
from deh_contracts.people import REFERENCE_HEADER, is_reference
from deh_platform.errors import NotYetKnown
from deh_platform.identity import MemberCopy
from deh_platform.outbox import Outgoing
from deh_platform.records import new_id, now

Document = dict[str, Any]

# How long an event naming a reference nobody here knows waits (from its first attempt here) for
# membership's record of that person, which is on its way on the people topic: topics are read
# side by side, so after a restart or a replay the people topic may be behind. After that, the
# person is taken for one this service can never know: erased before it heard of them, their
# records and tombstone removed by the log cleaner since.
WAIT_FOR_PEOPLE = timedelta(minutes=2)


STAND_IN_PREFIX = "erased-"


def stand_in() -> str:
    """An opaque id that takes an erased person's place where the record must keep someone (a
    registration, a team seat, a decision). New for each erasure step, so it links some records
    of the person to each other (their decisions, say), never to the person."""
    return STAND_IN_PREFIX + new_id()


def is_stand_in(value: str) -> bool:
    return value.startswith(STAND_IN_PREFIX)


class References(Protocol):
    async def references(self, account_ids: Collection[str]) -> dict[str, str]:
        """The reference of each of these accounts that is a member's (others are left out)."""
        ...


class StoredReferences:
    """References kept in documents keyed by account id, in their field `reference`."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection

    async def references(self, account_ids: Collection[str]) -> dict[str, str]:
        if not account_ids:
            return {}
        found = self.collection.find({"_id": {"$in": list(account_ids)}, "reference": {"$ne": None}}, {"reference": 1})
        return {document["_id"]: document["reference"] async for document in found}


async def pseudonymised(events: Sequence[Outgoing], references: References | None) -> list[Outgoing]:
    """The events with every account id in a person field replaced by that member's reference.
    Accounts without one (staff who are not members) stay as they are."""
    # On every write: events that name no account (most, and tombstones) are neither read twice
    # nor copied.
    accounts = {
        index: found
        for index, event in enumerate(events)
        if isinstance(event, CloudEvent) and (found := _accounts_in(event))
    }
    if not accounts:
        return list(events)
    if references is None:
        raise ValueError("this service names people in its events but has no References (ServiceRuntime.references)")
    known = await references.references(set().union(*accounts.values()))
    return [
        _renamed(event, known) if index in accounts and isinstance(event, CloudEvent) else event
        for index, event in enumerate(events)
    ]


def _people_in(event: CloudEvent[Any]) -> dict[str, list[str]]:
    spec = spec_of(event.data)
    values = {name: getattr(event.data, name) for name in spec.person_fields}
    return {
        name: [value] if isinstance(value, str) else list(value)
        for name, value in values.items()
        if value is not None  # an optional person field left empty
    }


def _accounts_in(event: CloudEvent[Any]) -> set[str]:
    return {person for people in _people_in(event).values() for person in people if not is_reference(person)}


def _renamed(event: CloudEvent[Any], known: dict[str, str]) -> CloudEvent[Any]:
    changes: dict[str, Any] = {}
    for name, values in _people_in(event).items():
        renamed = [known.get(value, value) for value in values]
        changes[name] = renamed[0] if isinstance(getattr(event.data, name), str) else renamed
    data = event.data.model_copy(update=changes)
    return event.model_copy(update={"data": data, "subject": spec_of(data).subject_of(data)})


class MemberCopies(StoredReferences):
    """A service's copy of the hub's members from membership's people topic: their reference,
    status, country, sectors and visible name, keyed by account id. Erasure deletes the copy
    and keeps only the reference (in `former_members`), so that a record re-driven later cannot
    bring the copy back and a late event naming that reference is known to name someone erased."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        super().__init__(db.members)
        self.former: AsyncCollection[Document] = db.former_members
        self._waiting_since: dict[str, float] = {}  # event id -> when it first waited here

    async def create_indexes(self) -> None:
        await self.collection.create_index("reference")

    async def remember(self, person: MemberPerson, sequence: int) -> bool:
        """Keep the member's latest record: its number orders a member's records, so that an
        older or re-driven one never overwrites a newer copy. True when the copy changed."""
        if person.reference is None:
            raise ContractError("a people record must carry the member's reference", [_NO_REFERENCE])
        if await self.was_erased(person.reference):
            return False  # re-driven after the member's erasure
        fields: Document = {
            "reference": person.reference,
            "country": person.country,
            "sectors": person.sectors,
            "display_name": person.display_name,
            **({"status": person.status} if person.status else {}),
        }
        older = {"$lt": sequence} if sequence > 0 else {"$lte": 0}
        selector = {"_id": person.member_id, "$or": [{"sequence": older}, {"sequence": None}]}
        try:
            result = await self.collection.update_one(selector, {"$set": {**fields, "sequence": sequence}}, upsert=True)
        except DuplicateKeyError:
            return False  # we hold a newer copy
        return bool(result.modified_count or result.upserted_id)

    async def mark_erased(self, member_id: str) -> None:
        """The member's tombstone, first step: the copy says `erased` (so that an action racing
        the erasure refuses itself) and keeps only the reference, which the events of the
        erasure's own work still name the member by. `forget` ends it."""
        await self.collection.update_one(
            {"_id": member_id},
            {"$set": {"status": "erased"}, "$unset": {"display_name": "", "country": "", "sectors": ""}},
        )

    async def forget(self, member_id: str, tombstone_headers: dict[str, str]) -> None:
        """The member's tombstone, last step: the reference is kept as a former member's, the
        copy goes (so that nothing here links the reference to the account any more). The
        tombstone names the reference too, for a copy that never was."""
        copy = await self.collection.find_one({"_id": member_id}, {"reference": 1})
        references = {tombstone_headers.get(REFERENCE_HEADER), copy and copy.get("reference")}
        for reference in references - {None}:
            await self.former.update_one({"_id": reference}, {"$setOnInsert": {"erased_at": now()}}, upsert=True)
        await self.collection.delete_one({"_id": member_id})

    def _forget_old_waits(self) -> None:
        """Events that stopped waiting without an answer here (dead-lettered, or their partition
        now read by another replica) are not remembered for ever."""
        now_ = time.monotonic()
        limit = 2 * WAIT_FOR_PEOPLE.total_seconds()
        self._waiting_since = {event: since for event, since in self._waiting_since.items() if now_ - since < limit}

    async def was_erased(self, reference: str) -> bool:
        return await self.former.find_one({"_id": reference}, {"_id": 1}) is not None

    async def member(self, member_id: str) -> MemberCopy | None:
        document = await self.collection.find_one({"_id": member_id})
        if document is None:
            return None
        return MemberCopy(
            member_id=member_id,
            reference=document.get("reference"),
            status=document.get("status") or "unknown",
            country=document.get("country"),
            sectors=document.get("sectors") or [],
            display_name=document.get("display_name"),
        )

    async def status(self, member_id: str) -> str | None:
        """The member's status as membership last told (None for someone it never named here)."""
        copy = await self.member(member_id)
        return None if copy is None else copy.status

    async def accounts(self, people: Sequence[str], *, event_id: str) -> list[str | None]:
        """The accounts behind the people an event names: a member's reference becomes their
        account id, or None once they were erased (a stand-in too); an account id (staff) stays. An event naming
        a reference not known here yet waits for membership's record of that person
        (NotYetKnown holds it), at most WAIT_FOR_PEOPLE from its first attempt."""
        references = [person for person in people if is_reference(person)]
        found = self.collection.find({"reference": {"$in": references}}, {"reference": 1, "status": 1})
        copies = {document["reference"]: document async for document in found}
        known = {reference: copy["_id"] for reference, copy in copies.items() if copy.get("status") != "erased"}
        unknown = [reference for reference in references if reference not in copies]
        former = {document["_id"] async for document in self.former.find({"_id": {"$in": unknown}}, {"_id": 1})}
        if any(reference not in former for reference in unknown):
            self._forget_old_waits()
            first = self._waiting_since.setdefault(event_id, time.monotonic())
            if time.monotonic() - first < WAIT_FOR_PEOPLE.total_seconds():
                raise NotYetKnown("membership's record of a person this event names has not arrived yet")
        self._waiting_since.pop(event_id, None)
        return [
            known.get(person) if is_reference(person) else None if is_stand_in(person) else person for person in people
        ]


_NO_REFERENCE = FieldError("reference", "a people record must carry the member's reference", "missing")
