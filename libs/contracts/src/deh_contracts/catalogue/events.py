"""Events: workshops, idea-sketching workshops, hackathons, webinars, NAS meetings, dialogues."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from deh_contracts.people import PersonId
from deh_contracts.registry import EVENTS, Contract, message_type
from deh_contracts.vocabulary import Country, EventKind, Sector, enum_schema, one_of

PREFIX = "eu.deh.events."

AUDIENCES = ["public", "members", "nas_only"]
Audience = Annotated[str, AfterValidator(one_of("audience", AUDIENCES)), enum_schema(AUDIENCES)]
WAITLIST_POLICIES = ["first_come", "balanced"]
WaitlistPolicy = Annotated[
    str, AfterValidator(one_of("waitlist policy", WAITLIST_POLICIES)), enum_schema(WAITLIST_POLICIES)
]
CANCELLATION_REASONS = [
    "by_participant",
    "by_organiser",
    "event_cancelled",
    "member_suspended",
    "member_left",
    "member_erased",
]
CancellationReason = Annotated[
    str, AfterValidator(one_of("cancellation reason", CANCELLATION_REASONS)), enum_schema(CANCELLATION_REASONS)
]


@message_type(PREFIX + "event.scheduled.v1", topic=EVENTS, subject="event_id")
class EventScheduled(Contract):
    """An event was put on the calendar."""

    event_id: str
    kind: EventKind
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str = Field(description="IANA time zone of the event, e.g. Europe/Brussels.")
    online: bool
    venue_country: Country | None = None
    capacity: int = Field(ge=0)
    audience: Audience
    scheduled_at: datetime
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    waitlist_policy: WaitlistPolicy = "first_come"


@message_type(PREFIX + "event.updated.v1", topic=EVENTS, subject="event_id")
class EventUpdated(Contract):
    """An event's details changed; the fields hold the new values."""

    event_id: str
    changed_fields: list[str]
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    capacity: int = Field(ge=0)
    updated_at: datetime


@message_type(PREFIX + "event.cancelled.v1", topic=EVENTS, subject="event_id")
class EventCancelled(Contract):
    """An event was cancelled."""

    event_id: str
    reason: str
    cancelled_at: datetime


class _Registration(Contract):
    event_id: str
    registration_id: str
    member_id: PersonId


@message_type(PREFIX + "registration.confirmed.v1", topic=EVENTS, subject="event_id")
class RegistrationConfirmed(_Registration):
    """A participant has a seat."""

    country: Country | None = None
    sector: Sector | None = None
    confirmed_at: datetime


@message_type(PREFIX + "registration.waitlisted.v1", topic=EVENTS, subject="event_id")
class RegistrationWaitlisted(_Registration):
    """The event was full: the participant waits at this position."""

    position: int = Field(ge=1)
    waitlisted_at: datetime


@message_type(PREFIX + "registration.promoted.v1", topic=EVENTS, subject="event_id")
class RegistrationPromoted(_Registration):
    """A seat freed and the next on the waitlist got it, chosen by the event's policy."""

    promoted_at: datetime
    policy: WaitlistPolicy = "first_come"
    explanation: str = Field("", description="Why this person was chosen, in words.")


@message_type(PREFIX + "registration.cancelled.v1", topic=EVENTS, subject="event_id")
class RegistrationCancelled(_Registration):
    """A participant lost or gave up their seat or waitlist place; the reason says which."""

    cancelled_at: datetime
    reason: CancellationReason = "by_participant"
    was_registered: bool = Field(False, description="True when a seat was freed (not a waitlist place).")


@message_type(PREFIX + "registration.reminder-due.v1", topic=EVENTS, subject="event_id")
class RegistrationReminderDue(_Registration):
    """An event a participant holds a seat at starts soon: a notification service reminds them."""

    starts_at: datetime
    timezone: str
    due_at: datetime


@message_type(PREFIX + "event.registration-closed.v1", topic=EVENTS, subject="event_id")
class EventRegistrationClosed(Contract):
    """The registration window of an event closed, with the numbers at that moment."""

    event_id: str
    registered: int = Field(ge=0)
    waitlisted: int = Field(ge=0)
    closed_at: datetime


@message_type(PREFIX + "event.ended.v1", topic=EVENTS, subject="event_id")
class EventEnded(Contract):
    """An event is over: attendance and no-shows are counted (each also has its own record)."""

    event_id: str
    kind: EventKind
    registered: int = Field(ge=0, description="Seats held at the end: attended plus no-shows.")
    attended: int = Field(ge=0)
    no_shows: int = Field(ge=0)
    ended_at: datetime


@message_type(PREFIX + "attendance.recorded.v1", topic=EVENTS, subject="event_id")
class AttendanceRecorded(_Registration):
    """Check-in result for a registration: attended or no-show."""

    attended: bool
    recorded_at: datetime


@message_type(PREFIX + "hackathon.challenge-posted.v1", topic=EVENTS, subject="event_id")
class HackathonChallengePosted(Contract):
    """An organiser posted a challenge that hackathon teams can take on."""

    event_id: str
    challenge_id: str
    title: str
    posted_at: datetime


@message_type(PREFIX + "hackathon.team-formed.v1", topic=EVENTS, subject="event_id")
class HackathonTeamFormed(Contract):
    """Participants of a hackathon formed a team on a challenge."""

    event_id: str
    team_id: str
    name: str
    challenge: str
    member_ids: list[PersonId]
    formed_at: datetime


@message_type(PREFIX + "hackathon.submission-made.v1", topic=EVENTS, subject="event_id")
class HackathonSubmissionMade(Contract):
    """A hackathon team submitted its result (it can become a draft practice)."""

    event_id: str
    team_id: str
    submission_id: str
    title: str
    summary: str
    links: list[str] = []
    member_ids: list[PersonId]
    submitted_at: datetime


@message_type(PREFIX + "hackathon.team-changed.v1", topic=EVENTS, subject="event_id")
class HackathonTeamChanged(Contract):
    """Someone joined or left a hackathon team; `member_ids` is the team after the change."""

    event_id: str
    team_id: str
    member_ids: list[PersonId]
    changed_at: datetime
