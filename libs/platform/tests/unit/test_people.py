"""Members appear on Kafka by reference: what `pseudonymised` does to the events a service stores."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

import pytest

from deh_contracts import CloudEvent, new_event, spec_of
from deh_contracts.catalogue.events import HackathonTeamFormed
from deh_contracts.catalogue.membership import MemberPerson, MemberSuspended
from deh_contracts.people import is_reference, new_reference
from deh_contracts.registry import PEOPLE
from deh_platform.outbox import Tombstone
from deh_platform.people import pseudonymised

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ANA, BEN = "ana-account", "ben-account"


class Known:
    """The references a service knows: Ana and Ben are members; staff accounts are not."""

    def __init__(self) -> None:
        self.table = {ANA: new_reference(), BEN: new_reference()}

    async def references(self, account_ids: Collection[str]) -> dict[str, str]:
        return {account: self.table[account] for account in account_ids if account in self.table}


def test_person_fields_are_declared_in_the_contracts_and_their_schemas() -> None:
    assert spec_of(MemberSuspended).person_fields == ("member_id", "suspended_by")
    assert spec_of(HackathonTeamFormed).person_fields == ("member_ids",)
    assert spec_of(MemberPerson).person_fields == (), "the people topic carries the account id: it is the link"
    assert MemberSuspended.model_json_schema()["properties"]["member_id"]["x-deh-person"] is True


async def test_members_become_their_references_in_data_and_key_and_staff_stay_accounts() -> None:
    known = Known()
    suspended = MemberSuspended(member_id=ANA, reason="spam", suspended_by="moderator-1", suspended_at=NOW)
    event = new_event(suspended, source="/deh/membership")

    (stored,) = await pseudonymised([event], known)

    assert isinstance(stored, CloudEvent)
    assert stored.data.member_id == known.table[ANA]
    assert stored.subject == known.table[ANA], "the Kafka key is the reference too"
    assert stored.data.suspended_by == "moderator-1", "staff who are not members stay accounts"
    assert stored.id == event.id


async def test_lists_of_people_are_renamed_one_by_one_and_references_stay_as_they_are() -> None:
    known = Known()
    already = new_reference()
    formed = HackathonTeamFormed(
        event_id="e-1", team_id="t-1", name="Mesh", challenge="c-1", member_ids=[ANA, already, BEN], formed_at=NOW
    )
    (stored,) = await pseudonymised([new_event(formed, source="/deh/events")], known)
    assert isinstance(stored, CloudEvent)
    assert stored.data.member_ids == [known.table[ANA], already, known.table[BEN]]
    assert all(is_reference(person) for person in stored.data.member_ids)


async def test_events_without_people_and_tombstones_pass_untouched_even_without_references() -> None:
    tombstone = Tombstone(PEOPLE, ANA)
    assert await pseudonymised([tombstone], None) == [tombstone]


async def test_a_service_that_names_people_without_references_is_a_programming_error() -> None:
    suspended = MemberSuspended(member_id=ANA, reason="spam", suspended_by="moderator-1", suspended_at=NOW)
    with pytest.raises(ValueError, match="no References"):
        await pseudonymised([new_event(suspended, source="/deh/membership")], None)
