"""A day of hub activity as contract events, for tests and benchmarks of what consumes every
domain topic (monitoring): members, practices and events, all on one day of their own, so that
the indicator cells they count in are theirs alone on shared servers."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta

from deh_contracts import CloudEvent, Contract, new_event, to_kafka
from deh_contracts.catalogue.events import AttendanceRecorded, EventScheduled, RegistrationConfirmed
from deh_contracts.catalogue.membership import MemberApplied, MemberApproved
from deh_contracts.catalogue.practices import Origin, PracticeMetadata, PracticePublished
from deh_contracts.envelope import KafkaRecord

COUNTRIES = ["LV", "PL", "EE", "DE", "PT"]
SECTORS = ["school", "vet", "higher_education", "adult_learning"]


def a_day_of_its_own() -> date:
    """A day in the past that no other test picks (in practice)."""
    return date(2001, 1, 1) + timedelta(days=random.randrange(0, 7000))


def day_of_activity(day: date, people: int, *, seed: int = 0) -> list[CloudEvent[Contract]]:
    """For each person: applied, approved, a registration and attendance at one event; and a
    practice published by every second person. Deterministic for a seed."""
    chooser = random.Random(seed)
    at = datetime.combine(day, time(9), tzinfo=UTC)
    event_id = f"event-{uuid.uuid4().hex[:8]}"
    stream: list[CloudEvent[Contract]] = []

    def add(data: Contract, source: str) -> None:
        stream.append(new_event(data, source=source, time=at + timedelta(seconds=len(stream))))

    add(
        EventScheduled(
            event_id=event_id,
            kind="workshop",
            title="Workshop",
            starts_at=at + timedelta(days=30),
            ends_at=at + timedelta(days=30, hours=3),
            timezone="Europe/Brussels",
            online=True,
            capacity=people,
            audience="members",
            scheduled_at=at,
        ),
        "/deh/events",
    )
    for number in range(people):
        member = f"person-{uuid.uuid4().hex[:10]}"
        country, sector = chooser.choice(COUNTRIES), chooser.choice(SECTORS)
        add(MemberApplied(member_id=member, country=country, sectors=[sector], applied_at=at), "/deh/membership")
        add(
            MemberApproved(
                member_id=member, country=country, sectors=[sector], roles=["member"], approved_by="m", approved_at=at
            ),
            "/deh/membership",
        )
        registration = uuid.uuid4().hex
        add(
            RegistrationConfirmed(
                event_id=event_id,
                registration_id=registration,
                member_id=member,
                country=country,
                sector=sector,
                confirmed_at=at,
            ),
            "/deh/events",
        )
        add(
            AttendanceRecorded(
                event_id=event_id,
                registration_id=registration,
                member_id=member,
                attended=number % 4 != 0,
                recorded_at=at,
            ),
            "/deh/events",
        )
        if number % 2 == 0:
            metadata = PracticeMetadata(
                title={"en": "A practice"},
                summary={"en": "What it does."},
                languages=["en"],
                countries=[country],
                sectors=[sector],
                digcomp=["1.1"],
                licence="CC-BY-4.0",
                result_type="handbook",
                origin=Origin(kind="community"),
            )
            add(
                PracticePublished(
                    practice_id=uuid.uuid4().hex, version=1, metadata=metadata, author_ids=[member], published_at=at
                ),
                "/deh/practices",
            )
    return stream


def records(stream: list[CloudEvent[Contract]]) -> list[KafkaRecord]:
    return [to_kafka(event) for event in stream]
