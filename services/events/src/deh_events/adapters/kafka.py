"""What events learns from membership: who is an active member, their country and sectors, and
(from the people topic) the name they show. A member who is suspended, leaves or is erased loses their registrations for
events that have not started, and the seats go to the waitlist."""

from __future__ import annotations

from deh_contracts import CloudEvent
from deh_contracts.catalogue.membership import (
    MemberApproved,
    MemberErased,
    MemberLeft,
    MemberPerson,
    MemberProfileUpdated,
    MemberReinstated,
    MemberSuspended,
)
from deh_contracts.registry import MEMBERSHIP, PEOPLE
from deh_events.adapters.registrations import RegistrationStore
from deh_events.adapters.teams import TeamStore
from deh_platform.consumer import AFTER_EVERY_RECORD
from deh_platform.runtime import ServiceRuntime


def subscribe_membership(runtime: ServiceRuntime, desk: RegistrationStore, teams: TeamStore) -> None:
    store = desk.store
    consumer = runtime.consumer([MEMBERSHIP, PEOPLE])

    @consumer.on(MemberApproved)
    async def approved(event: CloudEvent[MemberApproved]) -> None:
        member = event.data
        fields = {"status": "active", "country": member.country, "sectors": member.sectors}
        await store.remember_member(member.member_id, fields, event.sequence_number)

    @consumer.on(MemberProfileUpdated)
    async def profile_updated(event: CloudEvent[MemberProfileUpdated]) -> None:
        member = event.data
        fields = {"country": member.country, "sectors": member.sectors}
        await store.remember_member(member.member_id, fields, event.sequence_number)

    @consumer.on(MemberPerson)
    async def person(event: CloudEvent[MemberPerson]) -> None:
        name = {"display_name": event.data.display_name}
        await store.remember_member(event.data.member_id, name, event.sequence_number, clock="name_sequence")

    @consumer.on_tombstone(PEOPLE)
    async def person_erased(member_id: str) -> None:
        # Final: no record of this member that comes later on the topic can be older.
        await store.remember_member(member_id, {"display_name": None}, AFTER_EVERY_RECORD, clock="name_sequence")

    @consumer.on(MemberReinstated)
    async def reinstated(event: CloudEvent[MemberReinstated]) -> None:
        await store.remember_member(event.data.member_id, {"status": "active"}, event.sequence_number)

    @consumer.on(MemberSuspended)
    async def suspended(event: CloudEvent[MemberSuspended]) -> None:
        await _lost_membership(desk, event.data.member_id, "suspended", event.sequence_number)

    @consumer.on(MemberLeft)
    async def left(event: CloudEvent[MemberLeft]) -> None:
        await _lost_membership(desk, event.data.member_id, "left", event.sequence_number)

    @consumer.on(MemberErased)
    async def erased(event: CloudEvent[MemberErased]) -> None:
        # The copy first: a registration written meanwhile sees it and cancels itself.
        member_id = event.data.member_id
        await store.forget_member(member_id, event.sequence_number)
        await desk.cancel_open_registrations({"member_id": member_id}, "member_erased")
        await desk.anonymise(member_id)
        await teams.forget(member_id)


async def _lost_membership(desk: RegistrationStore, member_id: str, status: str, sequence: int) -> None:
    # The copy first: a registration written meanwhile sees it and cancels itself.
    await desk.store.remember_member(member_id, {"status": status}, sequence)
    # Also when the copy did not change (a redelivery after a crash midway): cancelling is idempotent.
    member = await desk.store.member(member_id)
    if member is not None and member.status == status:
        await desk.cancel_open_registrations({"member_id": member_id}, f"member_{status}")
