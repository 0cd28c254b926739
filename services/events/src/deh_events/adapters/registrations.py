"""Registrations in MongoDB: seats, the waitlist, attendance, and the jobs around them.

Seats: an event has one small document per place, and a registration holds a seat by writing
its attempt token into that seat's `holder` (a unique sparse index: one seat per attempt). Taking
a seat is one atomic `find_one_and_update` on any free seat, so a hundred people registering at
once spread over the seats instead of fighting over one event document, and the capacity holds:
there are no more seats than places. Each registration, and each registration again after a
cancellation, is a new attempt with a new token, so a late "give back the seat" of an earlier
attempt can never free the seat of a later one.

The seat is the truth; the registration's state follows it, written once with its contract event
in the registration's outbox. `repair` finishes what a crash leaves between the two.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from deh_contracts import Contract
from deh_contracts.catalogue.events import (
    AttendanceRecorded,
    EventEnded,
    EventRegistrationClosed,
    RegistrationCancelled,
    RegistrationConfirmed,
    RegistrationPromoted,
    RegistrationReminderDue,
    RegistrationWaitlisted,
)
from deh_events.adapters.store import EventStore
from deh_events.domain.events import Event, registration_refusal
from deh_events.domain.registrations import (
    OPEN_STATES,
    PARTICIPATING_STATES,
    SEATED_STATES,
    Participant,
    QueueClock,
    Registration,
    RegistrationForm,
)
from deh_events.domain.waitlist import Candidate, choose_next
from deh_platform.auth import Principal
from deh_platform.errors import Conflict, Forbidden, NotFound
from deh_platform.identity import MemberCopy
from deh_platform.people import stand_in
from deh_platform.records import HIDDEN_FIELDS, new_id, now

Document = dict[str, Any]
log = logging.getLogger(__name__)
# The repair job looks at events that ended at most this long ago, and all later ones.
REPAIR_WINDOW = timedelta(days=7)
# A conditional write that keeps finding its document changed gives up with a 409 after this many.
RETRIES = 10


class RegistrationStore:
    def __init__(self, store: EventStore, *, repair_after: timedelta = timedelta(minutes=1)) -> None:
        # A seat taken this long ago by an attempt that is not seated was left by a crash: `repair`
        # seats the registration (a promotion cut short) or frees the seat (never written, or
        # cancelled since).
        self.repair_after = repair_after
        self.store = store
        self.runtime = store.runtime
        self.events = store.events
        self.seats = store.seats
        self.registrations: AsyncCollection[Document] = store.registrations
        self.queue_clock = QueueClock()
        # Told when a registration with a hackathon team is cancelled (the team store removes them).
        self.on_cancelled: Callable[[str, str], Awaitable[object]] | None = None

    async def create_indexes(self) -> None:
        await self.registrations.create_index([("event_id", ASCENDING), ("member_id", ASCENDING)], unique=True)
        await self.registrations.create_index([("event_id", ASCENDING), ("state", ASCENDING)])
        await self.registrations.create_index([("member_id", ASCENDING), ("state", ASCENDING)])
        await self.registrations.create_index("attempt", unique=True)

    # Reading -------------------------------------------------------------------------------------

    async def registration(self, registration_id: str) -> Registration:
        document = await self.registrations.find_one({"_id": registration_id}, HIDDEN_FIELDS)
        if document is None:
            raise NotFound(f"no registration {registration_id}")
        return await self._shown(document)

    async def registration_of(self, event_id: str, member_id: str) -> Registration | None:
        document = await self.registrations.find_one({"event_id": event_id, "member_id": member_id}, HIDDEN_FIELDS)
        return None if document is None else await self._shown(document)

    async def participates(self, event_id: str, member_id: str) -> bool:
        """Holds a seat (registered, or attended): sees the link and the participant list, forms teams."""
        return _participating(await self.registration_of(event_id, member_id))

    async def require_participant(self, event_id: str, member_id: str) -> Registration:
        registration = await self.registration_of(event_id, member_id)
        if registration is None or not _participating(registration):
            raise Forbidden("only participants with a seat may do this")
        return registration

    async def list_registrations(self, event_id: str, state: str | None) -> list[Registration]:
        query: Document = {"event_id": event_id}
        if state:
            query["state"] = state
        found = self.registrations.find(query, HIDDEN_FIELDS).sort(
            [("queue_key", ASCENDING), ("requested_at", ASCENDING)]
        )
        return [await self._shown(document) async for document in found]

    async def registrations_of_member(self, member_id: str) -> list[Registration]:
        found = self.registrations.find({"member_id": member_id}, HIDDEN_FIELDS).sort("requested_at", ASCENDING)
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

    async def _position(self, event_id: str, queue_key: int) -> int:
        ahead = await self.registrations.count_documents(
            {"event_id": event_id, "state": "waitlisted", "queue_key": {"$lt": queue_key}}
        )
        return ahead + 1

    async def participants(self, event_id: str) -> list[Participant]:
        query = {"event_id": event_id, "state": {"$in": list(PARTICIPATING_STATES)}, "appear_on_participant_list": True}
        listed = []
        async for document in self.registrations.find(query, {"member_id": 1, "country": 1}):
            member = await self.store.member(document["member_id"])
            name = member.display_name if member else None
            listed.append(Participant(display_name=name, country=document.get("country")))
        return sorted(listed, key=lambda participant: (participant.display_name or "", participant.country or ""))

    async def counts(self, event_id: str) -> dict[str, int]:
        counts = dict.fromkeys(["registered", "waitlisted", "cancelled", "attended", "no_show"], 0)
        pipeline: list[Document] = [
            {"$match": {"event_id": event_id}},
            {"$group": {"_id": "$state", "count": {"$sum": 1}}},
        ]
        async for group in await self.registrations.aggregate(pipeline):
            counts[group["_id"]] = group["count"]
        return counts

    # Registering -----------------------------------------------------------------------------------

    async def register(self, event: Event, caller: Principal, form: RegistrationForm) -> Registration:
        member = await self.store.member(caller.member_id)
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
        attempt = new_id()
        first_timer = await self._first_timer(caller.member_id) if event.waitlist_policy == "balanced" else None
        # Fairness: while people wait, a newcomer joins the waitlist behind them; a freed seat
        # goes by the waitlist's policy, not to whoever asks next.
        someone_waits = await self.registrations.find_one(
            {"event_id": event.event_id, "state": "waitlisted"}, {"_id": 1}
        )
        seat = None if someone_waits else await self._take_seat(event.event_id, attempt)
        # The seat comes first, then the registration is written once, with its outcome and its
        # event. A crash in between leaves a seat whose attempt was never written: `repair` frees it.
        place = None
        if seat is None:
            key = self.queue_clock.next()
            place = (key, await self._position(event.event_id, key))
        document, outcome = self._new_registration(event, registration_id, attempt, member, caller, form, seat, place)
        document["first_timer"] = first_timer
        try:
            await self._store_registration(document, outcome, reopening=existing is not None)
        except Conflict:
            if seat is not None:
                await self._free_seat(attempt)
            raise
        # Each check below closes a gap with a change made while this registration was written.
        if seat is not None:
            await self._keep_seat(event.event_id, registration_id, attempt, seat)
        gave_back = await self._recheck_membership(caller.member_id, member, registration_id)
        await self._recheck_event(event.event_id, registration_id)
        if seat is None or gave_back:  # a seat may have freed meanwhile, or this one just did
            await self._promote_soon(event.event_id)
        return await self.registration(registration_id)

    def _new_registration(
        self,
        event: Event,
        registration_id: str,
        attempt: str,
        member: MemberCopy | None,
        caller: Principal,
        form: RegistrationForm,
        seat: str | None,
        place: tuple[int, int] | None,
    ) -> tuple[Document, Contract]:
        """The registration's document and outcome: a seat, or a waitlist `place` (its queue key
        and position)."""
        at = now()
        country, sectors = (member.country, member.sectors) if member else (None, [])
        document: Document = {
            "_id": registration_id,
            "event_id": event.event_id,
            "member_id": caller.member_id,
            "attempt": attempt,
            "country": country,
            "sectors": sectors,
            "appear_on_participant_list": form.appear_on_participant_list,
            "requested_at": at,
            "explanation": None,
            "team_id": None,
            "reminded": False,
        }
        outcome: Contract
        if place is None:
            document.update(state="registered", seat=seat, seated_at=at, queue_key=None)
            sector = sectors[0] if sectors else None
            outcome = RegistrationConfirmed(**_about(document), country=country, sector=sector, confirmed_at=at)
        else:
            key, position = place
            document.update(state="waitlisted", seat=None, queue_key=key, waitlisted_at=at)
            outcome = RegistrationWaitlisted(**_about(document), position=position, waitlisted_at=at)
        document["history"] = [{"state": document["state"], "at": at, "note": None}]
        return document, outcome

    async def _first_timer(self, member_id: str) -> bool:
        """Never attended a hub event (only the balanced policy asks)."""
        return await self.registrations.find_one({"member_id": member_id, "state": "attended"}, {"_id": 1}) is None

    async def _store_registration(self, document: Document, outcome: Contract, *, reopening: bool) -> None:
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
            {"_id": document["_id"], "state": "cancelled", **_same_person(document)},
            {"$set": fields, "$push": {"history": {"$each": history}}},
            [outcome],
        )
        if not reopened.modified_count:
            raise Conflict("this member's registration changed meanwhile")

    async def _keep_seat(self, event_id: str, registration_id: str, attempt: str, seat: str) -> None:
        """The repair job gives back a seat whose registration it cannot find after `repair_after`;
        a request slower than that (a stalled server) finds its seat gone. It takes another, or
        the registration moves to the waitlist, with its event: the capacity always holds."""
        if await self.seats.find_one({"_id": seat, "holder": attempt}, {"_id": 1}):
            return
        other = await self._take_seat(event_id, attempt)
        if other is not None:
            await self.registrations.update_one({"_id": registration_id, "attempt": attempt}, {"$set": {"seat": other}})
            return
        document = await self.registrations.find_one(
            {"_id": registration_id, "attempt": attempt, "state": "registered"}
        )
        if document is None:
            return
        at = now()
        key = self.queue_clock.next()
        position = await self._position(event_id, key)
        waitlisted = RegistrationWaitlisted(**_about(document), position=position, waitlisted_at=at)
        note = "the seat was given back while the request was stalled"
        await self.runtime.write(
            self.registrations,
            {"_id": registration_id, "attempt": attempt, "state": "registered", **_same_person(document)},
            {
                "$set": {"state": "waitlisted", "seat": None, "queue_key": key, "waitlisted_at": at},
                "$push": {"history": {"state": "waitlisted", "at": at, "note": note}},
            },
            [waitlisted],
        )

    async def _recheck_event(self, event_id: str, registration_id: str) -> None:
        """The event was cancelled, or ended, while this registration or promotion was written:
        the cancellation's (or the end's) pass over the registrations may have missed it."""
        event = await self.events.find_one({"_id": event_id}, {"status": 1})
        if event is None or event["status"] == "scheduled":
            return
        if event["status"] == "cancelled":
            await self._cancel_one(registration_id, "event_cancelled")
            return
        document = await self.registrations.find_one(
            {"_id": registration_id, "state": "registered"}, {"state": 1, "member_id": 1, "event_id": 1}
        )
        if document is not None:
            await self._record_attendance(document, attended=False)

    async def _promote_soon(self, event_id: str) -> None:
        """Promote after a change that is stored already: if promoting fails now, the change
        stands (no error for it) and the repair job promotes later."""
        try:
            await self.promote(event_id)
        except Conflict as error:
            log.warning("promotion in event %s left to the repair job: %s", event_id, error)

    async def _recheck_membership(self, member_id: str, before: MemberCopy | None, registration_id: str) -> bool:
        """A suspension, departure or erasure that arrived while this registration was being
        written: its handler updated the copy, then looked for registrations (maybe before this
        one was written); looking at the copy after writing closes that gap. True when it cancelled."""
        if before is None:
            return False
        after = await self.store.member(member_id)
        if after is None or after.status == "erased":
            # This one, anonymised first, so that its cancellation's event names nobody (the copy
            # that knew the member's reference may be gone already); the erasure's handler
            # cancels and anonymises the member's others.
            await self._anonymise_one(registration_id)
            await self._cancel_one(registration_id, "member_erased")
            return True
        if after.status in ("suspended", "left"):
            await self._cancel_one(registration_id, f"member_{after.status}")
            return True
        return False

    async def _take_seat(self, event_id: str, attempt: str) -> str | None:
        try:
            seat = await self.seats.find_one_and_update(
                {"event_id": event_id, "holder": {"$exists": False}},
                {"$set": {"holder": attempt, "taken_at": now()}},
                projection={"_id": 1},
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # this attempt holds a seat already (a concurrent promotion)
            seat = await self.seats.find_one({"holder": attempt}, {"_id": 1})
        return None if seat is None else str(seat["_id"])

    async def _free_seat(self, attempt: str) -> None:
        await self.seats.update_one({"holder": attempt}, {"$unset": {"holder": "", "taken_at": ""}})

    # The waitlist ---------------------------------------------------------------------------------------

    async def promote(self, event_id: str) -> int:
        """Give free seats to the waitlist, one by one by the event's policy. Safe to run
        concurrently: a seat has one holder and an attempt at most one seat. Returns how many
        were promoted."""
        event = await self.store.event(event_id)
        promoted = 0
        while event.status == "scheduled":
            if not await self.seats.find_one({"event_id": event_id, "holder": {"$exists": False}}, {"_id": 1}):
                break
            waiting = await self._candidates(event_id, ["waitlisted"])
            # Only the balanced policy looks at who is seated.
            balanced = event.waitlist_policy == "balanced"
            seated = await self._candidates(event_id, list(SEATED_STATES)) if balanced else {}
            choice = choose_next(
                event.waitlist_policy,
                [candidate for candidate, _ in waiting.values()],
                [candidate for candidate, _ in seated.values()],
            )
            if choice is None:
                break
            attempt = waiting[choice.registration_id][1]
            seat = await self._take_seat(event_id, attempt)
            if seat is None:
                break  # taken meanwhile
            promoted += await self._settle_promotion(attempt, seat, choice.explanation, event.waitlist_policy)
        return promoted

    async def _candidates(self, event_id: str, states: list[str]) -> dict[str, tuple[Candidate, str]]:
        """The registrations in these states, as the waitlist policies see them, with their attempt."""
        found = self.registrations.find(
            {"event_id": event_id, "state": {"$in": states}},
            {"queue_key": 1, "country": 1, "sectors": 1, "first_timer": 1, "attempt": 1},
        )
        candidates = {}
        async for document in found:
            candidate = Candidate(
                registration_id=document["_id"],
                queue_key=document.get("queue_key") or 0,
                country=document.get("country"),
                sectors=tuple(document.get("sectors") or ()),
                first_timer=bool(document.get("first_timer")),
            )
            candidates[document["_id"]] = (candidate, document["attempt"])
        return candidates

    async def _settle_promotion(self, attempt: str, seat: str, explanation: str, policy: str) -> bool:
        """Record that the waitlisted registration of this attempt holds `seat` (a promotion).
        If the attempt is over (cancelled, registered again) or was never written, the seat is
        given back. True when this call seated it."""
        for _ in range(RETRIES):
            document = await self.registrations.find_one(
                {"attempt": attempt}, {"state": 1, "event_id": 1, "member_id": 1}
            )
            if document is None or document["state"] != "waitlisted":
                if document is None or document["state"] not in SEATED_STATES:
                    await self._free_seat(attempt)
                return False
            at = now()
            promoted = RegistrationPromoted(
                **_about(document),
                promoted_at=at,
                policy=policy,
                explanation=explanation,
            )
            result = await self.runtime.write(
                self.registrations,
                {"_id": document["_id"], "attempt": attempt, "state": "waitlisted", **_same_person(document)},
                {
                    "$set": {"state": "registered", "seat": seat, "explanation": explanation, "seated_at": at},
                    "$push": {"history": {"state": "registered", "at": at, "note": explanation}},
                },
                [promoted],
            )
            if result.modified_count:
                await self._recheck_event(document["event_id"], document["_id"])
                return True
        raise Conflict("the registration kept changing; the repair job finishes this promotion")

    # Cancelling ----------------------------------------------------------------------------------------

    async def cancel(self, registration_id: str, reason: str) -> Registration:
        document = await self.registrations.find_one({"_id": registration_id}, {"state": 1, "event_id": 1})
        if document is None:
            raise NotFound(f"no registration {registration_id}")
        if document["state"] not in OPEN_STATES:
            raise Conflict(f"the registration is {document['state']}")
        await self._cancel_one(registration_id, reason)
        await self._promote_soon(document["event_id"])
        return await self.registration(registration_id)

    async def _cancel_one(self, registration_id: str, reason: str) -> None:
        for _ in range(RETRIES):
            document = await self.registrations.find_one(
                {"_id": registration_id}, {"state": 1, "event_id": 1, "member_id": 1, "attempt": 1, "team_id": 1}
            )
            if document is None or document["state"] not in OPEN_STATES:
                return
            at = now()
            cancelled = RegistrationCancelled(
                **_about(document),
                cancelled_at=at,
                reason=reason,
                was_registered=document["state"] == "registered",
            )
            result = await self.runtime.write(
                self.registrations,
                {
                    "_id": registration_id,
                    "attempt": document["attempt"],
                    "state": document["state"],
                    **_same_person(document),
                },
                {
                    "$set": {"state": "cancelled", "cancelled_at": at, "seat": None},
                    "$push": {"history": {"state": "cancelled", "at": at, "note": reason}},
                },
                [cancelled],
            )
            if result.modified_count:
                await self._free_seat(document["attempt"])
                if document.get("team_id") and self.on_cancelled is not None:
                    await self.on_cancelled(document["team_id"], document["member_id"])
                return
        raise Conflict("the registration kept changing; try again")

    async def cancel_open_registrations(self, query: Document, reason: str) -> None:
        """Cancel the open registrations the query finds (for a member: of events that have not
        started), then promote from each event's waitlist."""
        if "member_id" in query:
            upcoming = {"status": "scheduled", "starts_at_utc": {"$gt": now()}}
            query = {**query, "event_id": {"$in": [e["_id"] async for e in self.events.find(upcoming, {"_id": 1})]}}
        events: set[str] = set()
        async for document in self.registrations.find({**query, "state": {"$in": list(OPEN_STATES)}}, {"event_id": 1}):
            await self._cancel_one(document["_id"], reason)
            events.add(document["event_id"])
        for event_id in events:
            await self._promote_soon(event_id)

    async def anonymise(self, member_id: str) -> None:
        """After `member erased`: each registration gets its own opaque id (one per event must
        stay unique) and loses the person's country and sectors; the states, and so the counts,
        stay. Events already in an outbox leave as they were written."""
        async for registration in self.registrations.find({"member_id": member_id}, {"_id": 1}):
            await self._anonymise_one(registration["_id"])

    async def _anonymise_one(self, registration_id: str) -> None:
        anonymous: Document = {"member_id": stand_in(), "country": None, "sectors": []}
        await self.registrations.update_one(
            {"_id": registration_id}, {"$set": {**anonymous, "appear_on_participant_list": False}}
        )

    # Attendance -----------------------------------------------------------------------------------------

    async def check_in(self, event: Event, registration_id: str) -> Registration:
        """The participant came; also after the event ended, correcting a no-show."""
        if event.status == "cancelled":
            raise Conflict("the event is cancelled")
        for _ in range(RETRIES):
            document = await self.registrations.find_one(
                {"_id": registration_id, "event_id": event.event_id}, {"state": 1, "member_id": 1, "event_id": 1}
            )
            if document is None:
                raise NotFound(f"no registration {registration_id} for event {event.event_id}")
            if document["state"] == "attended":
                break
            if document["state"] not in ("registered", "no_show"):
                raise Conflict(f"only a registration with a seat can check in; this one is {document['state']}")
            if await self._record_attendance(document, attended=True):
                break
        else:
            raise Conflict("the registration kept changing; try again")
        return await self.registration(registration_id)

    async def _record_attendance(self, document: Document, *, attended: bool) -> bool:
        at = now()
        state = "attended" if attended else "no_show"
        recorded = AttendanceRecorded(
            **_about(document),
            attended=attended,
            recorded_at=at,
        )
        result = await self.runtime.write(
            self.registrations,
            {"_id": document["_id"], "state": document["state"], **_same_person(document)},
            {"$set": {"state": state, "attendance_recorded_at": at}, "$push": {"history": {"state": state, "at": at}}},
            [recorded],
        )
        return bool(result.modified_count)

    # Jobs (each run by one replica: see adapters/jobs.py) --------------------------------------------------

    async def close_registration_windows(self) -> int:
        closed = 0
        due = {"status": "scheduled", "registration_closed": False, "registration_closes_at": {"$lte": now()}}
        async for document in self.events.find(due, {"_id": 1}):
            counts = await self.counts(document["_id"])
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
                    **_about(document),
                    starts_at=event_document["starts_at_utc"],
                    timezone=event_document["timezone"],
                    due_at=at,
                )
                result = await self.runtime.write(
                    self.registrations,
                    {"_id": document["_id"], "reminded": {"$ne": True}, **_same_person(document)},
                    {"$set": {"reminded": True}},
                    [due],
                )
                sent += result.modified_count
        return sent

    async def end_finished_events(self) -> int:
        """Events whose end has passed: first marked ended (no promotion or registration takes
        a seat after that, and one written meanwhile checks the mark), then seats never checked
        in become no-shows, then `event ended` is published with the counts and the seats go.
        A crash midway is finished by the next run."""
        ended = 0
        at = now()
        await self.events.update_many(
            {"status": "scheduled", "ends_at_utc": {"$lte": at}}, {"$set": {"status": "ended", "ended_at": at}}
        )
        unpublished = {"status": "ended", "end_published": {"$ne": True}}
        async for event_document in self.events.find(unpublished, {"_id": 1, "kind": 1, "ended_at": 1}):
            event_id = event_document["_id"]
            seated = {"event_id": event_id, "state": "registered"}
            async for document in self.registrations.find(seated, {"state": 1, "member_id": 1, "event_id": 1}):
                await self._record_attendance(document, attended=False)
            counts = await self.counts(event_id)
            summary = EventEnded(
                event_id=event_id,
                kind=event_document["kind"],
                registered=counts["attended"] + counts["no_show"],
                attended=counts["attended"],
                no_shows=counts["no_show"],
                ended_at=event_document["ended_at"],
            )
            result = await self.runtime.write(
                self.events,
                {"_id": event_id, "end_published": {"$ne": True}},
                {"$set": {"end_published": True, "counts": counts}},
                [summary],
            )
            await self.seats.delete_many({"event_id": event_id})  # attendance no longer needs them
            ended += result.modified_count
        return ended

    async def repair(self) -> int:
        """Finish what a crash left, in events that are not long over: a seat held by an attempt
        that is not seated (roll the promotion forward, or give the seat back), a capacity change
        cut short, free seats while people wait, open registrations of a cancelled event.
        Returns how many cut-short promotions it finished."""
        fixed = 0
        since: datetime = now() - REPAIR_WINDOW
        recent = {"status": {"$in": ["scheduled", "cancelled"]}, "ends_at_utc": {"$gt": since}}
        async for event_document in self.events.find(recent, {"status": 1, "waitlist_policy": 1}):
            event_id = event_document["_id"]
            await self.store.finish_resizing(event_id, older_than=self.repair_after)
            # Only seats taken a while ago: a registration in flight takes its seat, then writes itself.
            taken = {"event_id": event_id, "holder": {"$exists": True}, "taken_at": {"$lt": now() - self.repair_after}}
            async for seat in self.seats.find(taken, {"holder": 1}):
                holder = await self.registrations.find_one({"attempt": seat["holder"]}, {"state": 1})
                if holder is None or holder["state"] not in SEATED_STATES:
                    explanation = "a seat taken for them before an interruption"
                    if event_document["status"] == "cancelled":
                        await self._free_seat(seat["holder"])
                        continue
                    fixed += await self._settle_promotion(
                        seat["holder"], seat["_id"], explanation, event_document["waitlist_policy"]
                    )
            if event_document["status"] == "cancelled":
                await self.close_cancelled(event_id)
            else:
                await self._promote_soon(event_id)
        return fixed

    async def close_cancelled(self, event_id: str) -> None:
        """After `event cancelled`: every open registration is cancelled and the seats go (a
        registration written meanwhile sees the cancellation and cancels itself)."""
        await self.cancel_open_registrations({"event_id": event_id}, "event_cancelled")
        await self.seats.delete_many({"event_id": event_id})


def _same_person(document: Document) -> Document:
    """A condition that the registration still names the person it was read with: an erasure in
    between (an opaque id in their place) makes the write match nothing, so that its event never
    names the account of someone erased."""
    return {"member_id": document["member_id"]}


def _about(document: Document) -> dict[str, str]:
    """Whom a registration's contract event is about: the fields every one of them carries."""
    return {"event_id": document["event_id"], "registration_id": document["_id"], "member_id": document["member_id"]}


def _participating(registration: Registration | None) -> bool:
    return registration is not None and registration.state in PARTICIPATING_STATES
