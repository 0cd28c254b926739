"""The events service's MongoDB store of events, their seats' number, and the copy of members.

Every change of an event is one conditional update of its document with its contract events
(the outbox). A capacity change also adds or removes seat documents: it is marked on the event
first, so that one runs at a time, and the repair job completes one that a crash cut short.
Registrations and the taking of seats are in `registrations.py`, teams in `teams.py`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from deh_contracts.catalogue.events import EventCancelled, EventScheduled, EventUpdated, HackathonChallengePosted
from deh_events.domain.events import (
    Challenge,
    ChallengeForm,
    Event,
    EventChanges,
    EventDraft,
    Schedule,
    instant,
    local_time,
)
from deh_platform.creation import Creation, forget_caller
from deh_platform.errors import Conflict, InvalidInput, NotFound
from deh_platform.identity import MemberCopy
from deh_platform.people import MemberCopies, stand_in
from deh_platform.records import HIDDEN_FIELDS, new_id, now
from deh_platform.runtime import ServiceRuntime

Document = dict[str, Any]
OUTBOX_COLLECTIONS = ("events", "registrations", "teams")


class EventStore:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        db = runtime.db
        self.events: AsyncCollection[Document] = db.events
        self.seats: AsyncCollection[Document] = db.seats
        self.registrations: AsyncCollection[Document] = db.registrations
        self.teams: AsyncCollection[Document] = db.teams
        # Membership's people topic: who may register, their country and sectors, their name.
        self.people = MemberCopies(db)
        self.feeds: AsyncCollection[Document] = db.calendar_feeds

    async def create_indexes(self) -> None:
        await self.seats.create_index("holder", unique=True, sparse=True)
        await self.seats.create_index([("event_id", ASCENDING), ("holder", ASCENDING)])
        await self.events.create_index([("status", ASCENDING), ("starts_at_utc", ASCENDING)])
        await self.people.create_indexes()

    # Events -------------------------------------------------------------------------------------

    async def event(self, event_id: str) -> Event:
        document = await self.events.find_one({"_id": event_id}, HIDDEN_FIELDS)
        if document is None:
            raise NotFound(f"no event {event_id}")
        return _event(document)

    async def list_events(self, *, after: datetime, kind: str | None, limit: int) -> list[Event]:
        query: Document = {"ends_at_utc": {"$gt": after}}
        if kind:
            query["kind"] = kind
        found = self.events.find(query, HIDDEN_FIELDS).sort([("starts_at_utc", ASCENDING), ("_id", ASCENDING)])
        return [_event(document) async for document in found.limit(limit)]

    async def create_event(self, draft: EventDraft, organiser: str, creation: Creation) -> Event:
        """A new event with its seats; with an `Idempotency-Key`, a retry gets the event the first
        request created (its seats have ids by number, so a retry adds none)."""
        at = now()
        event_id = creation.new_id("event")
        if creation.key and creation.is_retry_of(await self.events.find_one({"_id": event_id})):
            return await self.event(event_id)  # checked before the seats: another body must add none
        schedule = draft.schedule
        challenges = [Challenge(challenge_id=new_id(), **form.model_dump()) for form in draft.challenges]
        document: Document = {
            "_id": event_id,
            **draft.model_dump(mode="json", exclude={"schedule", "challenges", "online_link"}),
            "online_link": str(draft.online_link) if draft.online_link else None,
            "registration_opens_at": at,
            **_schedule_fields(schedule),
            "registration_closed": False,
            "challenges": [challenge.model_dump() for challenge in challenges],
            "status": "scheduled",
            "organiser_id": organiser,
            "resizing": None,
            "created_at": at,
        }
        event = _event(document)
        # Seats first: an event is visible only once all its seats exist (a crash before leaves
        # seats of no event, which nobody can take).
        await self._add_first_seats(event_id, draft.capacity)
        scheduled = EventScheduled(
            event_id=event_id,
            kind=event.kind,
            title=event.title,
            starts_at=event.starts_at_utc,
            ends_at=event.ends_at_utc,
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
        try:
            if not await self.runtime.insert(self.events, document, [scheduled, *posted], creation):
                return await self.event(event_id)
        except InvalidInput:  # another request under this key made the event: its capacity holds
            await self._remove_first_seats_beyond((await self.event(event_id)).capacity, event_id)
            raise
        if creation.key:  # seats that an attempt under this key left (cut short, or racing) go
            await self._remove_first_seats_beyond(draft.capacity, event_id)
        return event

    async def _add_first_seats(self, event_id: str, count: int) -> None:
        for start in range(0, count, 1000):
            numbers = range(start, min(start + 1000, count))
            seats = [{"_id": f"{event_id}:{n}", "event_id": event_id, "number": n} for n in numbers]
            try:
                await self.seats.insert_many(seats, ordered=False)
            except BulkWriteError as error:  # a retry's seats exist already; anything else is an error
                details = error.details
                if details.get("writeConcernErrors") or any(e["code"] != 11000 for e in details["writeErrors"]):
                    raise

    async def _add_seats(self, event_id: str, count: int) -> None:
        for start in range(0, count, 1000):
            seats = [{"_id": f"{event_id}:{new_id()}", "event_id": event_id} for _ in range(min(1000, count - start))]
            await self.seats.insert_many(seats)

    async def _remove_first_seats_beyond(self, capacity: int, event_id: str) -> None:
        """Free first seats numbered from `capacity` on: by number, so that attempts racing
        under one key never remove more than the extras between them."""
        await self.seats.delete_many({"event_id": event_id, "number": {"$gte": capacity}, "holder": {"$exists": False}})

    async def update_event(self, event: Event, changes: EventChanges) -> Event:
        """Apply an organiser's changes. A new capacity is first marked on the event, then the
        seats follow, then the event records it with its contract event (see `_resize`)."""
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
            # A new time: registration may open again, and a reminder is due again (below).
            updates["registration_closed"] = False
        selector: Document = {"_id": event.event_id, "status": "scheduled", "resizing": None}
        token = None
        if changes.capacity is not None and changes.capacity != event.capacity:
            token = await self._resize(event, changes.capacity)
            selector = {"_id": event.event_id, "status": "scheduled", "resizing.token": token}
            updates.update(capacity=changes.capacity, resizing=None)
        after = _event({**_stored(event), **updates})
        if not await self._record_change(selector, updates, sorted(given), after):
            if token is not None:  # the seats go back to the capacity the event still records
                await self._end_resizing(event.event_id, token, event.capacity)
            raise Conflict("the event changed meanwhile (cancelled, or another change); read it again")
        if changes.schedule is not None:
            await self.registrations.update_many({"event_id": event.event_id}, {"$set": {"reminded": False}})
        return after

    async def _record_change(self, selector: Document, updates: Document, fields: list[str], after: Event) -> bool:
        at = now()
        changed = EventUpdated(
            event_id=after.event_id,
            changed_fields=fields,
            title=after.title,
            starts_at=after.starts_at_utc,
            ends_at=after.ends_at_utc,
            timezone=after.timezone,
            capacity=after.capacity,
            updated_at=at,
        )
        result = await self.runtime.write(self.events, selector, {"$set": {**updates, "updated_at": at}}, [changed])
        return bool(result.modified_count)

    async def _resize(self, event: Event, capacity: int) -> str:
        """Mark the change on the event (so that one capacity change runs at a time), then add
        or remove free seats until there are `capacity`. Returns the change's token. A crash
        midway leaves the mark, which `finish_resizing` completes."""
        token = new_id()
        marked = await self.events.update_one(
            {"_id": event.event_id, "status": "scheduled", "capacity": event.capacity, "resizing": None},
            {"$set": {"resizing": {"token": token, "to": capacity, "at": now()}}},
        )
        if not marked.modified_count:
            raise Conflict("the event changed meanwhile (cancelled, or another change); read it again")
        try:
            await self._set_seat_count(event.event_id, capacity)
        except Conflict:
            await self._end_resizing(event.event_id, token, event.capacity)
            raise
        return token

    async def _end_resizing(self, event_id: str, token: str, capacity: int) -> None:
        """Seats back to `capacity` (what the event records), and the mark cleared."""
        await self._set_seat_count(event_id, capacity)
        await self.events.update_one({"_id": event_id, "resizing.token": token}, {"$set": {"resizing": None}})

    async def _set_seat_count(self, event_id: str, capacity: int) -> None:
        seats = await self.seats.count_documents({"event_id": event_id})
        if seats < capacity:
            await self._add_seats(event_id, capacity - seats)
            return
        taken = await self.seats.count_documents({"event_id": event_id, "holder": {"$exists": True}})
        if taken > capacity:
            raise Conflict(f"{taken} seats are taken; the capacity cannot go below that")
        for _ in range(seats - capacity):  # only free seats go
            if await self.seats.find_one_and_delete({"event_id": event_id, "holder": {"$exists": False}}) is None:
                raise Conflict("seats were taken meanwhile; the capacity is unchanged")

    async def finish_resizing(self, event_id: str, *, older_than: timedelta) -> None:
        """A capacity change that a crash cut short: completed if the seats allow (people may
        have taken the added ones meanwhile), else the seats go back to the recorded capacity.
        One of the two always works: going back from a larger number, or on to a larger one,
        only adds seats."""
        document = await self.events.find_one({"_id": event_id, "resizing.at": {"$lt": now() - older_than}})
        if document is None:
            return
        event, resizing = _event(document), document["resizing"]
        try:
            await self._set_seat_count(event_id, resizing["to"])
        except Conflict:
            await self._end_resizing(event_id, resizing["token"], event.capacity)
            return
        after = event.model_copy(update={"capacity": resizing["to"]})
        selector = {"_id": event_id, "resizing.token": resizing["token"]}
        if not await self._record_change(selector, {"capacity": resizing["to"], "resizing": None}, ["capacity"], after):
            await self._end_resizing(event_id, resizing["token"], event.capacity)

    async def seats_free(self, event_id: str) -> int:
        return await self.seats.count_documents({"event_id": event_id, "holder": {"$exists": False}})

    async def cancel_event(self, event: Event, reason: str) -> Event:
        """Mark the event cancelled with its contract event; its registrations are cancelled next
        (RegistrationStore.cancel_open_registrations, and the repair job after a crash)."""
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
        return await self.event(event.event_id)

    async def post_challenge(self, event: Event, form: ChallengeForm, creation: Creation) -> Challenge:
        challenge = Challenge(challenge_id=creation.new_id("challenge"), **form.model_dump())
        posted = [_challenge_posted(event.event_id, challenge, now())]
        stored = await self.runtime.append(
            self.events, event.event_id, "challenges", challenge.model_dump(), posted, creation, named_by="challenge_id"
        )
        return Challenge(**stored)

    # Members (a copy kept from membership's events) -----------------------------------------------

    async def member(self, member_id: str) -> MemberCopy | None:
        return await self.people.member(member_id)

    async def forget_member(self, member_id: str, tombstone_headers: dict[str, str]) -> None:
        """The member's tombstone on the people topic, last step: events they organised name an
        opaque id instead, the records of Idempotency-Keys they used go, their calendar feed
        address stops working, and the copy goes (deh_platform.people)."""
        former = stand_in()
        await self.events.update_many({"organiser_id": member_id}, {"$set": {"organiser_id": former}})
        await forget_caller(self.events, member_id, {"challenges": "challenge_id"})
        await forget_caller(self.teams, member_id, {"submissions": "submission_id"})
        await self.feeds.delete_many({"member_id": member_id})
        await self.people.forget(member_id, tombstone_headers)

    # Calendar feed addresses ---------------------------------------------------------------------

    async def new_feed_key(self, member_id: str) -> str:
        """A new secret for the member's feed address; only its hash is stored, and the member's
        previous address stops working."""
        key = secrets.token_urlsafe(32)
        await self.feeds.delete_many({"member_id": member_id})
        await self.feeds.insert_one({"_id": _hashed(key), "member_id": member_id, "created_at": now()})
        return key

    async def feed_owner(self, key: str) -> str:
        document = await self.feeds.find_one({"_id": _hashed(key)})
        if document is None:
            raise NotFound("no calendar feed at this address (a newer one may have replaced it)")
        return str(document["member_id"])


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
        fields["registration_opens_at"] = schedule.opens()
    return fields


def _hashed(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _challenge_posted(event_id: str, challenge: Challenge, at: datetime) -> HackathonChallengePosted:
    return HackathonChallengePosted(
        event_id=event_id, challenge_id=challenge.challenge_id, title=challenge.title, posted_at=at
    )
