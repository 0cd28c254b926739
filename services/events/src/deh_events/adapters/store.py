"""The events service's MongoDB store.

Seats: an event has one small document per seat, and a registration holds a seat by writing its
id into that seat's `holder` (a unique sparse index: one seat per registration). Taking a seat is
one atomic `find_one_and_update` on any free seat, so a hundred people registering at once spread
over the seats instead of fighting over one event document, and the capacity is never exceeded:
there are no more seats than places. The seat is the truth; the registration's state follows it
(with its contract event in the registration's outbox) and `repair` finishes what a crash left
half done. Every other change is one conditional update of one document with its events.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from deh_contracts import Contract
from deh_contracts.catalogue.events import (
    AttendanceRecorded,
    EventCancelled,
    EventEnded,
    EventRegistrationClosed,
    EventScheduled,
    EventUpdated,
    HackathonChallengePosted,
    RegistrationCancelled,
    RegistrationConfirmed,
    RegistrationPromoted,
    RegistrationReminderDue,
    RegistrationWaitlisted,
)
from deh_events.domain.events import (
    Challenge,
    ChallengeForm,
    Event,
    EventChanges,
    EventDraft,
    MemberCopy,
    Schedule,
    instant,
    local_time,
    registration_refusal,
)
from deh_events.domain.registrations import (
    OPEN_STATES,
    SEATED_STATES,
    Participant,
    QueueClock,
    Registration,
    RegistrationForm,
)
from deh_events.domain.waitlist import Candidate, choose_next
from deh_platform.auth import Principal
from deh_platform.errors import Conflict, Forbidden, NotFound
from deh_platform.runtime import ServiceRuntime

Document = dict[str, Any]
OUTBOX_COLLECTIONS = ("events", "registrations", "teams")
_INTERNAL = {"_outbox": 0, "_applied_events": 0, "_outbox_claim": 0, "_outbox_sequence": 0}
# A seat taken this long ago by a registration that is not seated was left by a crash: `repair`
# seats the registration (a promotion) or frees the seat (a registration never written or cancelled).
ABANDONED_AFTER = timedelta(minutes=1)
# The repair job looks at events that ended at most this long ago (and all later ones).
REPAIR_WINDOW = timedelta(days=7)


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class EventStore:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        db = runtime.db
        self.events: AsyncCollection[Document] = db.events
        self.seats: AsyncCollection[Document] = db.seats
        self.registrations: AsyncCollection[Document] = db.registrations
        self.teams: AsyncCollection[Document] = db.teams
        self.members: AsyncCollection[Document] = db.members
        self.queue_clock = QueueClock()

    async def create_indexes(self) -> None:
        await self.seats.create_index("holder", unique=True, sparse=True)
        await self.seats.create_index([("event_id", ASCENDING), ("holder", ASCENDING)])
        await self.registrations.create_index([("event_id", ASCENDING), ("member_id", ASCENDING)], unique=True)
        await self.registrations.create_index([("event_id", ASCENDING), ("state", ASCENDING)])
        await self.registrations.create_index([("member_id", ASCENDING), ("state", ASCENDING)])
        await self.events.create_index([("status", ASCENDING), ("starts_at_utc", ASCENDING)])
        await self.teams.create_index([("event_id", ASCENDING), ("name_key", ASCENDING)], unique=True)

    # Events -------------------------------------------------------------------------------------

    async def event(self, event_id: str) -> Event:
        document = await self.events.find_one({"_id": event_id}, _INTERNAL)
        if document is None:
            raise NotFound(f"no event {event_id}")
        return _event(document)

    async def list_events(self, *, after: datetime, kind: str | None, limit: int) -> list[Event]:
        query: Document = {"ends_at_utc": {"$gt": after}}
        if kind:
            query["kind"] = kind
        found = self.events.find(query, _INTERNAL).sort([("starts_at_utc", ASCENDING), ("_id", ASCENDING)])
        return [_event(document) async for document in found.limit(limit)]

    async def create_event(self, draft: EventDraft, organiser: str) -> Event:
        at = now()
        event_id = new_id()
        schedule = draft.schedule
        start, end = instant(schedule.starts_at, schedule.timezone), instant(schedule.ends_at, schedule.timezone)
        challenges = [Challenge(challenge_id=new_id(), **form.model_dump()) for form in draft.challenges]
        document: Document = {
            "_id": event_id,
            **draft.model_dump(mode="json", exclude={"schedule", "challenges", "online_link"}),
            "online_link": str(draft.online_link) if draft.online_link else None,
            "timezone": schedule.timezone,
            "starts_at_utc": start,
            "ends_at_utc": end,
            "registration_opens_at": schedule.registration_opens_at or at,
            "registration_closes_at": schedule.closes(start),
            "registration_closed": False,
            "challenges": [challenge.model_dump() for challenge in challenges],
            "status": "scheduled",
            "organiser_id": organiser,
            "created_at": at,
        }
        event = _event(document)
        # Seats first: an event is only visible once all its seats exist.
        await self._add_seats(event_id, 0, draft.capacity)
        scheduled = EventScheduled(
            event_id=event_id,
            kind=event.kind,
            title=event.title,
            starts_at=start,
            ends_at=end,
            timezone=event.timezone,
            online=event.online,
            venue_country=event.venue.country if event.venue else None,
            capacity=event.capacity,
            audience=event.audience,
            scheduled_at=at,
            registration_opens_at=event.registration_opens_at,
            registration_closes_at=event.registration_closes_at,
            waitlist_policy=event.waitlist_policy,
        )
        posted = [_challenge_posted(event_id, challenge, at) for challenge in challenges]
        await self.runtime.insert(self.events, document, [scheduled, *posted])
        return event

    async def _add_seats(self, event_id: str, first: int, count: int) -> None:
        seats = [{"_id": f"{event_id}:{number:05d}", "event_id": event_id} for number in range(first, first + count)]
        for start in range(0, len(seats), 1000):
            with contextlib.suppress(BulkWriteError):  # a retry after a crash: those seats exist
                await self.seats.insert_many(seats[start : start + 1000], ordered=False)

    async def update_event(self, event: Event, changes: EventChanges) -> Event:
        given = changes.model_dump(exclude_unset=True, mode="json")
        if not given:
            return event
        if event.status != "scheduled":
            raise Conflict(f"the event is {event.status}")
        updates: Document = {
            key: given[key] for key in ("title", "description", "venue", "online_link") if key in given
        }
        if changes.schedule is not None:
            updates.update(_schedule_fields(changes.schedule))
        if changes.capacity is not None and changes.capacity != event.capacity:
            await self._change_capacity(event, changes.capacity)
            updates["capacity"] = changes.capacity
        at = now()
        after = _event({**_stored(event), **updates})
        changed = EventUpdated(
            event_id=event.event_id,
            changed_fields=sorted(given),
            title=after.title,
            starts_at=after.starts_at_utc,
            ends_at=after.ends_at_utc,
            timezone=after.timezone,
            capacity=after.capacity,
            updated_at=at,
        )
        await self.runtime.write(
            self.events, {"_id": event.event_id}, {"$set": {**updates, "updated_at": at}}, [changed]
        )
        if updates.get("capacity", 0) > event.capacity:
            await self.promote(event.event_id)
        return after

    async def _change_capacity(self, event: Event, capacity: int) -> None:
        if capacity > event.capacity:
            await self._add_seats(event.event_id, event.capacity, capacity - event.capacity)
            return
        taken = await self.seats.count_documents({"event_id": event.event_id, "holder": {"$exists": True}})
        if taken > capacity:
            raise Conflict(f"{taken} seats are taken; the capacity cannot go below that")
        # Only free seats go. If they were taken meanwhile, the ones removed come back (with new
        # ids) and the capacity stays as it was.
        for removed in range(event.capacity - capacity):
            if await self.seats.find_one_and_delete({"event_id": event.event_id, "holder": {"$exists": False}}) is None:
                restored = [{"_id": f"{event.event_id}:{new_id()}", "event_id": event.event_id} for _ in range(removed)]
                if restored:
                    await self.seats.insert_many(restored)
                raise Conflict("seats were taken meanwhile; the capacity is unchanged")

    async def cancel_event(self, event: Event, reason: str) -> Event:
        if event.status != "scheduled":
            raise Conflict(f"the event is {event.status}")
        at = now()
        cancelled = EventCancelled(event_id=event.event_id, reason=reason, cancelled_at=at)
        done = await self.runtime.write(
            self.events,
            {"_id": event.event_id, "status": "scheduled"},
            {"$set": {"status": "cancelled", "cancellation_reason": reason, "cancelled_at": at}},
            [cancelled],
        )
        if not done.modified_count:
            raise Conflict("the event changed meanwhile")
        await self.cancel_open_registrations({"event_id": event.event_id}, "event_cancelled")
        return await self.event(event.event_id)

    async def post_challenge(self, event: Event, form: ChallengeForm) -> Challenge:
        challenge = Challenge(challenge_id=new_id(), **form.model_dump())
        await self.runtime.write(
            self.events,
            {"_id": event.event_id},
            {"$push": {"challenges": challenge.model_dump()}},
            [_challenge_posted(event.event_id, challenge, now())],
        )
        return challenge

    # Members (a copy kept from membership's events) -----------------------------------------------

    async def member(self, member_id: str) -> MemberCopy | None:
        document = await self.members.find_one({"_id": member_id})
        if document is None or document.get("erased"):
            return None
        return MemberCopy(member_id=member_id, **{key: document.get(key) or default for key, default in _COPY.items()})

    async def remember_member(self, member_id: str, fields: Document, sequence: int) -> bool:
        """Keep the newest of a member's events (their `sequence` orders them): an older or
        re-driven one never overwrites a newer copy nor revives an erased member. True when the
        copy changed."""
        older = {"$lt": sequence} if sequence > 0 else {"$lte": 0}
        selector = {"_id": member_id, "$or": [{"sequence": older}, {"sequence": None}], "erased": {"$ne": True}}
        try:
            result = await self.members.update_one(selector, {"$set": {**fields, "sequence": sequence}}, upsert=True)
        except DuplicateKeyError:
            return False  # a newer copy, or a tombstone
        return bool(result.modified_count or result.upserted_id)

    async def forget_member(self, member_id: str, sequence: int) -> None:
        """`member erased`: a bare tombstone stays (so that no older event brings the copy back),
        open registrations go, and what remains of theirs no longer names them."""
        await self.members.replace_one(
            {"_id": member_id}, {"_id": member_id, "erased": True, "sequence": sequence}, upsert=True
        )
        await self.cancel_open_registrations({"member_id": member_id}, "member_erased")
        # Each registration gets its own opaque id (one per event must stay unique); the states,
        # and so the counts, stay. Events already in an outbox still leave as they were written.
        async for registration in self.registrations.find({"member_id": member_id}, {"_id": 1}):
            anonymous: Document = {"member_id": f"erased-{new_id()}", "country": None, "sectors": []}
            await self.registrations.update_one(
                {"_id": registration["_id"]}, {"$set": {**anonymous, "appear_on_participant_list": False}}
            )
        former = f"erased-{new_id()}"
        while (
            await self.teams.update_many({"member_ids": member_id}, {"$set": {"member_ids.$": former}})
        ).modified_count:
            pass

    # Registration ---------------------------------------------------------------------------------

    async def registration(self, registration_id: str) -> Registration:
        document = await self.registrations.find_one({"_id": registration_id}, _INTERNAL)
        if document is None:
            raise NotFound(f"no registration {registration_id}")
        return await self._shown(document)

    async def registration_of(self, event_id: str, member_id: str) -> Registration | None:
        document = await self.registrations.find_one({"event_id": event_id, "member_id": member_id}, _INTERNAL)
        return None if document is None else await self._shown(document)

    async def register(self, event: Event, caller: Principal, form: RegistrationForm) -> Registration:
        member = await self.member(caller.member_id)
        refusal = registration_refusal(event, member, caller, now())
        if refusal:
            raise Conflict(refusal)
        existing = await self.registrations.find_one(
            {"event_id": event.event_id, "member_id": caller.member_id}, {"state": 1}
        )
        if existing is not None and existing["state"] != "cancelled":
            raise Conflict(f"this member's registration is {existing['state']} already")
        # Registering again after cancelling reuses the record, at the back of the queue.
        registration_id = str(existing["_id"]) if existing else new_id()
        # Fairness: while people wait, a newcomer joins the waitlist behind them; a freed seat
        # goes by the waitlist's policy, not to whoever asks next.
        someone_waits = await self.registrations.find_one(
            {"event_id": event.event_id, "state": "waitlisted"}, {"_id": 1}
        )
        seat = None if someone_waits else await self._take_seat(event.event_id, registration_id)
        # The seat comes first, then the registration is written once, with its outcome and its
        # event. A crash in between leaves a seat whose holder was never written: `repair` frees it.
        document = await self._registration_document(event, registration_id, caller.member_id, member, form, seat)
        try:
            await self._store_registration(document, reopening=existing is not None)
        except Conflict:
            if seat is not None:
                await self._free_seat(registration_id)
            raise
        if seat is None:
            await self.promote(event.event_id)  # a seat may have freed meanwhile
            return await self.registration(registration_id)
        return await self._shown(document)

    async def _registration_document(
        self,
        event: Event,
        registration_id: str,
        member_id: str,
        member: MemberCopy | None,
        form: RegistrationForm,
        seat: str | None,
    ) -> Document:
        at = now()
        country, sectors = (member.country, member.sectors) if member else (None, [])
        person: Document = {
            "event_id": event.event_id,
            "member_id": member_id,
            "country": country,
            "sectors": sectors,
            "appear_on_participant_list": form.appear_on_participant_list,
        }
        if event.waitlist_policy == "balanced":  # only that policy asks
            attended = await self.registrations.find_one({"member_id": member_id, "state": "attended"}, {"_id": 1})
            person["first_timer"] = attended is None
        identity = {"event_id": event.event_id, "registration_id": registration_id, "member_id": member_id}
        outcome: Contract
        if seat is not None:
            state: Document = {"state": "registered", "seat": seat, "seated_at": at, "queue_key": None}
            outcome = RegistrationConfirmed(
                **identity, country=country, sector=sectors[0] if sectors else None, confirmed_at=at
            )
        else:
            key = self.queue_clock.next()
            state = {"state": "waitlisted", "seat": None, "queue_key": key, "waitlisted_at": at}
            position = await self._position(event.event_id, key)
            outcome = RegistrationWaitlisted(**identity, position=position, waitlisted_at=at)
        step = {"state": state["state"], "at": at, "note": None}
        return {
            "_id": registration_id,
            **person,
            **state,
            "requested_at": at,
            "explanation": None,
            "history": [step],
            "outcome": outcome,
        }

    async def _store_registration(self, document: Document, *, reopening: bool) -> None:
        outcome = document.pop("outcome")
        if not reopening:
            try:
                await self.runtime.insert(self.registrations, document, [outcome])
            except DuplicateKeyError:
                raise Conflict("this member has registered for this event already") from None
            return
        history = document.pop("history")
        fields = {key: value for key, value in document.items() if key != "_id"}
        reopened = await self.runtime.write(
            self.registrations,
            {"_id": document["_id"], "state": "cancelled"},
            {"$set": fields, "$push": {"history": {"$each": history}}},
            [outcome],
        )
        if not reopened.modified_count:
            raise Conflict("this member's registration changed meanwhile")
        document["history"] = history

    async def _take_seat(self, event_id: str, registration_id: str) -> str | None:
        try:
            seat = await self.seats.find_one_and_update(
                {"event_id": event_id, "holder": {"$exists": False}},
                {"$set": {"holder": registration_id, "taken_at": now()}},
                projection={"_id": 1},
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # it holds a seat already (a concurrent promotion gave it one)
            seat = await self.seats.find_one({"holder": registration_id}, {"_id": 1})
        return None if seat is None else str(seat["_id"])

    async def _seat(self, registration_id: str, seat: str, choice_explanation: str, policy: str) -> bool:
        """Record that the waitlisted registration holds `seat` (a promotion). If it was
        cancelled or never written, the seat is given back. True when this call seated it."""
        at = now()
        document = await self.registrations.find_one({"_id": registration_id}, _INTERNAL)
        if document is None or document["state"] != "waitlisted":
            if document is None or document["state"] not in SEATED_STATES:
                await self._free_seat(registration_id)
            return False
        event = RegistrationPromoted(
            event_id=document["event_id"],
            registration_id=registration_id,
            member_id=document["member_id"],
            promoted_at=at,
            policy=policy,
            explanation=choice_explanation,
        )
        note = choice_explanation
        result = await self.runtime.write(
            self.registrations,
            {"_id": registration_id, "state": document["state"]},
            {
                "$set": {"state": "registered", "seat": seat, "explanation": note, "seated_at": at},
                "$push": {"history": {"state": "registered", "at": at, "note": note}},
            },
            [event],
        )
        if result.modified_count:
            return True
        return await self._seat(registration_id, seat, choice_explanation, policy)  # it changed: look again

    async def _position(self, event_id: str, queue_key: int) -> int:
        ahead = await self.registrations.count_documents(
            {"event_id": event_id, "state": "waitlisted", "queue_key": {"$lt": queue_key}}
        )
        return ahead + 1

    async def promote(self, event_id: str) -> int:
        """Give free seats to the waitlist, one by one by the event's policy. Safe to run
        concurrently: a seat has one holder and a registration at most one seat. Returns how
        many were promoted."""
        event = await self.event(event_id)
        promoted = 0
        while event.status == "scheduled":
            waiting = await self._candidates(event_id, ["waitlisted"])
            if not waiting or not await self.seats.find_one({"event_id": event_id, "holder": {"$exists": False}}):
                break
            choice = choose_next(event.waitlist_policy, waiting, await self._candidates(event_id, list(SEATED_STATES)))
            assert choice is not None
            seat = await self._take_seat(event_id, choice.registration_id)
            if seat is None:
                break  # taken meanwhile
            promoted += await self._seat(choice.registration_id, seat, choice.explanation, event.waitlist_policy)
        return promoted

    async def _candidates(self, event_id: str, states: list[str]) -> list[Candidate]:
        found = self.registrations.find(
            {"event_id": event_id, "state": {"$in": states}},
            {"queue_key": 1, "country": 1, "sectors": 1, "first_timer": 1},
        )
        return [
            Candidate(
                registration_id=document["_id"],
                queue_key=document.get("queue_key") or 0,
                country=document.get("country"),
                sectors=tuple(document.get("sectors") or ()),
                first_timer=bool(document.get("first_timer")),
            )
            async for document in found
        ]

    async def cancel(self, registration_id: str, reason: str) -> Registration:
        document = await self.registrations.find_one({"_id": registration_id}, {"state": 1, "event_id": 1})
        if document is None:
            raise NotFound(f"no registration {registration_id}")
        if document["state"] not in OPEN_STATES:
            raise Conflict(f"the registration is {document['state']}")
        await self._cancel_one(registration_id, reason)
        await self.promote(document["event_id"])
        return await self.registration(registration_id)

    async def _cancel_one(self, registration_id: str, reason: str) -> None:
        at = now()
        document = await self.registrations.find_one(
            {"_id": registration_id}, {"state": 1, "event_id": 1, "member_id": 1}
        )
        if document is None or document["state"] not in OPEN_STATES:
            return
        cancelled = RegistrationCancelled(
            event_id=document["event_id"],
            registration_id=registration_id,
            member_id=document["member_id"],
            cancelled_at=at,
            reason=reason,
            was_registered=document["state"] == "registered",
        )
        result = await self.runtime.write(
            self.registrations,
            {"_id": registration_id, "state": document["state"]},
            {
                "$set": {"state": "cancelled", "cancelled_at": at, "seat": None},
                "$push": {"history": {"state": "cancelled", "at": at, "note": reason}},
            },
            [cancelled],
        )
        if not result.modified_count:
            await self._cancel_one(registration_id, reason)  # it changed meanwhile: look again
            return
        await self._free_seat(registration_id)

    async def _free_seat(self, registration_id: str) -> None:
        await self.seats.update_one({"holder": registration_id}, {"$unset": {"holder": "", "taken_at": ""}})

    async def cancel_open_registrations(self, query: Document, reason: str) -> None:
        """Cancel the open registrations the query finds (future events only for a member),
        then promote from each event's waitlist."""
        events: set[str] = set()
        async for document in self.registrations.find({**query, "state": {"$in": list(OPEN_STATES)}}, {"event_id": 1}):
            if reason != "event_cancelled" and not await self._is_upcoming(document["event_id"]):
                continue
            await self._cancel_one(document["_id"], reason)
            events.add(document["event_id"])
        for event_id in events:
            await self.promote(event_id)

    async def _is_upcoming(self, event_id: str) -> bool:
        return (
            await self.events.count_documents({"_id": event_id, "status": "scheduled", "starts_at_utc": {"$gt": now()}})
            > 0
        )

    async def list_registrations(self, event_id: str, state: str | None) -> list[Registration]:
        query: Document = {"event_id": event_id}
        if state:
            query["state"] = state
        found = self.registrations.find(query, _INTERNAL).sort([("queue_key", ASCENDING), ("requested_at", ASCENDING)])
        return [await self._shown(document) async for document in found]

    async def registrations_of_member(self, member_id: str) -> list[Registration]:
        found = self.registrations.find({"member_id": member_id}, _INTERNAL).sort("requested_at", ASCENDING)
        return [await self._shown(document) async for document in found]

    async def _shown(self, document: Document) -> Registration:
        position = None
        if document["state"] == "waitlisted":
            position = await self._position(document["event_id"], document["queue_key"])
        return Registration(
            registration_id=document["_id"],
            event_id=document["event_id"],
            member_id=document["member_id"],
            state=document["state"],
            position=position,
            requested_at=document["requested_at"],
            queue_key=document.get("queue_key"),
            explanation=document.get("explanation"),
            appear_on_participant_list=document.get("appear_on_participant_list", False),
            first_timer=document.get("first_timer"),
            team_id=document.get("team_id"),
            history=document.get("history", []),
        )

    async def participants(self, event_id: str) -> list[Participant]:
        query = {"event_id": event_id, "state": {"$in": ["registered", "attended"]}, "appear_on_participant_list": True}
        listed = []
        async for document in self.registrations.find(query, {"member_id": 1, "country": 1}):
            member = await self.member(document["member_id"])
            listed.append(
                Participant(display_name=member.display_name if member else None, country=document.get("country"))
            )
        return sorted(listed, key=lambda participant: (participant.display_name or "", participant.country or ""))

    # Attendance --------------------------------------------------------------------------------------

    async def check_in(self, event: Event, registration_id: str) -> Registration:
        if event.status == "cancelled":
            raise Conflict("the event is cancelled")
        document = await self.registrations.find_one(
            {"_id": registration_id, "event_id": event.event_id}, {"state": 1, "member_id": 1, "event_id": 1}
        )
        if document is None:
            raise NotFound(f"no registration {registration_id} for event {event.event_id}")
        if document["state"] == "attended":
            return await self.registration(registration_id)
        if document["state"] not in ("registered", "no_show"):
            raise Conflict(f"only a registration with a seat can check in; this one is {document['state']}")
        await self._record_attendance(document, attended=True)
        return await self.registration(registration_id)

    async def _record_attendance(self, document: Document, *, attended: bool) -> bool:
        at = now()
        state = "attended" if attended else "no_show"
        recorded = AttendanceRecorded(
            event_id=document["event_id"],
            registration_id=document["_id"],
            member_id=document["member_id"],
            attended=attended,
            recorded_at=at,
        )
        result = await self.runtime.write(
            self.registrations,
            {"_id": document["_id"], "state": document["state"]},
            {"$set": {"state": state, "attendance_recorded_at": at}, "$push": {"history": {"state": state, "at": at}}},
            [recorded],
        )
        return bool(result.modified_count)

    # Jobs (run by one replica: see adapters/jobs.py) ------------------------------------------------------

    async def close_registration_windows(self) -> int:
        closed = 0
        async for document in self.events.find(
            {"status": "scheduled", "registration_closed": False, "registration_closes_at": {"$lte": now()}}, {"_id": 1}
        ):
            counts = await self._counts(document["_id"])
            event = EventRegistrationClosed(
                event_id=document["_id"],
                registered=counts["registered"],
                waitlisted=counts["waitlisted"],
                closed_at=now(),
            )
            result = await self.runtime.write(
                self.events,
                {"_id": document["_id"], "registration_closed": False},
                {"$set": {"registration_closed": True}},
                [event],
            )
            closed += result.modified_count
        return closed

    async def send_reminders(self, ahead: timedelta) -> int:
        at = now()
        sent = 0
        soon = {"status": "scheduled", "starts_at_utc": {"$gt": at, "$lte": at + ahead}}
        async for event_document in self.events.find(soon, {"_id": 1, "starts_at_utc": 1, "timezone": 1}):
            query = {"event_id": event_document["_id"], "state": "registered", "reminded": {"$ne": True}}
            async for document in self.registrations.find(query, {"member_id": 1, "event_id": 1}):
                due = RegistrationReminderDue(
                    event_id=document["event_id"],
                    registration_id=document["_id"],
                    member_id=document["member_id"],
                    starts_at=event_document["starts_at_utc"],
                    timezone=event_document["timezone"],
                    due_at=at,
                )
                result = await self.runtime.write(
                    self.registrations,
                    {"_id": document["_id"], "reminded": {"$ne": True}},
                    {"$set": {"reminded": True}},
                    [due],
                )
                sent += result.modified_count
        return sent

    async def end_finished_events(self) -> int:
        """Events whose end has passed: seats never checked in are no-shows; then the event ends
        with its counts. A crash in between is finished by the next run."""
        ended = 0
        async for event_document in self.events.find(
            {"status": "scheduled", "ends_at_utc": {"$lte": now()}}, {"_id": 1, "kind": 1}
        ):
            event_id = event_document["_id"]
            async for document in self.registrations.find(
                {"event_id": event_id, "state": "registered"}, {"state": 1, "member_id": 1, "event_id": 1}
            ):
                await self._record_attendance(document, attended=False)
            counts = await self._counts(event_id)
            at = now()
            summary = EventEnded(
                event_id=event_id,
                kind=event_document["kind"],
                registered=counts["attended"] + counts["no_show"],
                attended=counts["attended"],
                no_shows=counts["no_show"],
                ended_at=at,
            )
            result = await self.runtime.write(
                self.events,
                {"_id": event_id, "status": "scheduled"},
                {"$set": {"status": "ended", "ended_at": at, "counts": counts}},
                [summary],
            )
            ended += result.modified_count
        return ended

    async def repair(self) -> int:
        """Finish what a crash left between a seat and its registration, in events that are not
        long over: a seat held by a registration that is not seated (roll forward, or give it
        back), free seats while people wait, open registrations of a cancelled event. Returns how
        many registrations it seated."""
        fixed = 0
        recent = {"status": {"$in": ["scheduled", "cancelled"]}, "ends_at_utc": {"$gt": now() - REPAIR_WINDOW}}
        async for event_document in self.events.find(recent, {"status": 1, "waitlist_policy": 1}):
            event_id = event_document["_id"]
            # Only seats taken a while ago: a registration in flight has taken its seat and is
            # about to write itself.
            taken = {"event_id": event_id, "holder": {"$exists": True}, "taken_at": {"$lt": now() - ABANDONED_AFTER}}
            async for seat in self.seats.find(taken, {"holder": 1}):
                holder = await self.registrations.find_one({"_id": seat["holder"]}, {"state": 1})
                if holder is None or holder["state"] not in SEATED_STATES:
                    explanation = "a seat taken for them before an interruption"
                    fixed += await self._seat(
                        seat["holder"], seat["_id"], explanation, event_document["waitlist_policy"]
                    )
            if event_document["status"] == "cancelled":
                await self.cancel_open_registrations({"event_id": event_id}, "event_cancelled")
            else:
                await self.promote(event_id)
        return fixed

    async def _counts(self, event_id: str) -> dict[str, int]:
        counts = dict.fromkeys(["registered", "waitlisted", "cancelled", "attended", "no_show"], 0)
        async for document in self.registrations.find({"event_id": event_id}, {"state": 1}):
            counts[document["state"]] += 1
        return counts

    async def counts(self, event_id: str) -> dict[str, int]:
        await self.event(event_id)
        counts = await self._counts(event_id)
        counts["seats_free"] = await self.seats.count_documents({"event_id": event_id, "holder": {"$exists": False}})
        return counts

    async def require_registration(self, event_id: str, member_id: str) -> Document:
        document = await self.registrations.find_one({"event_id": event_id, "member_id": member_id}, _INTERNAL)
        if document is None or document["state"] not in ("registered", "attended"):
            raise Forbidden("only participants with a seat may do this")
        return document


_COPY: dict[str, Any] = {"status": "unknown", "country": None, "sectors": [], "display_name": None}


def _event(document: Document) -> Event:
    timezone = document["timezone"]
    return Event(
        event_id=document["_id"],
        **{key: document[key] for key in _EVENT_FIELDS if key in document},
        starts_at=local_time(document["starts_at_utc"], timezone),
        ends_at=local_time(document["ends_at_utc"], timezone),
    )


_EVENT_FIELDS = [name for name in Event.model_fields if name not in ("event_id", "starts_at", "ends_at")]


def _stored(event: Event) -> Document:
    return {"_id": event.event_id, **event.model_dump(mode="python", exclude={"event_id", "starts_at", "ends_at"})}


def _schedule_fields(schedule: Schedule) -> Document:
    start = instant(schedule.starts_at, schedule.timezone)
    fields: Document = {
        "timezone": schedule.timezone,
        "starts_at_utc": start,
        "ends_at_utc": instant(schedule.ends_at, schedule.timezone),
        "registration_closes_at": schedule.closes(start),
    }
    if schedule.registration_opens_at is not None:
        fields["registration_opens_at"] = schedule.registration_opens_at
    return fields


def _challenge_posted(event_id: str, challenge: Challenge, at: datetime) -> HackathonChallengePosted:
    return HackathonChallengePosted(
        event_id=event_id, challenge_id=challenge.challenge_id, title=challenge.title, posted_at=at
    )
