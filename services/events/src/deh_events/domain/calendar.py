"""iCalendar (RFC 5545) files: one per event, and a member's personal feed.

Times are written in the event's own zone (DTSTART;TZID=Europe/Brussels:...) with the VTIMEZONE
that defines it, so a calendar shows the organiser's wall-clock time on both sides of a
daylight-saving change and converts it correctly for a reader elsewhere. A waitlisted place is a
TENTATIVE event; a cancelled event or registration stays in the feed as CANCELLED, so that a
subscribed calendar removes it instead of keeping a stale entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

from deh_events.domain.events import Event

PRODUCT = "-//European Digital Education Hub//events//EN"
REMINDERS = (timedelta(days=1), timedelta(hours=1))


@dataclass(frozen=True)
class Entry:
    event: Event
    status: str  # CONFIRMED, TENTATIVE or CANCELLED
    show_link: bool
    remind: bool


def calendar_file(entries: Sequence[Entry], *, name: str, generated_at: datetime) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for entry in entries:
        calendar.add_component(_vevent(entry, generated_at))
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def _vevent(entry: Entry, generated_at: datetime) -> icalendar.Event:
    event = entry.event
    zone = ZoneInfo(event.timezone)
    component = icalendar.Event()
    component.add("uid", f"{event.event_id}@events.deh.eu")
    component.add("dtstamp", generated_at)
    component.add("dtstart", event.starts_at_utc.astimezone(zone))
    component.add("dtend", event.ends_at_utc.astimezone(zone))
    component.add("summary", event.title)
    component.add("description", event.description)
    component.add("status", entry.status)
    component.add("categories", [event.kind])
    if event.venue is not None:
        venue = event.venue
        component.add(
            "location", ", ".join(part for part in (venue.name, venue.address, venue.city, venue.country) if part)
        )
    elif entry.show_link and event.online_link:
        component.add("location", event.online_link)
        component.add("url", event.online_link)
    else:
        component.add("location", "Online (the link is shown to registered participants)")
    if entry.remind and entry.status != "CANCELLED":
        for before in REMINDERS:
            alarm = icalendar.Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("trigger", -before)
            alarm.add("description", f"{event.title} starts in {_words(before)}")
            component.add_component(alarm)
    return component


def _words(before: timedelta) -> str:
    return "one day" if before == timedelta(days=1) else "one hour"
