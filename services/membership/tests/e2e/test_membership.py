"""Membership end to end: HTTP in, contract events out on Kafka, real MongoDB underneath."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hub_samples import member_application as application
from hub_testing import ServiceUnderTest, produce, published_events, settle, validate_against_committed_schema
from membership_steps import ADMIN, CANDIDACY, MODERATOR, join, new_member_id, open_squad, reference_of

from deh_contracts import new_event, to_kafka
from deh_contracts.catalogue.events import AttendanceRecorded
from deh_contracts.catalogue.practices import Origin, PracticeMetadata, PracticePublished
from deh_contracts.registry import MEMBERSHIP, PEOPLE
from deh_membership.app import create_app
from deh_membership.settings import MembershipSettings
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.e2e

# Joining ------------------------------------------------------------------------------------------------


async def test_a_person_applies_and_a_moderator_approves(
    membership: ServiceUnderTest, servers: ServerAddresses
) -> None:
    member_id = new_member_id()

    applied = await membership.client.post(
        "/members", json=application(member_id), headers=membership.caller(member_id)
    )
    assert applied.status_code == 201
    assert applied.json()["status"] == "applied"
    assert applied.json()["consent"]["terms"]["given"] is True

    approved = await membership.client.post(
        f"/members/{member_id}/approve", json={}, headers=membership.caller(*MODERATOR)
    )
    assert approved.json()["status"] == "active"

    reference = await reference_of(membership, member_id)
    events = await published_events(servers, MEMBERSHIP, [reference], at_least=2)
    assert member_id not in str([event.data for event in events]), "the domain stream names the member by reference"
    assert [event.type for event in events] == [
        "eu.deh.membership.member.applied.v1",
        "eu.deh.membership.member.approved.v1",
    ]
    assert events[1].data["display_name"] is None, "no name on the domain stream, which is kept forever"
    assert events[1].data["approved_by"] == "moderator-1"
    (person,) = await published_events(servers, PEOPLE, [member_id])
    assert person.data["display_name"] == f"Ana {member_id[-6:]}", "the visible name: on the people topic"
    assert person.data["reference"] == reference, "the people topic alone links account and reference"


async def test_a_moderator_rejects_with_a_reason(membership: ServiceUnderTest, servers: ServerAddresses) -> None:
    member_id = new_member_id()
    await membership.client.post("/members", json=application(member_id), headers=membership.caller(member_id))

    without_reason = await membership.client.post(
        f"/members/{member_id}/reject", json={}, headers=membership.caller(*MODERATOR)
    )
    assert without_reason.status_code == 422
    assert without_reason.json()["detail"][0]["loc"] == ["body", "reason"]

    rejected = await membership.client.post(
        f"/members/{member_id}/reject",
        json={"reason": "not working in education"},
        headers=membership.caller(*MODERATOR),
    )
    assert rejected.json()["status"] == "rejected"
    events = await published_events(servers, MEMBERSHIP, [rejected.json()["reference"]], at_least=2)
    assert events[-1].data["reason"] == "not working in education"

    again = await membership.client.post(
        f"/members/{member_id}/approve", json={}, headers=membership.caller(*MODERATOR)
    )
    assert again.status_code == 409


async def test_invalid_applications_get_field_level_errors(membership: ServiceUnderTest) -> None:
    member_id = new_member_id()
    body = application(member_id, email="not-an-address", country="XX", sectors=[])

    response = await membership.client.post("/members", json=body, headers=membership.caller(member_id))

    assert response.status_code == 422
    locations = {tuple(error["loc"]) for error in response.json()["detail"]}
    assert {("body", "profile", "email"), ("body", "profile", "country"), ("body", "profile", "sectors")} <= locations


async def test_the_terms_and_privacy_notice_must_be_accepted(membership: ServiceUnderTest) -> None:
    member_id = new_member_id()
    body = application(member_id)
    body["consent"]["privacy"] = False

    response = await membership.client.post("/members", json=body, headers=membership.caller(member_id))

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "consent", "privacy"]


async def test_an_email_address_joins_only_once(membership: ServiceUnderTest) -> None:
    first, second = new_member_id(), new_member_id()
    await membership.client.post(
        "/members", json=application(first, email="same@school.example.eu"), headers=membership.caller(first)
    )

    duplicate = await membership.client.post(
        "/members", json=application(second, email="Same@School.example.eu"), headers=membership.caller(second)
    )

    assert duplicate.status_code == 409


async def test_forbidden_and_unknown_and_unauthenticated_requests(membership: ServiceUnderTest) -> None:
    member_id = await join(membership)
    other = await join(membership)

    assert (
        await membership.client.post(f"/members/{other}/approve", json={}, headers=membership.caller(member_id))
    ).status_code == 403
    assert (await membership.client.get(f"/members/{other}", headers=membership.caller(member_id))).status_code == 403
    assert (
        await membership.client.delete(f"/members/{other}", headers=membership.caller(member_id))
    ).status_code == 403
    assert (await membership.client.get(f"/members/{other}")).status_code == 401
    assert (
        await membership.client.get(f"/members/{other}", headers={"Authorization": "Bearer forged"})
    ).status_code == 401
    assert (
        await membership.client.post("/members/nobody/approve", json={}, headers=membership.caller(*MODERATOR))
    ).status_code == 404
    assert (await membership.client.get("/squads/nothing", headers=membership.caller(member_id))).status_code == 404
    assert (
        await membership.client.get("/organisations/nothing", headers=membership.caller(member_id))
    ).status_code == 404


async def test_a_member_updates_profile_and_consent_and_is_suspended_reinstated_and_leaves(
    membership: ServiceUnderTest, servers: ServerAddresses
) -> None:
    member_id = await join(membership, visible=False)
    me = membership.caller(member_id)

    updated = await membership.client.patch(
        f"/members/{member_id}/profile", json={"expertise_topics": ["micro-credentials"]}, headers=me
    )
    assert updated.json()["profile"]["expertise_topics"] == ["micro-credentials"]
    consent = await membership.client.put(
        f"/members/{member_id}/consent",
        json={"terms": True, "privacy": True, "directory_visible": True, "newsletter": True},
        headers=me,
    )
    assert consent.json()["consent"]["newsletter"]["given"] is True
    assert consent.json()["consent"]["terms"]["at"] == updated.json()["consent"]["terms"]["at"], (
        "unchanged items keep their time"
    )

    suspended = await membership.client.post(
        f"/members/{member_id}/suspend", json={"reason": "spam"}, headers=membership.caller(*MODERATOR)
    )
    assert suspended.json()["status"] == "suspended"
    reinstated = await membership.client.post(
        f"/members/{member_id}/reinstate", json={}, headers=membership.caller(*MODERATOR)
    )
    assert reinstated.json()["status"] == "active"
    left = await membership.client.post(f"/members/{member_id}/leave", headers=me)
    assert left.json()["status"] == "left"

    reference = left.json()["reference"]
    types = [
        event.type.split(".")[-2] for event in await published_events(servers, MEMBERSHIP, [reference], at_least=7)
    ]
    assert types == ["applied", "approved", "profile-updated", "profile-updated", "suspended", "reinstated", "left"]
    hidden, shown = (
        event
        for event in await published_events(servers, MEMBERSHIP, [reference], at_least=7)
        if event.type.endswith("profile-updated.v1")
    )
    assert hidden.data["expertise_topics"] == [], "a hidden member's topics do not leave the service"
    assert shown.data["expertise_topics"] != []
    people = [
        (event.data["status"], event.data["display_name"])
        for event in await published_events(servers, PEOPLE, [member_id], at_least=6)
    ]
    name = f"Ana {member_id[-6:]}"
    assert people == [
        ("active", None),  # approved, hidden
        ("active", None),  # still hidden
        ("active", name),  # then shown
        ("suspended", name),
        ("active", name),
        ("left", name),
    ], "the people topic follows the member's status; the name only when shown"


# Directory ------------------------------------------------------------------------------------------------


async def test_the_directory_shows_only_visible_members_with_filters_and_stable_pages(
    membership: ServiceUnderTest,
) -> None:
    tag = uuid.uuid4().hex[:6]
    organisation = await membership.client.post(
        "/organisations",
        json={"name": f"Riga School {tag}", "type": "education_or_training_provider", "country": "LV"},
        headers=membership.caller(*MODERATOR),
    )
    organisation_id = organisation.json()["id"]
    visible = [
        await join(
            membership,
            display_name=f"Zane {tag} {n:02d}",
            expertise_topics=[f"topic-{tag}"],
            organisation_id=organisation_id,
            sectors=["vet" if n % 2 else "school"],
        )
        for n in range(7)
    ]
    hidden = await join(membership, display_name=f"Zane {tag} hidden", expertise_topics=[f"topic-{tag}"], visible=False)
    viewer = membership.caller(visible[0])

    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {
            "expertise": f"topic-{tag}",
            "limit": 3,
            **({"cursor": cursor} if cursor else {}),
        }
        page = (await membership.client.get("/directory", params=params, headers=viewer)).json()
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    listed = [entry["id"] for page in pages for entry in page["members"]]
    assert listed == visible, "name order, no gaps, no repeats"
    assert [len(page["members"]) for page in pages] == [3, 3, 1]
    assert hidden not in listed
    assert all("email" not in entry for page in pages for entry in page["members"])

    by_name = (await membership.client.get("/directory", params={"name": f"zane {tag} 03"}, headers=viewer)).json()
    assert [entry["id"] for entry in by_name["members"]] == [visible[3]]
    vet = (
        await membership.client.get("/directory", params={"expertise": f"topic-{tag}", "sector": "vet"}, headers=viewer)
    ).json()
    assert [entry["id"] for entry in vet["members"]] == visible[1::2]
    typed = (
        await membership.client.get(
            "/directory",
            params={"organisation_type": "education_or_training_provider", "country": "LV", "name": tag, "limit": 100},
            headers=viewer,
        )
    ).json()
    assert {entry["id"] for entry in typed["members"]} == set(visible)
    bad = await membership.client.get("/directory", params={"cursor": "###"}, headers=viewer)
    assert bad.status_code == 422


# Organisations and the NAS network ---------------------------------------------------------------------------


async def test_a_nas_coordinator_lists_the_members_of_their_country_who_agreed_to_be_seen(
    membership: ServiceUnderTest, servers: ServerAddresses
) -> None:
    coordinator = await join(membership, country="MT")
    maltese = await join(membership, country="MT", visible=False)
    organisation = await membership.client.post(
        "/organisations",
        json={"name": "Ministry for Education, Malta", "type": "national_authority", "country": "MT"},
        headers=membership.caller(*ADMIN),
    )
    nas = await membership.client.post(
        "/nas",
        json={
            "country": "MT",
            "organisation_id": organisation.json()["id"],
            "coordinator_ids": [coordinator],
            "scope": "schools and VET",
        },
        headers=membership.caller(*ADMIN),
    )
    assert nas.status_code == 201
    nas_id = nas.json()["id"]

    listed = await membership.client.get(
        f"/nas/{nas_id}/members", headers=membership.caller(coordinator, "member", "nas_coordinator")
    )
    shown = {entry["id"] for entry in listed.json()}
    assert coordinator in shown
    assert maltese not in shown, "a member who chose not to be visible is not listed, not even to coordinators"
    assert all(entry["id"] != "" and "email" not in entry for entry in listed.json())

    not_theirs = await membership.client.get(
        f"/nas/{nas_id}/members", headers=membership.caller(maltese, "member", "nas_coordinator")
    )
    assert not_theirs.status_code == 403
    unknown_organisation = await membership.client.post(
        "/nas",
        json={"country": "MT", "organisation_id": "nope", "coordinator_ids": [coordinator], "scope": "all sectors"},
        headers=membership.caller(*ADMIN),
    )
    assert unknown_organisation.status_code == 422
    assert unknown_organisation.json()["detail"][0]["loc"] == ["body", "organisation_id"]
    outside_eu = await membership.client.post(
        "/nas",
        json={
            "country": "NO",
            "organisation_id": organisation.json()["id"],
            "coordinator_ids": [coordinator],
            "scope": "all sectors",
        },
        headers=membership.caller(*ADMIN),
    )
    assert outside_eu.status_code == 422
    assert outside_eu.json()["detail"][0]["loc"] == ["body", "country"]
    registered = await published_events(servers, MEMBERSHIP, [nas_id])
    assert registered[0].data["coordinator_ids"] == [await reference_of(membership, coordinator)]


# Squads ---------------------------------------------------------------------------------------------------------


async def test_a_squad_selects_candidates_shows_the_spread_lets_members_leave_and_records_outputs(
    membership: ServiceUnderTest, servers: ServerAddresses
) -> None:
    squad_id = await open_squad(membership, cap=2)
    latvian = await join(membership, country="LV", sectors=["school"])
    polish = await join(membership, country="PL", sectors=["vet", "adult_learning"])
    third = await join(membership, country="PL", sectors=["vet"])
    for candidate in (latvian, polish, third):
        applied = await membership.client.post(
            f"/squads/{squad_id}/applications", json=CANDIDACY, headers=membership.caller(candidate)
        )
        assert applied.status_code == 201
    twice = await membership.client.post(
        f"/squads/{squad_id}/applications", json=CANDIDACY, headers=membership.caller(latvian)
    )
    assert twice.status_code == 409

    moderator = membership.caller(*MODERATOR)
    for candidate in (latvian, polish):
        assert (
            await membership.client.post(
                f"/squads/{squad_id}/selections", json={"application_id": candidate}, headers=moderator
            )
        ).status_code == 200
    full = await membership.client.post(
        f"/squads/{squad_id}/selections", json={"application_id": third}, headers=moderator
    )
    assert full.status_code == 409

    selection = (await membership.client.get(f"/squads/{squad_id}/selection", headers=moderator)).json()
    assert selection["spread"] == {
        "selected": 2,
        "cap": 2,
        "sectors": {"adult_learning": 1, "school": 1, "vet": 1},
        "countries": {"LV": 1, "PL": 1},
    }

    assert (
        await membership.client.delete(f"/squads/{squad_id}/applications/{polish}", headers=membership.caller(polish))
    ).status_code == 204
    assert (
        await membership.client.post(
            f"/squads/{squad_id}/selections", json={"application_id": third}, headers=moderator
        )
    ).status_code == 200

    output = {
        "title": "AI in VET: a white paper",
        "summary": "What twelve pilots taught us.",
        "kind": "white_paper",
        "language": "en",
        "author_ids": [latvian, third],
    }
    recorded = await membership.client.post(f"/squads/{squad_id}/outputs", json=output, headers=moderator)
    assert recorded.status_code == 201
    not_an_author = await membership.client.post(
        f"/squads/{squad_id}/outputs", json={**output, "author_ids": [polish]}, headers=moderator
    )
    assert not_an_author.status_code == 422

    types = [event.type.split(".")[-2] for event in await published_events(servers, MEMBERSHIP, [squad_id], at_least=9)]
    assert types == ["created"] + ["application-received"] * 3 + ["member-selected"] * 2 + [
        "member-left",
        "member-selected",
        "output-recorded",
    ]


async def test_the_cap_holds_with_50_concurrent_selections_for_20_places(
    membership: ServiceUnderTest, servers: ServerAddresses
) -> None:
    squad_id = await open_squad(membership, cap=20)
    candidates = await asyncio.gather(*(join(membership, sectors=["higher_education"]) for _ in range(50)))
    for candidate in candidates:
        await membership.client.post(
            f"/squads/{squad_id}/applications", json=CANDIDACY, headers=membership.caller(candidate)
        )

    moderators = [membership.caller(f"moderator-{n}", "moderator") for n in range(5)]
    responses = await asyncio.gather(
        *(
            membership.client.post(
                f"/squads/{squad_id}/selections", json={"application_id": candidate}, headers=moderators[n % 5]
            )
            for n, candidate in enumerate(candidates)
        )
    )

    assert sorted(response.status_code for response in responses) == [200] * 20 + [409] * 30
    squad = (await membership.client.get(f"/squads/{squad_id}", headers=moderators[0])).json()
    assert squad["places_left"] == 0
    selection = (await membership.client.get(f"/squads/{squad_id}/selection", headers=moderators[0])).json()
    assert selection["spread"]["selected"] == 20
    selected_events = [
        event
        for event in await published_events(servers, MEMBERSHIP, [squad_id], at_least=71)
        if event.type.endswith("member-selected.v1")
    ]
    assert len(selected_events) == 20


# Personal data -------------------------------------------------------------------------------------------------


async def test_a_member_exports_their_data_and_is_erased_everywhere_here(
    membership: ServiceUnderTest, servers: ServerAddresses
) -> None:
    member_id = await join(membership)
    me = membership.caller(member_id)
    squad_id = await open_squad(membership, cap=5)
    await membership.client.post(f"/squads/{squad_id}/applications", json=CANDIDACY, headers=me)

    exported = (await membership.client.get(f"/members/{member_id}/export", headers=me)).json()
    assert exported["member"]["profile"]["email"] == f"{member_id}@school.example.eu"
    assert len(exported["member"]["consent_history"]) == 1
    assert exported["squads"][0]["application"]["motivation"] == CANDIDACY["motivation"]

    reference = await reference_of(membership, member_id)
    assert (await membership.client.delete(f"/members/{member_id}", headers=me)).status_code == 204

    async def gone() -> bool:
        # The member's record leaves once `member erased` and the tombstone have left its outbox.
        found = await membership.client.get(f"/members/{member_id}", headers=membership.caller(*ADMIN))
        return found.status_code == 404

    await eventually(gone)
    again = await membership.client.delete(f"/members/{member_id}", headers=membership.caller(*ADMIN))
    assert again.status_code == 404, "nothing is left to erase"
    exported_after = await membership.client.get(f"/members/{member_id}/export", headers=membership.caller(*ADMIN))
    assert exported_after.status_code == 404

    async def named_nowhere_here() -> bool:
        # Once the squad's pending events have left its outbox, nothing names the member.
        database = membership.runtime.db
        stored = [document for name in ("members", "squads", "activity") async for document in database[name].find({})]
        return member_id not in str(stored) and reference not in str(stored)

    await eventually(named_nowhere_here)
    squad = await membership.runtime.db.squads.find_one({"_id": squad_id})
    assert squad is not None
    assert CANDIDACY["motivation"] not in str(squad)
    assert len(squad["applications"]) == 1, "the application stays, under an opaque id"
    directory = (
        await membership.client.get("/directory", params={"name": member_id[-6:]}, headers=membership.caller(*ADMIN))
    ).json()
    assert directory["members"] == []
    erased = [
        event
        for event in await published_events(servers, MEMBERSHIP, [reference], at_least=3)
        if event.type.endswith("erased.v1")
    ]
    assert len(erased) == 1


# Activity from other services -----------------------------------------------------------------------------------


def published_practice(author: str) -> PracticePublished:
    metadata = PracticeMetadata(
        title={"en": "Coding clubs for girls", "lv": "Programmēšanas pulciņi meitenēm"},
        summary={"en": "After-school clubs"},
        languages=["en", "lv"],
        licence="CC-BY-4.0",
        result_type="handbook",
        origin=Origin(kind="community"),
    )
    return PracticePublished(
        practice_id=f"p-{uuid.uuid4().hex[:8]}",
        version=1,
        metadata=metadata,
        author_ids=[author],
        published_at=datetime.now(UTC),
    )


async def test_activity_records_practices_published_and_events_attended_once(
    membership: ServiceUnderTest, servers: ServerAddresses
) -> None:
    member_id = await join(membership)
    reference = await reference_of(membership, member_id)  # how other services' events name them
    practice = to_kafka(new_event(published_practice(reference), source="/deh/practices"))
    attendance = AttendanceRecorded(
        event_id="ev-1", registration_id="r-1", member_id=reference, attended=True, recorded_at=datetime.now(UTC)
    )
    no_show = AttendanceRecorded(
        event_id="ev-2", registration_id="r-2", member_id=reference, attended=False, recorded_at=datetime.now(UTC)
    )

    await produce(
        servers,
        practice,
        practice,
        to_kafka(new_event(no_show, source="/deh/events")),
        to_kafka(new_event(attendance, source="/deh/events")),
    )

    async def two_records() -> list[dict[str, Any]] | None:
        records = (
            await membership.client.get(f"/members/{member_id}/activity", headers=membership.caller(member_id))
        ).json()
        return records if len(records) >= 2 else None

    records = await eventually(two_records)
    await settle()
    records = (
        await membership.client.get(f"/members/{member_id}/activity", headers=membership.caller(member_id))
    ).json()
    assert sorted(record["kind"] for record in records) == ["event_attended", "practice_published"]
    assert (
        next(record for record in records if record["kind"] == "practice_published")["title"]
        == "Coding clubs for girls"
    )


# Contracts ------------------------------------------------------------------------------------------------------


async def test_every_published_event_matches_its_schema_and_carries_no_email_or_hidden_name(
    membership: ServiceUnderTest, servers: ServerAddresses
) -> None:
    visible = await join(membership)
    hidden = await join(membership, visible=False)
    await membership.client.patch(
        f"/members/{hidden}/profile", json={"display_name": "Secret Name"}, headers=membership.caller(hidden)
    )

    references = [await reference_of(membership, member) for member in (visible, hidden)]
    events = await published_events(servers, MEMBERSHIP, references, at_least=5)
    assert not any(member in str(event.data) for event in events for member in (visible, hidden))
    events += await published_events(servers, PEOPLE, [visible, hidden], at_least=3)

    for event in events:
        validate_against_committed_schema(event)
        assert "@" not in str(event.data), f"{event.type} carries an email address"
        assert event.headers["ce_subject"] == event.subject
    about_hidden = [event for event in events if event.subject in (hidden, references[1])]
    assert all("Secret Name" not in str(event.data) for event in about_hidden)
    assert all(event.data.get("display_name") is None for event in about_hidden)


async def test_a_body_too_large_is_refused_before_any_parsing_or_token_check(membership: ServiceUnderTest) -> None:
    huge = b'{"profile": "' + b"x" * 2_000_000 + b'"}'
    response = await membership.client.post("/members", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert len(response.content) < 200  # the answer never echoes the input


async def test_a_lone_surrogate_is_a_422_naming_the_field_not_a_500(membership: ServiceUnderTest) -> None:
    member_id = f"m-{uuid.uuid4().hex[:10]}"
    body = json.dumps(application(member_id, display_name="Ana \udc00"))
    response = await membership.client.post(
        "/members", content=body, headers={**membership.caller(member_id), "content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "profile", "display_name"]


async def test_a_field_error_names_the_field_and_never_echoes_the_input(membership: ServiceUnderTest) -> None:
    member_id = f"m-{uuid.uuid4().hex[:10]}"
    body = application(member_id, display_name="x" * 500_000)
    response = await membership.client.post("/members", json=body, headers=membership.caller(member_id))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "profile", "display_name"]
    assert len(response.content) < 1000


async def test_a_wrong_method_names_every_method_the_path_allows(membership: ServiceUnderTest) -> None:
    response = await membership.client.put("/members/someone", headers=membership.caller("someone"))
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET"


async def test_the_api_document_lists_every_error_status_of_an_operation() -> None:
    document = create_app(MembershipSettings()).openapi()
    profile = document["paths"]["/members/{member_id}/profile"]["patch"]["responses"]
    assert set(profile) == {"200", "401", "403", "404", "408", "409", "413", "415", "422", "503"}
    assert set(document["paths"]["/healthz"]["get"]["responses"]) == {"200", "408", "413", "415", "503"}
    assert set(document["components"]["schemas"]["FieldProblem"]["properties"]) == {"loc", "msg", "type"}


async def test_an_application_sent_again_with_its_idempotency_key_is_answered_as_the_first(
    membership: ServiceUnderTest,
) -> None:
    member_id = f"m-{uuid.uuid4().hex[:10]}"
    headers = {**membership.caller(member_id), "Idempotency-Key": str(uuid.uuid4())}
    body = application(member_id)
    first, retried = [await membership.client.post("/members", json=body, headers=headers) for _ in range(2)]
    other = await membership.client.post("/members", json=application(member_id, country="EE"), headers=headers)
    no_key = await membership.client.post("/members", json=body, headers=membership.caller(member_id))

    assert (first.status_code, retried.status_code, other.status_code, no_key.status_code) == (201, 201, 422, 409)
    assert retried.json()["profile"] == first.json()["profile"]
    assert retried.json()["status"] == first.json()["status"] == "applied"


async def test_a_token_whose_subject_could_be_a_field_path_or_an_operator_is_refused(
    membership: ServiceUnderTest,
) -> None:
    for subject in ("ana.berzina", "$where", "ana berzina", "-ana", "a" * 201):
        response = await membership.client.post("/members", json=application("m-x"), headers=membership.caller(subject))
        assert response.status_code == 401, subject
    assert (await membership.client.get("/members/ana.berzina", headers=membership.caller("m-1"))).status_code == 422


async def test_a_moderator_does_not_decide_their_own_application(membership: ServiceUnderTest) -> None:
    moderator = new_member_id()
    await membership.client.post("/members", json=application(moderator), headers=membership.caller(moderator))
    own = await membership.client.post(
        f"/members/{moderator}/approve", json={}, headers=membership.caller(moderator, "member", "moderator")
    )
    assert own.status_code == 403
    assert (await membership.client.get(f"/members/{moderator}", headers=membership.caller(moderator))).json()[
        "status"
    ] == "applied"


async def test_a_profile_change_and_a_consent_change_at_once_never_undo_each_other(
    membership: ServiceUnderTest,
) -> None:
    """Each write is conditional on the revision read: of two changes made from the same read,
    one is applied and the other refused (409), never written over the first."""
    member_id = await join(membership)
    headers = membership.caller(member_id)
    for round_ in range(10):
        name, newsletter = f"Ana Round {round_}", round_ % 2 == 0
        profile, consent = await asyncio.gather(
            membership.client.patch(f"/members/{member_id}/profile", json={"display_name": name}, headers=headers),
            membership.client.put(
                f"/members/{member_id}/consent",
                json={"terms": True, "privacy": True, "directory_visible": True, "newsletter": newsletter},
                headers=headers,
            ),
        )
        assert {profile.status_code, consent.status_code} <= {200, 409}
        stored = (await membership.client.get(f"/members/{member_id}", headers=headers)).json()
        if profile.status_code == 200:
            assert stored["profile"]["display_name"] == name, "a consent change wrote an old profile back"
        if consent.status_code == 200:
            assert stored["consent"]["newsletter"]["given"] == newsletter


async def test_the_directory_is_for_active_members_not_the_suspended_nor_strangers(
    membership: ServiceUnderTest,
) -> None:
    member_id = await join(membership)
    assert (await membership.client.get("/directory", headers=membership.caller(member_id))).status_code == 200
    suspended = await membership.client.post(
        f"/members/{member_id}/suspend", json={"reason": "spam"}, headers=membership.caller(*MODERATOR)
    )
    assert suspended.status_code == 200
    assert (await membership.client.get("/directory", headers=membership.caller(member_id))).status_code == 403
    assert (await membership.client.get("/directory", headers=membership.caller(new_member_id()))).status_code == 403
    assert (await membership.client.get("/directory", headers=membership.caller(*MODERATOR))).status_code == 200
