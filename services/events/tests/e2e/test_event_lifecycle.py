"""An event's life: balanced promotion, check-in and no-shows when it ends, reminders, the
participant list, calendars, cancellation and erasure, over HTTP and Kafka."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from event_steps import approved, cancel, register, registrations, schedule, someone
from hub_samples import event_draft
from hub_testing import (
    ServiceUnderTest,
    erase,
    published_events,
    validate_against_committed_schema,
)

from deh_contracts.registry import EVENTS
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.e2e


def brussels(moment: datetime) -> str:
    """A wall-clock time in Brussels, as an organiser types it."""
    return moment.astimezone(ZoneInfo("Europe/Brussels")).replace(tzinfo=None, microsecond=0).isoformat()


def happening(*, starts_in: timedelta, ends_in: timedelta) -> dict[str, Any]:
    """A schedule relative to now, with registration open until the end."""
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "starts_at": brussels(now + starts_in),
        "ends_at": brussels(now + ends_in),
        "timezone": "Europe/Brussels",
        "registration_closes_at": (now + ends_in).isoformat(),
    }


async def read(events: ServiceUnderTest, path: str, headers: dict[str, str]) -> Any:
    response = await events.client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_balanced_policy_gives_a_freed_seat_to_keep_the_mix_and_says_why(
    events: ServiceUnderTest, servers: ServerAddresses
) -> None:
    polish = [someone() for _ in range(4)]
    latvian = someone()
    await approved(events, servers, *((p, "PL", ["school"]) for p in polish), (latvian, "LV", ["vet"]))
    event = await schedule(events, capacity=3, waitlist_policy="balanced")
    seated = [await register(events, event["event_id"], member) for member in polish[:3]]
    first_waiting = await register(events, event["event_id"], polish[3])
    later_latvian = await register(events, event["event_id"], latvian)
    assert (first_waiting["position"], later_latvian["position"]) == (1, 2)

    await cancel(events, seated[0])

    chosen = await read(events, f"/registrations/{later_latvian['registration_id']}", event["organiser"])
    assert chosen["state"] == "registered"
    assert chosen["explanation"].startswith("balanced: country LV held 0 seats")
    assert "position 2 of 2" in chosen["explanation"]
    still = await read(events, f"/registrations/{first_waiting['registration_id']}", event["organiser"])
    assert (still["state"], still["position"]) == ("waitlisted", 1)
    published = await published_events(servers, EVENTS, [event["event_id"]], at_least=7)
    promotion = next(e for e in published if e.type.endswith("registration.promoted.v1"))
    assert promotion.data["policy"] == "balanced"
    assert promotion.data["explanation"] == chosen["explanation"]


async def test_check_in_then_the_end_counts_no_shows_and_the_participant_list_shows_who_consented(
    events: ServiceUnderTest, servers: ServerAddresses
) -> None:
    came, stayed_away = someone(), someone()
    await approved(events, servers, (came, "IT", ["adult_learning"]), (stayed_away, "ES", ["school"]), name="Giulia")
    event = await schedule(events, schedule=happening(starts_in=-timedelta(minutes=5), ends_in=timedelta(seconds=6)))
    present = await register(events, event["event_id"], came, appear_on_participant_list=True)
    absent = await register(events, event["event_id"], stayed_away)

    listed = await read(events, f"/events/{event['event_id']}/participants", events.caller(stayed_away))
    assert listed == [{"display_name": f"Giulia {came[-4:]}", "country": "IT"}]
    checked = await events.client.post(
        f"/registrations/{present['registration_id']}/check-in", headers=event["organiser"]
    )
    assert checked.json()["state"] == "attended"
    not_theirs = await events.client.post(
        f"/registrations/{absent['registration_id']}/check-in", headers=events.caller(came)
    )
    assert not_theirs.status_code == 403

    async def ended() -> dict[str, Any] | None:
        shown = await read(events, f"/events/{event['event_id']}", event["organiser"])
        return shown if shown["status"] == "ended" else None

    await eventually(ended, within=30)
    assert (await read(events, f"/registrations/{absent['registration_id']}", event["organiser"]))["state"] == "no_show"
    counts = await read(events, f"/events/{event['event_id']}/counts", {})
    assert (counts["attended"], counts["no_show"]) == (1, 1)
    published = await published_events(servers, EVENTS, [event["event_id"]], at_least=6)
    summary = next(e for e in published if e.type.endswith("event.ended.v1"))
    assert (summary.data["attended"], summary.data["no_shows"], summary.data["registered"]) == (1, 1, 2)
    attendance = [e.data["attended"] for e in published if e.type.endswith("attendance.recorded.v1")]
    assert sorted(attendance) == [False, True]


async def test_a_reminder_is_due_for_each_seat_a_day_before(events: ServiceUnderTest, servers: ServerAddresses) -> None:
    event = await schedule(
        events, audience="public", schedule=happening(starts_in=timedelta(hours=5), ends_in=timedelta(hours=6))
    )
    seated = await register(events, event["event_id"], someone())
    published = await published_events(servers, EVENTS, [event["event_id"]], at_least=3)
    due = [e for e in published if e.type.endswith("registration.reminder-due.v1")]
    assert [e.data["registration_id"] for e in due] == [seated["registration_id"]]
    validate_against_committed_schema(due[0])


async def test_the_online_link_is_for_people_with_a_seat_and_calendars_keep_local_times(
    events: ServiceUnderTest,
) -> None:
    # 10:00 in Brussels on both sides of the change to summer time (29 March 2026).
    event = await schedule(
        events,
        audience="public",
        capacity=1,
        online=True,
        online_link="https://meet.example.eu/room-7",
        venue=None,
        schedule={"starts_at": "2027-03-26T10:00:00", "ends_at": "2027-03-26T11:00:00", "timezone": "Europe/Brussels"},
    )
    later = await schedule(
        events,
        audience="public",
        schedule={"starts_at": "2027-03-29T10:00:00", "ends_at": "2027-03-29T11:00:00", "timezone": "Europe/Brussels"},
    )
    seated, waiting = someone(), someone()
    await register(events, event["event_id"], seated)
    await register(events, event["event_id"], waiting)
    await register(events, later["event_id"], seated)

    assert (await read(events, f"/events/{event['event_id']}", {}))["online_link"] is None
    assert (await read(events, f"/events/{event['event_id']}", events.caller(waiting)))["online_link"] is None
    shown = await read(events, f"/events/{event['event_id']}", events.caller(seated))
    assert shown["online_link"] == "https://meet.example.eu/room-7"
    assert (shown["starts_at"], shown["starts_at_utc"]) == ("2027-03-26T10:00:00", "2027-03-26T09:00:00Z")

    feed = await events.client.get("/me/calendar.ics", headers=events.caller(seated))
    assert feed.headers["content-type"].startswith("text/calendar")
    entries = {
        str(e["summary"]) + e.decoded("dtstart").strftime(" %H:%M %z"): e
        for e in icalendar.Calendar.from_ical(feed.content).walk("VEVENT")
    }
    assert sorted(entries) == sorted(f"{event['title']} 10:00 {offset}" for offset in ("+0100", "+0200"))
    assert all(len(e.walk("VALARM")) == 2 and e["status"] == "CONFIRMED" for e in entries.values())
    waiting_feed = icalendar.Calendar.from_ical(
        (await events.client.get("/me/calendar.ics", headers=events.caller(waiting))).content
    )
    tentative = waiting_feed.walk("VEVENT")
    assert [e["status"] for e in tentative] == ["TENTATIVE"]
    assert "room-7" not in tentative[0].to_ical().decode()
    # Calendar applications subscribe by a private address instead of a token.
    address = (await events.client.post("/me/calendar-feed", headers=events.caller(seated))).json()["path"]
    assert (await events.client.get(address)).content.count(b"BEGIN:VEVENT") == 2
    newer = (await events.client.post("/me/calendar-feed", headers=events.caller(seated))).json()["path"]
    assert (await events.client.get(address)).status_code == 404
    assert (await events.client.get(newer)).status_code == 200
    public_file = await events.client.get(f"/events/{event['event_id']}/calendar.ics")
    assert b"DTSTART;TZID=Europe/Brussels:20270326T100000" in public_file.content
    assert b"room-7" not in public_file.content


async def test_cancelling_an_event_cancels_every_registration_and_tells_each_registrant(
    events: ServiceUnderTest, servers: ServerAddresses
) -> None:
    event = await schedule(events, audience="public", capacity=1)
    seated = await register(events, event["event_id"], someone())
    waiting = await register(events, event["event_id"], someone())
    response = await events.client.post(
        f"/events/{event['event_id']}/cancel", json={"reason": "the venue is closed"}, headers=event["organiser"]
    )
    assert response.json()["status"] == "cancelled"
    assert await registrations(events, event, "registered") == []
    assert len(await registrations(events, event, "cancelled")) == 2
    published = await published_events(servers, EVENTS, [event["event_id"]], at_least=6)
    cancelled = {e.data["registration_id"]: e.data for e in published if e.type.endswith("registration.cancelled.v1")}
    assert {r["registration_id"] for r in (seated, waiting)} == set(cancelled)
    assert {data["reason"] for data in cancelled.values()} == {"event_cancelled"}
    assert any(e.type.endswith("event.cancelled.v1") for e in published)
    late = await events.client.post(
        f"/events/{event['event_id']}/registrations", json={}, headers=events.caller(someone())
    )
    assert late.status_code == 409


async def test_only_organisers_put_events_on_the_calendar(events: ServiceUnderTest) -> None:
    member = events.caller(someone())
    coordinator = events.caller(someone(), "member", "nas_coordinator")
    assert (await events.client.post("/events", json=schedule_body(), headers=member)).status_code == 403
    assert (await events.client.post("/events", json=schedule_body(), headers=coordinator)).status_code == 403
    meeting = schedule_body(kind="nas_meeting", audience="nas_only")
    assert (await events.client.post("/events", json=meeting, headers=coordinator)).status_code == 201
    bad = await events.client.post(
        "/events", json=schedule_body(capacity=0), headers=events.caller(someone(), "moderator")
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "capacity"]


def schedule_body(**overrides: Any) -> dict[str, Any]:
    return event_draft(**overrides)


async def test_an_erased_member_leaves_counts_but_no_trace(events: ServiceUnderTest, servers: ServerAddresses) -> None:
    member = someone()
    await approved(events, servers, (member, "FI", ["higher_education"]), name="Aino")
    event = await schedule(events, capacity=5)
    registration = await register(events, event["event_id"], member, appear_on_participant_list=True)

    await erase(servers, member)

    async def anonymised() -> bool:
        found = await events.client.get(f"/registrations/{registration['registration_id']}", headers=event["organiser"])
        return bool(found.json()["member_id"] != member)

    await eventually(anonymised, within=30)
    after = await read(events, f"/registrations/{registration['registration_id']}", event["organiser"])
    assert after["state"] == "cancelled"
    assert after["history"][-1]["note"] == "member_erased"
    assert (await read(events, f"/events/{event['event_id']}/counts", {}))["cancelled"] == 1
    assert await read(events, "/me/registrations", events.caller(member)) == []
    assert await events.app.state.store.member(member) is None


async def test_an_event_created_again_with_the_same_idempotency_key_is_the_same_event_with_its_seats_once(
    events: ServiceUnderTest,
) -> None:
    organiser = {**events.caller(someone(), "member", "moderator"), "Idempotency-Key": "workshop-2026-11"}
    draft = event_draft(capacity=12)
    first, retried = [await events.client.post("/events", json=draft, headers=organiser) for _ in range(2)]
    changed = await events.client.post("/events", json={**draft, "capacity": 13}, headers=organiser)

    assert first.status_code == retried.status_code == 201
    assert first.json()["event_id"] == retried.json()["event_id"]
    assert changed.status_code == 422
    assert await events.runtime.db.seats.count_documents({"event_id": first.json()["event_id"]}) == 12


async def test_two_racing_creations_under_one_key_with_other_capacities_leave_the_seats_of_the_one_stored(
    events: ServiceUnderTest,
) -> None:
    organiser = {**events.caller(someone(), "member", "moderator"), "Idempotency-Key": "racing"}
    small, large = event_draft(capacity=10), event_draft(capacity=300)
    answers = await asyncio.gather(
        *(events.client.post("/events", json=draft, headers=organiser) for draft in (small, large, small, large))
    )
    stored = [answer.json() for answer in answers if answer.status_code == 201]
    assert {answer.status_code for answer in answers} <= {201, 422}
    assert len({event["event_id"] for event in stored}) == 1
    event_id, capacity = stored[0]["event_id"], stored[0]["capacity"]
    assert await events.runtime.db.seats.count_documents({"event_id": event_id}) == capacity
