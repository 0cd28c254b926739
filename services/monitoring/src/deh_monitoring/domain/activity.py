"""What monitoring keeps of a domain event: a flat activity record of its dimensions (never a
person's data, not even an id), and the indicator cells it counts in. Rules only, no I/O.

An indicator cell is (indicator, day, country, sector): "practices published on 2026-11-28 in
PL for school". An event counts once in each cell its dimensions name (a practice for two
countries counts in both countries' cells); a dimension it does not have is "-". A cell's value
is the number of distinct events that count in it, so that re-reading an event never counts it
twice (see adapters/projection.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from deh_contracts import CloudEvent, spec_of

NONE = "-"
PREFIX = "eu.deh."
# Subjects that name a person: the activity record leaves them out.
PERSONAL_SUBJECTS = {"member_id"}

# Indicators an event type counts in: the short type (service.what.happened) -> indicator names.
INDICATORS: dict[str, tuple[str, ...]] = {
    "membership.member.applied": ("members_applied",),
    "membership.member.approved": ("members_approved",),
    "membership.member.rejected": ("members_rejected",),
    "membership.member.suspended": ("members_suspended",),
    "membership.member.reinstated": ("members_reinstated",),
    "membership.member.left": ("members_left",),
    "membership.member.erased": ("members_erased",),
    "membership.organisation.registered": ("organisations_registered",),
    "membership.nas.registered": ("nas_registered",),
    "membership.squad.created": ("squads_created",),
    "membership.squad.application-received": ("squad_applications",),
    "membership.squad.member-selected": ("squad_selections",),
    "membership.squad.output-recorded": ("squad_outputs",),
    "practices.practice.submitted": ("practices_submitted",),
    "practices.practice.published": ("practices_published",),
    "practices.practice.archived": ("practices_archived",),
    "events.event.scheduled": ("events_scheduled",),
    "events.event.cancelled": ("events_cancelled",),
    "events.registration.confirmed": ("registrations",),
    "events.registration.promoted": ("registrations", "promotions"),
    "events.registration.waitlisted": ("waitlisted",),
    "events.registration.cancelled": ("registrations_cancelled",),
    "events.hackathon.team-formed": ("hackathon_teams",),
    "events.hackathon.submission-made": ("hackathon_submissions",),
    "monitoring.observation.recorded": ("observations",),
    # Participation in the Community of Practice's conversations and consultations (counts only).
    "community.thread.started": ("threads_started",),
    "community.post.written": ("posts_written",),
    "community.post.hidden": ("posts_hidden",),
    "community.consultation.opened": ("consultations_opened",),
}
# Indicators that an event's data decides, beyond its type (see `describe`).
DECIDED_BY_DATA = ("attendances", "no_shows", "consultation_answers")


# Each status event of a member: (the status it leaves, when always the same; the status it enters).
STATUS_CHANGES: dict[str, tuple[str | None, str]] = {
    "membership.member.applied": (None, "applied"),
    "membership.member.approved": ("applied", "active"),
    "membership.member.rejected": ("applied", "rejected"),
    "membership.member.suspended": ("active", "suspended"),
    "membership.member.reinstated": ("suspended", "active"),
    "membership.member.left": (None, "left"),  # from active or suspended: the event says which
    "membership.member.erased": (None, "erased"),  # from any status: the event says which
}


class Activity(BaseModel):
    """One domain event, flattened for dashboards. Its id is the event's id."""

    event_id: str
    at: datetime
    day: str
    type: str
    short_type: str
    service: str
    # The thing it is about (an event, a practice, a squad, an organisation); never a person,
    # so absent for members' own events.
    subject: str | None = None
    countries: list[str] = []
    sectors: list[str] = []
    organisation_type: str | None = None
    languages: list[str] = []
    competences: list[str] = []
    topics: list[str] = []
    result_type: str | None = None
    origin_kind: str | None = None
    event_kind: str | None = None
    audience: str | None = None
    decision: str | None = None
    reason: str | None = None
    attended: bool | None = None
    # A member's change of status (counts by status are what entered it minus what left it).
    status_from: str | None = None
    status_to: str | None = None
    # Numbers an event carries (an ended event's counts, a squad's cap, an observation's value).
    figures: dict[str, float] = {}
    indicators: list[str] = []
    cells: list[str] = []
    # Where it was read: the indicator endpoint points back at the sources with these.
    source_topic: str
    source_partition: int
    source_offset: int


Context = Mapping[str, dict[str, Any]]


def short_type_of(event: CloudEvent[Any]) -> str:
    return event.type.removeprefix(PREFIX).rsplit(".", 1)[0]


def defines(event: CloudEvent[Any]) -> tuple[str, dict[str, Any]] | None:
    """What later events of the same aggregate need to be described and that only this one
    says: an event's kind and audience, a squad's topic (kept as context, see `references`)."""
    data, short_type = event.data, short_type_of(event)
    if short_type == "events.event.scheduled":
        return f"event:{data.event_id}", {"event_kind": data.kind, "audience": data.audience}
    if short_type == "membership.squad.created":
        return f"squad:{data.squad_id}", {"topics": [data.topic]}
    return None


def references(event: CloudEvent[Any]) -> str | None:
    """The context an event needs (a registration: its event's kind; an application: its squad's topic)."""
    data, short_type = event.data, short_type_of(event)
    if short_type.startswith("events.") and hasattr(data, "event_id"):
        return f"event:{data.event_id}"
    if short_type.startswith("membership.squad.") and hasattr(data, "squad_id"):
        return f"squad:{data.squad_id}"
    return None


def describe(
    event: CloudEvent[Any], topic: str, partition: int, offset: int, context: Context | None = None
) -> Activity:
    data = event.data.model_dump(mode="json")
    short_type = short_type_of(event)
    metadata = data.get("metadata") or {}
    reference = references(event)
    known = (context or {}).get(reference, {}) if reference else {}
    activity = Activity(
        event_id=event.id,
        at=event.time,
        day=event.time.date().isoformat(),
        type=event.type,
        short_type=short_type,
        service=short_type.split(".", 1)[0],
        subject=None if spec_of(event.data).subject_field in PERSONAL_SUBJECTS else event.subject,
        countries=_values(data, "country", "venue_country", "countries")
        or _values(metadata, "countries")
        or _values(data.get("observation") or {}, "country"),
        sectors=_values(data, "sector", "sectors") or _values(metadata, "sectors"),
        organisation_type=data.get("type") if short_type == "membership.organisation.registered" else None,
        languages=_values(metadata, "languages") or _values(data, "language"),
        competences=_values(metadata, "digcomp", "digcompedu"),
        topics=_values(data, "topic") or _values(metadata, "topics") or known.get("topics", []),
        result_type=metadata.get("result_type"),
        origin_kind=(metadata.get("origin") or {}).get("kind"),
        event_kind=(data.get("kind") if short_type.startswith("events.") else None) or known.get("event_kind"),
        # Whom it is for: an event's audience, a consultation's, or the space of a conversation.
        audience=data.get("audience") or data.get("space") or known.get("audience"),
        decision=data.get("decision"),
        reason=data.get("reason") if short_type == "events.registration.cancelled" else None,
        attended=data.get("attended"),
        status_from=STATUS_CHANGES.get(short_type, (None, None))[0] or data.get("previous_status"),
        status_to=STATUS_CHANGES.get(short_type, (None, None))[1],
        figures=_figures(short_type, data),
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
    )
    indicators = list(INDICATORS.get(short_type, ()))
    if short_type == "events.attendance.recorded":
        indicators.append("attendances" if data.get("attended") else "no_shows")
    if short_type == "community.consultation.answered" and data.get("first_answer"):
        indicators.append("consultation_answers")  # a changed answer is no new respondent
    activity.indicators = indicators
    activity.cells = [
        cell_key(indicator, activity.day, country, sector)
        for indicator in indicators
        for country in activity.countries or [NONE]
        for sector in activity.sectors or [NONE]
    ]
    return activity


def cell_key(indicator: str, day: str, country: str, sector: str) -> str:
    return f"{indicator}|{day}|{country}|{sector}"


def cell_parts(key: str) -> dict[str, str]:
    indicator, day, country, sector = key.split("|")
    return {"indicator": indicator, "day": day, "country": country, "sector": sector}


def _values(data: dict[str, Any], *fields: str) -> list[str]:
    """The values of these fields (each a value or a list), in order, each once."""
    found: list[str] = []
    for field in fields:
        value = data.get(field)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item and item not in found:
                found.append(item)
    return found


def _figures(short_type: str, data: dict[str, Any]) -> dict[str, float]:
    if short_type == "events.event.ended":
        return {name: float(data[name]) for name in ("registered", "attended", "no_shows")}
    if short_type == "membership.squad.created":
        return {"cap": float(data["cap"])}
    if short_type in ("events.event.scheduled", "events.event.updated"):
        return {"capacity": float(data["capacity"])}
    return {}
