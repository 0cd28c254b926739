"""Events and who may organise, see and register for them: rules only, no I/O.

Times: an event is planned in local time at a place (or for an audience) in an IANA time zone.
The API takes the local wall-clock time and the zone; the store keeps the instant (UTC) and the
zone, so that a calendar shows 10:00 in Brussels on both sides of a daylight-saving change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, BaseModel, Field, HttpUrl, field_validator, model_validator

from deh_contracts.catalogue.events import Audience, WaitlistPolicy
from deh_contracts.vocabulary import Country, EventKind, WholeNumber
from deh_platform.identity import MemberCopy, Principal

EventStatus = Literal["scheduled", "cancelled", "ended"]
# One seat document per place (see the store): ten thousand covers the largest conference.
MAX_CAPACITY = 10_000


_ZONES = frozenset(available_timezones())
# Times far outside these are typing errors (and overflow when converted between zones).
EARLIEST_YEAR, LATEST_YEAR = 2000, 2200


def _known_zone(name: str) -> str:
    if name not in _ZONES:
        raise ValueError(f"{name!r} is not an IANA time zone (for example Europe/Brussels)")
    return name


TimeZoneName = Annotated[str, Field(max_length=64, examples=["Europe/Brussels"]), AfterValidator(_known_zone)]


def instant(local: datetime, zone: str) -> datetime:
    """The UTC instant of a local wall-clock time in `zone`. An aware time is converted; a
    naive one is read in the zone and must exist there (not skipped by a daylight-saving change)."""
    if not EARLIEST_YEAR <= local.year <= LATEST_YEAR:
        raise ValueError(f"{local.isoformat()} is not between {EARLIEST_YEAR} and {LATEST_YEAR}")
    tz = ZoneInfo(zone)
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    placed = local.replace(tzinfo=tz)
    if placed.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local:
        raise ValueError(f"{local.isoformat()} does not exist in {zone} (clocks skip it at a daylight-saving change)")
    return placed.astimezone(UTC)


def local_time(moment: datetime, zone: str) -> datetime:
    """The wall-clock time of an instant in `zone`, without the offset (as the API shows it)."""
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


class Venue(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    address: str = Field("", max_length=500)
    city: str = Field(min_length=1, max_length=200)
    country: Country


class Challenge(BaseModel):
    challenge_id: str
    title: str
    description: str = ""


class ChallengeForm(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    description: str = Field("", max_length=5000)


class Schedule(BaseModel):
    """When an event takes place and when people may register, as given by the organiser."""

    starts_at: datetime = Field(description="Local wall-clock time in `timezone` (an offset is converted).")
    ends_at: datetime = Field(description="Local wall-clock time in `timezone`.")
    timezone: TimeZoneName
    registration_opens_at: datetime | None = Field(None, description="An instant; default: at once.")
    registration_closes_at: datetime | None = Field(None, description="An instant; default: when it starts.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        start, end = instant(self.starts_at, self.timezone), instant(self.ends_at, self.timezone)
        if end <= start:
            raise ValueError("ends_at must be after starts_at")
        closes = self.closes(start)
        if self.registration_opens_at is not None and _aware(self.registration_opens_at) >= closes:
            raise ValueError("registration must open before it closes")
        if closes > end:
            raise ValueError("registration must close by the end of the event")
        return self

    def closes(self, start: datetime) -> datetime:
        return _aware(self.registration_closes_at) if self.registration_closes_at else start

    def opens(self) -> datetime | None:
        return _aware(self.registration_opens_at) if self.registration_opens_at else None


def _aware(moment: datetime) -> datetime:
    """A time without an offset in a field that holds instants is read as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class EventDraft(BaseModel):
    """What an organiser gives to put an event on the calendar."""

    kind: EventKind
    title: str = Field(min_length=1, max_length=300)
    description: str = Field("", max_length=20_000)
    schedule: Schedule
    online: bool
    online_link: HttpUrl | None = Field(None, description="Shown only to registrants and organisers.")
    venue: Venue | None = None
    capacity: WholeNumber = Field(ge=1, le=MAX_CAPACITY)
    audience: Audience = "members"
    waitlist_policy: WaitlistPolicy = "first_come"
    team_size_max: WholeNumber = Field(5, ge=1, le=50, description="Hackathons: the most people in one team.")
    challenges: list[ChallengeForm] = Field([], max_length=50)

    @model_validator(mode="after")
    def _where(self) -> Self:
        if self.online and self.online_link is None:
            raise ValueError("an online event needs its online_link")
        if not self.online and self.venue is None:
            raise ValueError("an event on site needs its venue")
        return self


class EventChanges(BaseModel):
    """An organiser's changes; fields left out stay as they are (none of them may be null)."""

    title: str | None = Field(None, min_length=1, max_length=300)
    description: str | None = Field(None, max_length=20_000)
    schedule: Schedule | None = None
    online_link: HttpUrl | None = None
    venue: Venue | None = None
    capacity: WholeNumber | None = Field(None, ge=1, le=MAX_CAPACITY)

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("leave the field out to keep it as it is; it cannot be null")
        return value


class Event(BaseModel):
    """An event as stored and shown (the online link only to those who may see it)."""

    event_id: str
    kind: EventKind
    title: str
    description: str
    starts_at: datetime = Field(description="Local wall-clock time in `timezone`.")
    ends_at: datetime = Field(description="Local wall-clock time in `timezone`.")
    timezone: str
    starts_at_utc: datetime
    ends_at_utc: datetime
    registration_opens_at: datetime
    registration_closes_at: datetime
    registration_closed: bool = False
    online: bool
    online_link: str | None = None
    venue: Venue | None = None
    capacity: int
    audience: Audience
    waitlist_policy: WaitlistPolicy
    team_size_max: int
    challenges: list[Challenge] = []
    status: EventStatus
    organiser_id: str
    cancellation_reason: str | None = None


def may_organise(kind: str, caller: Principal) -> bool:
    """Moderators and admins organise every kind; NAS coordinators organise NAS meetings."""
    return caller.is_staff or (kind == "nas_meeting" and caller.has("nas_coordinator"))


def is_organiser(event: Event, caller: Principal) -> bool:
    return caller.member_id == event.organiser_id or may_organise(event.kind, caller)


def registration_refusal(event: Event, member: MemberCopy | None, caller: Principal, now: datetime) -> str | None:
    """Why this caller may not register for this event now; None when they may."""
    if event.status != "scheduled":
        return f"the event is {event.status}"
    if now < event.registration_opens_at:
        return f"registration opens at {event.registration_opens_at.isoformat()}"
    if event.registration_closed or now >= event.registration_closes_at:
        return "registration is closed"
    if member is not None and member.status != "active":
        return f"a member who is {member.status} cannot register"
    if event.audience == "members" and member is None:
        return "this event is for members of the community"
    if event.audience == "nas_only" and (member is None or not caller.has("nas_coordinator")):
        return "this event is for the National Advisory Services network"
    return None
