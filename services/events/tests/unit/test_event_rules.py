"""The events service's rules, without servers: times in zones, audiences, waitlist policies, calendars."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from pydantic import ValidationError

from deh_events.domain.calendar import Entry, calendar_file
from deh_events.domain.events import Event, EventChanges, EventDraft, instant, registration_refusal
from deh_events.domain.waitlist import Candidate, choose_next
from deh_platform.auth import Principal
from deh_platform.identity import MemberCopy

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_local_time_is_placed_in_its_zone_on_either_side_of_a_daylight_saving_change() -> None:
    assert instant(datetime(2026, 3, 28, 10, 0), "Europe/Brussels") == datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
    assert instant(datetime(2026, 3, 30, 10, 0), "Europe/Brussels") == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_a_local_time_that_the_clocks_skip_is_refused() -> None:
    with pytest.raises(ValueError, match="does not exist in Europe/Brussels"):
        instant(datetime(2026, 3, 29, 2, 30), "Europe/Brussels")


def draft(**overrides: object) -> dict[str, object]:
    return {
        "kind": "webinar",
        "title": "Micro-credentials explained",
        "schedule": {"starts_at": "2026-04-01T10:00:00", "ends_at": "2026-04-01T11:00:00", "timezone": "Europe/Riga"},
        "online": True,
        "online_link": "https://meet.example.eu/abc",
        "capacity": 100,
        **overrides,
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {
                "schedule": {
                    "starts_at": "2026-04-01T10:00:00",
                    "ends_at": "2026-04-01T09:00:00",
                    "timezone": "Europe/Riga",
                }
            },
            "ends_at must be after",
        ),
        (
            {
                "schedule": {
                    "starts_at": "2026-04-01T10:00:00",
                    "ends_at": "2026-04-01T11:00:00",
                    "timezone": "Mars/Olympus",
                }
            },
            "not an IANA time zone",
        ),
        ({"online_link": None}, "needs its online_link"),
        ({"online": False, "online_link": None}, "needs its venue"),
        ({"capacity": 0}, "greater than or equal to 1"),
    ],
)
def test_an_event_draft_must_be_coherent(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EventDraft.model_validate(draft(**overrides))


def event(**overrides: object) -> Event:
    fields: dict[str, object] = {
        "event_id": "e1",
        "kind": "workshop",
        "title": "t",
        "description": "",
        "starts_at": datetime(2026, 4, 1, 10),
        "ends_at": datetime(2026, 4, 1, 12),
        "timezone": "Europe/Brussels",
        "starts_at_utc": datetime(2026, 4, 1, 8, tzinfo=UTC),
        "ends_at_utc": datetime(2026, 4, 1, 10, tzinfo=UTC),
        "registration_opens_at": NOW - timedelta(days=1),
        "registration_closes_at": NOW + timedelta(days=1),
        "online": True,
        "online_link": "https://meet.example.eu/x",
        "capacity": 10,
        "audience": "members",
        "waitlist_policy": "first_come",
        "team_size_max": 5,
        "status": "scheduled",
        "organiser_id": "o1",
        **overrides,
    }
    return Event.model_validate(fields)


ACTIVE = MemberCopy(member_id="m1", reference="person:m1", status="active", country="PL", sectors=["school"])
PERSON = Principal("m1", frozenset({"member"}))


@pytest.mark.parametrize(
    ("changes", "member", "caller", "refusal"),
    [
        ({}, ACTIVE, PERSON, None),
        ({"status": "cancelled"}, ACTIVE, PERSON, "the event is cancelled"),
        ({"registration_opens_at": NOW + timedelta(hours=1)}, ACTIVE, PERSON, "registration opens at"),
        ({"registration_closes_at": NOW}, ACTIVE, PERSON, "registration is closed"),
        ({}, replace(ACTIVE, status="suspended"), PERSON, "a member who is suspended cannot register"),
        ({}, None, PERSON, "this event is for members"),
        ({"audience": "public"}, None, PERSON, None),
        ({"audience": "nas_only"}, ACTIVE, PERSON, "this event is for the National Advisory Services"),
        ({"audience": "nas_only"}, ACTIVE, Principal("m1", frozenset({"member", "nas_coordinator"})), None),
    ],
)
def test_who_may_register(
    changes: dict[str, object], member: MemberCopy | None, caller: Principal, refusal: str | None
) -> None:
    found = registration_refusal(event(**changes), member, caller, NOW)
    assert found == refusal or (refusal is not None and found is not None and found.startswith(refusal))


def candidate(
    name: str, key: int, country: str, sectors: tuple[str, ...] = ("school",), first: bool = False
) -> Candidate:
    return Candidate(name, key, country, sectors, first)


def test_first_come_first_served_takes_the_earliest_waiting() -> None:
    waiting = [candidate("late", 3, "PL"), candidate("early", 1, "LV"), candidate("middle", 2, "PL")]
    choice = choose_next("first_come", waiting, [])
    assert choice is not None
    assert choice.registration_id == "early"


def test_balanced_prefers_an_unrepresented_country_then_sector_then_a_first_timer() -> None:
    seated = [candidate(f"s{n}", 0, "PL", ("school",)) for n in range(3)] + [candidate("s9", 0, "LV", ("vet",))]
    waiting = [
        candidate("polish-teacher", 1, "PL"),
        candidate("latvian-vet", 2, "LV", ("vet",)),
        candidate("latvian-youth-returning", 3, "LV", ("youth",)),
        candidate("latvian-youth-first", 4, "LV", ("youth",), first=True),
    ]
    choice = choose_next("balanced", waiting, seated)
    assert choice is not None
    assert choice.registration_id == "latvian-youth-first"
    assert "country LV held 1 seats" in choice.explanation
    assert "first-timer" in choice.explanation
    assert "position 4 of 4" in choice.explanation


def test_balanced_falls_back_to_queue_order_among_equals() -> None:
    waiting = [candidate("second", 2, "IT"), candidate("first", 1, "IT")]
    choice = choose_next("balanced", waiting, [])
    assert choice is not None
    assert choice.registration_id == "first"


def test_a_calendar_keeps_local_times_across_a_daylight_saving_change() -> None:
    before = event(
        event_id="before",
        starts_at_utc=datetime(2026, 3, 27, 9, tzinfo=UTC),
        ends_at_utc=datetime(2026, 3, 27, 10, tzinfo=UTC),
    )
    after = event(
        event_id="after",
        starts_at_utc=datetime(2026, 3, 30, 8, tzinfo=UTC),
        ends_at_utc=datetime(2026, 3, 30, 9, tzinfo=UTC),
    )
    body = calendar_file(
        [
            Entry(before, "CONFIRMED", show_link=True, remind=True),
            Entry(after, "TENTATIVE", show_link=False, remind=False),
        ],
        name="mine",
        generated_at=NOW,
    )
    parsed = icalendar.Calendar.from_ical(body)
    starts = {str(e["uid"]).split("@")[0]: e.decoded("dtstart") for e in parsed.walk("VEVENT")}
    # Both start at 10:00 Brussels time, one in CET (UTC+1) and one in CEST (UTC+2).
    assert [starts[k].strftime("%H:%M %z") for k in ("before", "after")] == ["10:00 +0100", "10:00 +0200"]
    assert b"DTSTART;TZID=Europe/Brussels:20260327T100000" in body
    assert [tz["TZID"] for tz in parsed.walk("VTIMEZONE")] == ["Europe/Brussels"]
    confirmed = next(e for e in parsed.walk("VEVENT") if e["status"] == "CONFIRMED")
    assert [alarm.decoded("trigger") for alarm in confirmed.walk("VALARM")] == [-timedelta(days=1), -timedelta(hours=1)]
    tentative = next(e for e in parsed.walk("VEVENT") if e["status"] == "TENTATIVE")
    assert "meet.example.eu" not in str(tentative["location"])
    assert not tentative.walk("VALARM")


def test_a_change_leaves_fields_out_rather_than_setting_them_null() -> None:
    with pytest.raises(ValidationError, match="cannot be null") as raised:
        EventChanges.model_validate({"title": None})
    assert raised.value.errors()[0]["loc"] == ("title",)
    assert EventChanges.model_validate({"title": "New"}).model_dump(exclude_unset=True) == {"title": "New"}


def test_a_time_far_outside_the_hubs_years_is_refused_not_overflowed() -> None:
    with pytest.raises(ValidationError, match="not between 2000 and 2200"):
        EventDraft.model_validate(
            draft(
                schedule={
                    "starts_at": "9999-12-31T20:00:00",
                    "ends_at": "9999-12-31T21:00:00",
                    "timezone": "America/New_York",
                }
            )
        )
