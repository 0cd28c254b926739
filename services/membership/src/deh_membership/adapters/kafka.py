"""What membership learns from other services: a member's activity in the hub (the events name
members by reference, deh_contracts.people)."""

from __future__ import annotations

from typing import Any

from deh_contracts import CloudEvent
from deh_contracts.catalogue.events import AttendanceRecorded
from deh_contracts.catalogue.practices import PracticePublished
from deh_contracts.registry import EVENTS, PRACTICES
from deh_membership.adapters.members import MemberStore
from deh_platform.idempotency import insert_once
from deh_platform.runtime import ServiceRuntime


def subscribe_activity(runtime: ServiceRuntime, store: MemberStore) -> None:
    consumer = runtime.consumer([PRACTICES, EVENTS])

    async def record(event: CloudEvent[Any], person: str, kind: str, reference: str, title: str | None) -> None:
        # Only current members have an activity record; an erased member gets none.
        current = {"reference": person, "status": {"$in": ["active", "suspended"]}}
        member = await store.members.find_one(current, {"_id": 1})
        if member is None:
            return
        member_id = member["_id"]
        document = {
            "_id": f"{event.id}:{member_id}",
            "member_id": member_id,
            "kind": kind,
            "reference": reference,
            "title": title,
            "at": event.time,
        }
        await insert_once(store.activity, document)

    @consumer.on(PracticePublished)
    async def practice_published(event: CloudEvent[PracticePublished]) -> None:
        title = event.data.metadata.title
        for author in event.data.author_ids:
            await record(
                event,
                author,
                "practice_published",
                event.data.practice_id,
                title.get("en") or next(iter(title.values())),
            )

    @consumer.on(AttendanceRecorded)
    async def attendance_recorded(event: CloudEvent[AttendanceRecorded]) -> None:
        if event.data.attended:
            await record(event, event.data.member_id, "event_attended", event.data.event_id, None)
