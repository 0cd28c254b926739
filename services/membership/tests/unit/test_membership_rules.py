"""Membership rules without servers: the status life cycle, consent times, what events reveal,
the squad spread and the cursors of lists."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from deh_contracts.catalogue.membership import MemberApproved, MemberSuspended
from deh_membership.domain.directory import name_key
from deh_membership.domain.members import (
    Consent,
    ConsentChoices,
    Member,
    Profile,
    next_status,
    person,
    profile_updated,
    status_event,
)
from deh_membership.domain.paging import decode_cursor, encode_cursor
from deh_membership.domain.squads import Application, SquadProposal, spread
from deh_platform.errors import Conflict, InvalidInput

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def member(visible: bool) -> Member:
    choices = ConsentChoices(terms=True, privacy=True, directory_visible=visible)
    profile = Profile(
        display_name="Jānis Bērziņš",
        email="janis@skola.example.lv",
        country="LV",
        sectors=["school"],
        expertise_topics=["stem"],
    )
    return Member(
        id="m-1",
        reference="person:0123456789abcdef01234567",
        status="active",
        profile=profile,
        consent=Consent.first(choices, T0),
        roles=["member"],
        applied_at=T0,
    )


@pytest.mark.parametrize(
    ("action", "current", "expected"),
    [
        ("approve", "applied", "active"),
        ("reject", "applied", "rejected"),
        ("suspend", "active", "suspended"),
        ("reinstate", "suspended", "active"),
        ("leave", "suspended", "left"),
    ],
)
def test_allowed_transitions(action: str, current: str, expected: str) -> None:
    assert next_status(action, current) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("action", "current"),
    [
        ("approve", "active"),
        ("suspend", "applied"),
        ("reinstate", "active"),
        ("leave", "erased"),
        ("approve", "rejected"),
    ],
)
def test_refused_transitions(action: str, current: str) -> None:
    with pytest.raises(Conflict):
        next_status(action, current)  # type: ignore[arg-type]


def test_terms_and_privacy_are_required_to_apply() -> None:
    with pytest.raises(InvalidInput) as refused:
        Consent.first(ConsentChoices(terms=True, privacy=False), T0)
    assert refused.value.location == ("body", "consent", "privacy")


def test_a_consent_item_keeps_its_time_until_its_value_changes() -> None:
    consent = Consent.first(ConsentChoices(terms=True, privacy=True, newsletter=False), T0)
    later = T0 + timedelta(days=3)

    changed = consent.changed_to(ConsentChoices(terms=True, privacy=True, newsletter=True), later)

    assert changed.terms.at == T0
    assert changed.newsletter.at == later
    assert changed.newsletter.given is True


def test_a_hidden_member_reveals_no_name_or_topics_to_other_services() -> None:
    hidden = profile_updated(member(visible=False), T0)
    shown = profile_updated(member(visible=True), T0)

    assert hidden.expertise_topics == []
    assert shown.expertise_topics != []
    assert hidden.display_name is None, "names never go on the domain stream"
    assert shown.display_name is None, "names never go on the domain stream"
    assert "janis@" not in hidden.model_dump_json() + shown.model_dump_json()


def test_the_people_topic_names_the_member_only_when_visible_and_an_approval_never() -> None:
    approval = status_event(member(visible=True), "approve", previous="applied", by="mod", reason=None, at=T0)
    assert isinstance(approval, MemberApproved)
    assert approval.display_name is None
    (hidden,) = person(member(visible=False), T0)
    (shown,) = person(member(visible=True), T0)
    assert hidden.display_name is None
    assert shown.display_name == "Jānis Bērziņš"


def test_the_people_topic_carries_the_status_of_members_and_never_speaks_of_applicants() -> None:
    (suspended,) = person(member(visible=False).model_copy(update={"status": "suspended"}), T0)
    assert (suspended.status, suspended.country, suspended.sectors) == ("suspended", "LV", ["school"])
    for status in ("applied", "rejected"):
        assert person(member(visible=True).model_copy(update={"status": status}), T0) == []


def test_a_status_change_says_what_it_leaves_and_where_for_counts_by_status() -> None:
    suspended = status_event(member(visible=False), "suspend", previous="active", by="mod", reason="conduct", at=T0)
    assert isinstance(suspended, MemberSuspended)
    assert (suspended.previous_status, suspended.country, suspended.sectors) == ("active", "LV", ["school"])


def test_the_spread_counts_selected_people_by_sector_and_country() -> None:
    def application(member_id: str, country: str, sectors: list[str], status: str) -> Application:
        return Application(
            application_id=member_id,
            member_id=member_id,
            country=country,
            sectors=sectors,
            motivation=None,
            examples_of_expertise=None,
            availability=None,
            status=status,
            received_at=T0,
        )

    applications = [
        application("a", "LV", ["school"], "selected"),
        application("b", "PL", ["school", "vet"], "selected"),
        application("c", "PL", ["vet"], "received"),
        application("d", "EE", ["youth"], "left"),
    ]

    result = spread(applications, cap=20)

    assert result.selected == 2
    assert result.sectors == {"school": 2, "vet": 1}
    assert result.countries == {"LV": 1, "PL": 1}


def test_directory_names_sort_without_case_and_spacing_and_cursors_round_trip() -> None:
    assert name_key("  Ärne   ÖSTER ") == "ärne öster"
    assert decode_cursor(encode_cursor("ärne öster", "m-9")) == ("ärne öster", "m-9")


def test_a_cursor_carries_a_name_or_a_time_and_an_id_never_a_query() -> None:
    at = datetime(2026, 11, 29, 10, 15, 30, 123000, tzinfo=UTC)
    key, thread_id = decode_cursor(encode_cursor(at, "t-1"))
    assert (key, thread_id) == (at, "t-1")
    forged = [
        "not a cursor",
        base64.urlsafe_b64encode(b'[{"$ne": null}, "t-1"]').decode(),
        base64.urlsafe_b64encode(b'["a", {"$gt": ""}]').decode(),
        base64.urlsafe_b64encode(b'["a"]').decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
    ]
    for cursor in forged:
        with pytest.raises(InvalidInput):
            decode_cursor(cursor)


def test_a_squad_proposal_takes_numbers_and_days_as_they_are_written() -> None:
    proposal = {"title": "AI in VET", "topic": "ai-in-education", "starts_on": "2027-01-10", "ends_on": "2027-06-30"}
    assert SquadProposal(**proposal, cap=12).cap == 12
    for wrong in ({"cap": 197.0}, {"cap": True}, {"starts_on": 0}, {"ends_on": 1.5}):
        with pytest.raises(ValidationError):
            SquadProposal.model_validate({**proposal, **wrong})
