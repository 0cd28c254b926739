"""What an event says as an activity record, and the indicator cells it counts in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deh_contracts import new_event
from deh_contracts.catalogue.events import AttendanceRecorded
from deh_contracts.catalogue.membership import MemberApproved
from deh_contracts.catalogue.practices import Origin, PracticeMetadata, PracticePublished
from deh_monitoring.domain.activity import cell_key, cell_parts, describe

pytestmark = pytest.mark.unit
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_an_approval_counts_for_its_country_and_sector_without_naming_the_person() -> None:
    approved = MemberApproved(
        member_id="person-1",
        country="LV",
        sectors=["school"],
        roles=["member"],
        display_name="Ilze",
        organisation_id="org-1",
        approved_by="moderator-7",
        approved_at=AT,
    )
    activity = describe(new_event(approved, source="/deh/membership", time=AT), "deh.membership.v1", 2, 41)
    assert activity.cells == ["members_approved|2026-03-02|LV|school"]
    assert activity.subject is None
    assert (activity.source_topic, activity.source_partition, activity.source_offset) == ("deh.membership.v1", 2, 41)
    stored = activity.model_dump_json()
    assert all(secret not in stored for secret in ("person-1", "Ilze", "moderator-7", "org-1"))


def test_a_practice_for_two_countries_counts_in_each_of_their_cells() -> None:
    metadata = PracticeMetadata(
        title={"en": "t"},
        summary={"en": "s"},
        languages=["en", "pl"],
        countries=["PL", "LT"],
        sectors=["vet"],
        digcomp=["1.1"],
        digcompedu=["2.1"],
        licence="CC-BY-4.0",
        result_type="tool",
        origin=Origin(kind="community"),
    )
    published = PracticePublished(practice_id="p", version=1, metadata=metadata, author_ids=["a"], published_at=AT)
    activity = describe(new_event(published, source="/deh/practices", time=AT), "deh.practices.v1", 0, 0)
    assert activity.cells == ["practices_published|2026-03-02|PL|vet", "practices_published|2026-03-02|LT|vet"]
    assert (activity.competences, activity.result_type, activity.languages) == (["1.1", "2.1"], "tool", ["en", "pl"])


@pytest.mark.parametrize(("attended", "indicator"), [(True, "attendances"), (False, "no_shows")])
def test_attendance_counts_as_attendance_or_no_show_with_unknown_dimensions_as_dash(
    attended: bool, indicator: str
) -> None:
    recorded = AttendanceRecorded(event_id="e", registration_id="r", member_id="m", attended=attended, recorded_at=AT)
    activity = describe(new_event(recorded, source="/deh/events", time=AT), "deh.events.v1", 1, 7)
    assert activity.cells == [f"{indicator}|2026-03-02|-|-"]
    assert activity.subject == "e"  # the event, not the person


def test_a_cell_key_reads_back_into_its_parts() -> None:
    key = cell_key("registrations", "2026-03-02", "EE", "youth")
    assert cell_parts(key) == {"indicator": "registrations", "day": "2026-03-02", "country": "EE", "sector": "youth"}
