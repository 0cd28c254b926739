"""Events: workshops, idea-sketching workshops, hackathons, webinars, NAS meetings, dialogues."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from deh_contracts.registry import EVENTS, Contract, message_type
from deh_contracts.vocabulary import Country, EventKind, Sector, enum_schema, one_of

PREFIX = "eu.deh.events."

AUDIENCES = ["public", "members", "nas_only"]
Audience = Annotated[str, AfterValidator(one_of("audience", AUDIENCES)), enum_schema(AUDIENCES)]


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
    member_id: str


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
    """A seat freed and the first on the waitlist got it."""

    promoted_at: datetime


@message_type(PREFIX + "registration.cancelled.v1", topic=EVENTS, subject="event_id")
class RegistrationCancelled(_Registration):
    """A participant gave up their seat or waitlist place."""

    cancelled_at: datetime


@message_type(PREFIX + "attendance.recorded.v1", topic=EVENTS, subject="event_id")
class AttendanceRecorded(_Registration):
    """Check-in result for a registration: attended or no-show."""

    attended: bool
    recorded_at: datetime


@message_type(PREFIX + "hackathon.team-formed.v1", topic=EVENTS, subject="event_id")
class HackathonTeamFormed(Contract):
    """Participants of a hackathon formed a team on a challenge."""

    event_id: str
    team_id: str
    name: str
    challenge: str
    member_ids: list[str]
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
    member_ids: list[str]
    submitted_at: datetime
