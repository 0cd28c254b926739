"""The events HTTP API for the portal. Routes check who may act, then call the stores."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel, Field

from deh_contracts.vocabulary import EventKind
from deh_events.adapters.registrations import RegistrationStore
from deh_events.adapters.store import EventStore
from deh_events.adapters.teams import Submission, SubmissionForm, Team, TeamForm, TeamStore
from deh_events.domain.calendar import Entry, calendar_file
from deh_events.domain.events import (
    Challenge,
    ChallengeForm,
    Event,
    EventChanges,
    EventDraft,
    is_organiser,
    may_organise,
)
from deh_events.domain.registrations import (
    PARTICIPATING_STATES,
    Participant,
    Registration,
    RegistrationForm,
    RegistrationState,
)
from deh_platform.auth import Caller, MaybeCaller, Principal
from deh_platform.creation import NewResource
from deh_platform.errors import Forbidden
from deh_platform.http import ResourceId, from_app
from deh_platform.openapi import errors

router = APIRouter()
CALENDAR_TYPE = "text/calendar; charset=utf-8"
CALENDAR_FILE: dict[int | str, dict[str, Any]] = {
    200: {"description": "An iCalendar file (RFC 5545)", "content": {"text/calendar": {"schema": {"type": "string"}}}}
}


Store = Annotated[EventStore, Depends(from_app("store"))]
Desk = Annotated[RegistrationStore, Depends(from_app("registrations"))]
Teams = Annotated[TeamStore, Depends(from_app("teams"))]


async def _organised(store: EventStore, event_id: str, caller: Principal) -> Event:
    event = await store.event(event_id)
    if not is_organiser(event, caller):
        raise Forbidden("only the event's organisers may do this")
    return event


async def _shown(desk: RegistrationStore, event: Event, caller: Principal | None) -> Event:
    """The event as this caller may see it: the online link only for organisers and participants."""
    if caller is not None and (
        is_organiser(event, caller) or await desk.participates(event.event_id, caller.member_id)
    ):
        return event
    return event.model_copy(update={"online_link": None})


# Events -----------------------------------------------------------------------------------------------


@router.post(
    "/events", status_code=status.HTTP_201_CREATED, response_model=Event, tags=["events"], responses=errors(403)
)
async def create_event(body: EventDraft, caller: Caller, creation: NewResource, store: Store) -> Any:
    """Put an event on the calendar. Moderators organise every kind, NAS coordinators NAS meetings."""
    if not may_organise(body.kind, caller):
        raise Forbidden("moderators organise events; NAS coordinators organise NAS meetings")
    return await store.create_event(body, caller.member_id, creation)


@router.get("/events", response_model=list[Event], tags=["events"])
async def list_events(
    caller: MaybeCaller,
    store: Store,
    desk: Desk,
    kind: EventKind | None = None,
    after: Annotated[datetime | None, Query(description="Events that end after this instant; default: now.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    """Events that have not ended yet (or after a given time), soonest first. Public."""
    events = await store.list_events(after=after or datetime.now(UTC), kind=kind, limit=limit)
    return [await _shown(desk, event, caller) for event in events]


@router.get("/events/{event_id}", response_model=Event, tags=["events"])
async def get_event(event_id: ResourceId, caller: MaybeCaller, store: Store, desk: Desk) -> Any:
    return await _shown(desk, await store.event(event_id), caller)


@router.patch("/events/{event_id}", response_model=Event, tags=["events"], responses=errors(403, 409))
async def update_event(event_id: ResourceId, body: EventChanges, caller: Caller, store: Store, desk: Desk) -> Any:
    """Change an event; a larger capacity promotes from the waitlist at once."""
    event = await store.update_event(await _organised(store, event_id, caller), body)
    await desk.promote(event_id)
    return event


class Cancellation(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/events/{event_id}/cancel", response_model=Event, tags=["events"], responses=errors(403, 409))
async def cancel_event(event_id: ResourceId, body: Cancellation, caller: Caller, store: Store, desk: Desk) -> Any:
    """Cancel an event: every open registration is cancelled, and each registrant learns of it
    through `event cancelled` and their own `registration cancelled`."""
    event = await store.cancel_event(await _organised(store, event_id, caller), body.reason)
    await desk.close_cancelled(event_id)
    return event


@router.get("/events/{event_id}/calendar.ics", tags=["calendars"], response_class=Response, responses=CALENDAR_FILE)
async def event_calendar(event_id: ResourceId, caller: MaybeCaller, store: Store, desk: Desk) -> Response:
    """The event as an iCalendar file (RFC 5545), in the event's own time zone."""
    event = await _shown(desk, await store.event(event_id), caller)
    status_text = "CANCELLED" if event.status == "cancelled" else "CONFIRMED"
    entry = Entry(event, status_text, show_link=event.online_link is not None, remind=False)
    body = calendar_file([entry], name=event.title, generated_at=datetime.now(UTC))
    return Response(body, media_type=CALENDAR_TYPE)


# Registrations ---------------------------------------------------------------------------------------------


@router.post(
    "/events/{event_id}/registrations",
    status_code=status.HTTP_201_CREATED,
    response_model=Registration,
    tags=["registrations"],
    responses=errors(409),
)
async def register(event_id: ResourceId, body: RegistrationForm, caller: Caller, store: Store, desk: Desk) -> Any:
    """Register the caller: a seat if one is free and nobody waits, else a place on the waitlist
    (`position`); a freed seat is then given by the event's waitlist policy."""
    return await desk.register(await store.event(event_id), caller, body)


class EventCounts(BaseModel):
    registered: int
    waitlisted: int
    attended: int
    no_show: int
    cancelled: int
    seats_free: int


@router.get("/events/{event_id}/counts", response_model=EventCounts, tags=["registrations"])
async def counts(event_id: ResourceId, store: Store, desk: Desk) -> Any:
    """How many hold a seat, wait, attended: public numbers, no names."""
    await store.event(event_id)
    return {**await desk.counts(event_id), "seats_free": await store.seats_free(event_id)}


@router.get(
    "/events/{event_id}/registrations", response_model=list[Registration], tags=["registrations"], responses=errors(403)
)
async def list_registrations(
    event_id: ResourceId,
    caller: Caller,
    store: Store,
    desk: Desk,
    state: Annotated[RegistrationState | None, Query()] = None,
) -> Any:
    """Every registration of the event in waitlist order, with the reasons for promotions (organisers)."""
    await _organised(store, event_id, caller)
    return await desk.list_registrations(event_id, state)


@router.get(
    "/events/{event_id}/participants", response_model=list[Participant], tags=["registrations"], responses=errors(403)
)
async def participants(event_id: ResourceId, caller: Caller, store: Store, desk: Desk) -> Any:
    """The participants who consented to appear; for organisers and participants."""
    await _organiser_or_participant(store, desk, event_id, caller)
    return await desk.participants(event_id)


async def _organiser_or_participant(
    store: EventStore, desk: RegistrationStore, event_id: str, caller: Principal
) -> None:
    event = await store.event(event_id)
    if not (is_organiser(event, caller) or await desk.participates(event_id, caller.member_id)):
        raise Forbidden("this is for the event's participants and organisers")


async def _own_or_organised(
    store: EventStore, desk: RegistrationStore, registration_id: str, caller: Principal
) -> Registration:
    registration = await desk.registration(registration_id)
    if registration.member_id != caller.member_id:
        await _organised(store, registration.event_id, caller)
    return registration


@router.get(
    "/registrations/{registration_id}", response_model=Registration, tags=["registrations"], responses=errors(403)
)
async def get_registration(registration_id: ResourceId, caller: Caller, store: Store, desk: Desk) -> Any:
    return await _own_or_organised(store, desk, registration_id, caller)


@router.post(
    "/registrations/{registration_id}/cancel",
    response_model=Registration,
    tags=["registrations"],
    responses=errors(403, 409),
)
async def cancel_registration(registration_id: ResourceId, caller: Caller, store: Store, desk: Desk) -> Any:
    """Give up a seat or a waitlist place; a freed seat goes to the waitlist at once."""
    registration = await _own_or_organised(store, desk, registration_id, caller)
    reason = "by_participant" if registration.member_id == caller.member_id else "by_organiser"
    return await desk.cancel(registration_id, reason)


@router.post(
    "/registrations/{registration_id}/check-in",
    response_model=Registration,
    tags=["attendance"],
    responses=errors(403, 409),
)
async def check_in(registration_id: ResourceId, caller: Caller, store: Store, desk: Desk) -> Any:
    """An organiser records that the participant came (also after the event, correcting a no-show)."""
    registration = await desk.registration(registration_id)
    event = await _organised(store, registration.event_id, caller)
    return await desk.check_in(event, registration_id)


@router.get("/me/registrations", response_model=list[Registration], tags=["registrations"])
async def my_registrations(caller: Caller, desk: Desk) -> Any:
    return await desk.registrations_of_member(caller.member_id)


@router.get("/me/calendar.ics", tags=["calendars"], response_class=Response, responses=CALENDAR_FILE)
async def my_calendar(caller: Caller, store: Store, desk: Desk) -> Response:
    """The caller's personal feed: events they hold a seat at (with reminders a day and an hour
    before), wait for (TENTATIVE), or that were cancelled (CANCELLED, so calendars drop them)."""
    return await _personal_feed(caller.member_id, store, desk)


class FeedAddress(BaseModel):
    path: str = Field(description="Append to the service's public address; anyone holding it reads the feed.")


@router.post("/me/calendar-feed", response_model=FeedAddress, tags=["calendars"])
async def new_calendar_feed(caller: Caller, store: Store) -> Any:
    """A private address of the caller's feed for calendar applications, which cannot send a
    token: a new address each time, and the previous one stops working."""
    return FeedAddress(path=f"/calendar-feeds/{await store.new_feed_key(caller.member_id)}.ics")


@router.get("/calendar-feeds/{key}.ics", tags=["calendars"], response_class=Response, responses=CALENDAR_FILE)
async def calendar_feed(key: Annotated[str, Path(max_length=100)], store: Store, desk: Desk) -> Response:
    """A personal feed by its private address (see `POST /me/calendar-feed`)."""
    return await _personal_feed(await store.feed_owner(key), store, desk)


async def _personal_feed(member_id: str, store: EventStore, desk: RegistrationStore) -> Response:
    entries = []
    for registration in await desk.registrations_of_member(member_id):
        if registration.state == "no_show":
            continue
        event = await store.event(registration.event_id)
        seated = registration.state in PARTICIPATING_STATES
        if event.status == "cancelled" or registration.state == "cancelled":
            status_text = "CANCELLED"
        else:
            status_text = "CONFIRMED" if seated else "TENTATIVE"
        entries.append(Entry(event, status_text, show_link=seated, remind=seated))
    body = calendar_file(entries, name="My Digital Education Hub events", generated_at=datetime.now(UTC))
    return Response(body, media_type=CALENDAR_TYPE)


# Hackathons --------------------------------------------------------------------------------------------------


@router.post(
    "/events/{event_id}/challenges",
    status_code=status.HTTP_201_CREATED,
    response_model=Challenge,
    tags=["hackathons"],
    responses=errors(403, 409),
)
async def post_challenge(
    event_id: ResourceId, body: ChallengeForm, caller: Caller, creation: NewResource, store: Store
) -> Any:
    return await store.post_challenge(await _organised(store, event_id, caller), body, creation)


@router.get("/events/{event_id}/teams", response_model=list[Team], tags=["hackathons"], responses=errors(403))
async def list_teams(event_id: ResourceId, caller: Caller, store: Store, desk: Desk, teams: Teams) -> Any:
    """The hackathon's teams and their submissions (for organisers and participants)."""
    await _organiser_or_participant(store, desk, event_id, caller)
    return await teams.teams_of(event_id)


@router.post(
    "/events/{event_id}/teams",
    status_code=status.HTTP_201_CREATED,
    response_model=Team,
    tags=["hackathons"],
    responses=errors(403, 409),
)
async def form_team(event_id: ResourceId, body: TeamForm, caller: Caller, store: Store, teams: Teams) -> Any:
    """A participant holding a seat forms a team on a challenge (one team per person)."""
    return await teams.form(await store.event(event_id), caller.member_id, body)


async def _team_event(store: EventStore, teams: TeamStore, team_id: str) -> Event:
    return await store.event((await teams.team(team_id)).event_id)


@router.post("/teams/{team_id}/join", response_model=Team, tags=["hackathons"], responses=errors(403, 409))
async def join_team(team_id: ResourceId, caller: Caller, store: Store, teams: Teams) -> Any:
    return await teams.join(await _team_event(store, teams, team_id), team_id, caller.member_id)


@router.post("/teams/{team_id}/leave", response_model=Team, tags=["hackathons"], responses=errors(409))
async def leave_team(team_id: ResourceId, caller: Caller, store: Store, teams: Teams) -> Any:
    return await teams.leave(await _team_event(store, teams, team_id), team_id, caller.member_id)


@router.post(
    "/teams/{team_id}/submissions",
    status_code=status.HTTP_201_CREATED,
    response_model=Submission,
    tags=["hackathons"],
    responses=errors(403, 409),
)
async def submit(
    team_id: ResourceId, body: SubmissionForm, caller: Caller, creation: NewResource, store: Store, teams: Teams
) -> Any:
    """A team member submits the team's result; the practices service turns it into a draft practice."""
    return await teams.submit(await _team_event(store, teams, team_id), team_id, caller.member_id, body, creation)
