"""What events learns from membership's people topic: who is an active member, their country
and sectors, and the name they show. A member who is suspended, leaves or is erased loses their
registrations for events that have not started, and the seats go to the waitlist."""

from __future__ import annotations

from deh_contracts import CloudEvent
from deh_contracts.catalogue.membership import MemberPerson
from deh_contracts.registry import PEOPLE
from deh_events.adapters.registrations import RegistrationStore
from deh_events.adapters.teams import TeamStore
from deh_platform.runtime import ServiceRuntime

# The statuses that end what a member holds at events that have not started.
LOSING = ("suspended", "left")


def subscribe_membership(runtime: ServiceRuntime, desk: RegistrationStore, teams: TeamStore) -> None:
    store = desk.store
    consumer = runtime.consumer([PEOPLE])

    @consumer.on(MemberPerson)
    async def person(event: CloudEvent[MemberPerson]) -> None:
        member = event.data
        # The copy first: a registration written meanwhile sees it and cancels itself.
        await store.people.remember(member, event.sequence_number)
        # Also when the copy did not change (a redelivery after a crash midway): cancelling is idempotent.
        copy = await store.member(member.member_id)
        if copy is not None and copy.status in LOSING:
            await desk.cancel_open_registrations({"member_id": member.member_id}, f"member_{copy.status}")

    @consumer.on_tombstone(PEOPLE)
    async def erased(member_id: str, headers: dict[str, str]) -> None:
        # The copy first: a registration written meanwhile sees it and cancels itself. It keeps
        # the member's reference until the end, for the events of this work.
        await store.people.mark_erased(member_id)
        await desk.cancel_open_registrations({"member_id": member_id}, "member_erased")
        await desk.anonymise(member_id)
        await teams.forget(member_id)
        await store.forget_member(member_id, headers)
