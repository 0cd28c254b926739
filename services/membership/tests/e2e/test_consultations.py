"""Consultations (issue 17) over HTTP and Kafka on the real servers: the Commission or a moderator
asks an audience; members answer once (changeable until it closes), even when they send at once;
results count the stored answers by country, sector and organisation type; free texts are
exported named only where the respondent agreed."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hub_testing import ServiceUnderTest, published_events, validate_against_committed_schema
from membership_steps import join, squad_that_selected

from deh_contracts.registry import COMMUNITY

pytestmark = pytest.mark.e2e

COMMISSION = ("dg-eac-1", "commission")
QUESTIONS = [
    {
        "question_id": "q-tools",
        "kind": "single_choice",
        "text": "Which tool do you use most?",
        "options": ["lms", "chat", "none"],
    },
    {
        "question_id": "q-needs",
        "kind": "multiple_choice",
        "text": "What do you need?",
        "options": ["training", "devices", "time"],
    },
    {"question_id": "q-ready", "kind": "scale", "text": "How ready is your school?", "scale_from": 1, "scale_to": 5},
    {"question_id": "q-say", "kind": "free_text", "text": "Anything else?"},
]


async def consultation(hub: ServiceUnderTest, *, closes_in: timedelta = timedelta(hours=1), **audience: Any) -> str:
    now = datetime.now(UTC)
    form = {
        "title": "Digital readiness of schools",
        "audience": audience or {"kind": "community"},
        "questions": QUESTIONS,
        "opens_at": (now - timedelta(minutes=1)).isoformat(),
        "closes_at": (now + closes_in).isoformat(),
    }
    response = await hub.client.post("/consultations", json=form, headers=hub.caller(*COMMISSION))
    assert response.status_code == 201, response.text
    return str(response.json()["consultation_id"])


def answers(tool: str, needs: list[str], ready: int, say: str) -> dict[str, Any]:
    return {"q-tools": tool, "q-needs": needs, "q-ready": ready, "q-say": say}


async def test_results_count_the_stored_answers_by_country_sector_and_organisation_type(
    membership: ServiceUnderTest, servers: Any
) -> None:
    consultation_id = await consultation(membership)
    url = f"/consultations/{consultation_id}"
    respondents = [
        (await join(membership, country="LV", sectors=["school"]), answers("lms", ["training"], 4, "More time."), True),
        (
            await join(membership, country="PL", sectors=["vet", "school"]),
            answers("chat", ["devices", "time"], 2, "Tablets."),
            False,
        ),
        (await join(membership, country="PL", sectors=["vet"]), answers("lms", ["time"], 5, "Nothing."), False),
    ]
    for member, given, named in respondents:
        response = await membership.client.put(
            f"{url}/answers/mine", json={"answers": given, "named": named}, headers=membership.caller(member)
        )
        assert response.status_code == 200, response.text
    changed = answers("none", ["time"], 1, "Nothing, really.")
    response = await membership.client.put(
        f"{url}/answers/mine", json={"answers": changed}, headers=membership.caller(respondents[2][0])
    )
    assert response.json()["answers"] == changed, "changed until it closes"
    respondents[2] = (respondents[2][0], changed, False)

    results = (await membership.client.get(f"{url}/results", headers=membership.caller(*COMMISSION))).json()
    assert results["respondents"] == 3
    by_question = {result["question_id"]: result for result in results["questions"]}
    assert by_question["q-tools"]["counts"] == {"lms": 1, "chat": 1, "none": 1}
    needs = Counter(need for _, given, _ in respondents for need in given["q-needs"])
    assert by_question["q-needs"]["counts"] == {"training": 0, "devices": 0, "time": 0, **needs}
    ready = Counter(str(given["q-ready"]) for _, given, _ in respondents)
    assert by_question["q-ready"]["counts"] == {**{str(value): 0 for value in range(1, 6)}, **ready}, (
        "every value, in order"
    )
    assert list(by_question["q-ready"]["counts"]) == ["1", "2", "3", "4", "5"]
    assert by_question["q-say"]["counts"] == {"answered": 3}
    # Three respondents: every country, sector and organisation type is a group of fewer than 5.
    small = "(groups of fewer than 5)"
    assert by_question["q-tools"]["by"]["country"] == {small: {"lms": 1, "chat": 1, "none": 1}}
    assert by_question["q-tools"]["by"]["sector"] == {small: {"lms": 1, "chat": 2, "none": 1}}
    assert (
        await membership.client.get(f"{url}/results", headers=membership.caller(respondents[0][0]))
    ).status_code == 403

    texts = (await membership.client.get(f"{url}/free-texts", headers=membership.caller(*COMMISSION))).json()
    assert sorted(text["text"] for text in texts) == sorted(given["q-say"] for _, given, _ in respondents)
    assert [text["respondent"] for text in texts if text["respondent"]] == [f"Ana {respondents[0][0][-6:]}"]
    unnamed = [text for text in texts if text["respondent"] is None]
    assert {(text["country"], text["organisation_type"]) for text in unnamed} == {(None, None)}, "nothing that names"
    assert all(text["sectors"] == [] for text in unnamed)
    shown = await membership.client.get(url, headers=membership.caller(*COMMISSION))
    assert shown.status_code == 200, "those who consult read the consultation"
    assert all(member not in str(texts) for member, _, _ in respondents), "no account id in the export"

    events = await published_events(servers, COMMUNITY, [consultation_id], at_least=5)
    assert Counter(event.type.rsplit(".", 2)[-2] for event in events) == {"opened": 1, "answered": 4}
    for event in events:
        validate_against_committed_schema(event)
        assert all(member not in str(event.data) for member, _, _ in respondents), "counts, never who"


async def test_one_answer_per_member_under_50_concurrent_submissions(
    membership: ServiceUnderTest, servers: Any
) -> None:
    consultation_id = await consultation(membership)
    members = [await join(membership) for _ in range(10)]

    async def submit(member: str, ready: int) -> int:
        body = {"answers": answers("lms", ["time"], ready, "Same again.")}
        response = await membership.client.put(
            f"/consultations/{consultation_id}/answers/mine", json=body, headers=membership.caller(member)
        )
        return response.status_code

    statuses = await asyncio.gather(*(submit(member, 1 + n % 5) for member in members for n in range(5)))
    assert Counter(statuses) == {200: 50}
    stored = await membership.runtime.db.answers.count_documents({"consultation_id": consultation_id})
    assert stored == 10
    results = (
        await membership.client.get(f"/consultations/{consultation_id}/results", headers=membership.caller(*COMMISSION))
    ).json()
    assert results["respondents"] == 10
    assert sum(results["questions"][2]["counts"].values()) == 10
    events = await published_events(servers, COMMUNITY, [consultation_id], at_least=51)
    firsts = [event for event in events if event.data.get("first_answer")]
    assert len(firsts) == 10, "one first answer per member: the others changed it"


async def test_an_erased_members_answer_stays_counted_by_nobody(membership: ServiceUnderTest) -> None:
    member = await join(membership)
    consultation_id = await consultation(membership)
    body = {"answers": answers("chat", ["devices"], 2, "Call me."), "named": True}
    answered = await membership.client.put(
        f"/consultations/{consultation_id}/answers/mine", json=body, headers=membership.caller(member)
    )
    assert answered.status_code == 200, answered.text
    erased = await membership.client.delete(f"/members/{member}", headers=membership.caller("admin-1", "admin"))
    assert erased.status_code == 204, erased.text
    results = (
        await membership.client.get(f"/consultations/{consultation_id}/results", headers=membership.caller(*COMMISSION))
    ).json()
    assert results["respondents"] == 1
    texts = (
        await membership.client.get(
            f"/consultations/{consultation_id}/free-texts", headers=membership.caller(*COMMISSION)
        )
    ).json()
    assert [(text["text"], text["respondent"]) for text in texts] == [("Call me.", None)]
    stored = [answer async for answer in membership.runtime.db.answers.find({"consultation_id": consultation_id})]
    assert member not in str(stored)


async def test_answers_are_checked_against_the_questions_and_taken_only_while_open(
    membership: ServiceUnderTest,
) -> None:
    member = await join(membership)
    consultation_id = await consultation(membership)
    url = f"/consultations/{consultation_id}/answers/mine"
    for wrong, location in (
        ({**answers("lms", ["time"], 9, "x")}, "q-ready"),
        ({**answers("fax", ["time"], 3, "x")}, "q-tools"),
        ({**answers("lms", [], 3, "x")}, "q-needs"),
        ({"q-tools": "lms"}, "q-needs"),
    ):
        response = await membership.client.put(url, json={"answers": wrong}, headers=membership.caller(member))
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "answers", location]

    closed = await consultation(membership, closes_in=timedelta(seconds=-30))
    late = await membership.client.put(
        f"/consultations/{closed}/answers/mine",
        json={"answers": answers("lms", ["time"], 3, "x")},
        headers=membership.caller(member),
    )
    assert late.status_code == 409, late.text
    open_results = await membership.client.get(
        f"/consultations/{consultation_id}/results", headers=membership.caller(member)
    )
    assert open_results.status_code == 403, "not while answers are still to come"
    closed_results = await membership.client.get(f"/consultations/{closed}/results", headers=membership.caller(member))
    assert closed_results.status_code == 200, "the audience sees the results once it has closed"
    assert closed_results.json()["respondents"] == 0


async def test_a_squad_is_consulted_alone_and_members_do_not_open_consultations(membership: ServiceUnderTest) -> None:
    member, outsider = await join(membership), await join(membership)
    squad_id = await squad_that_selected(membership, member)
    consultation_id = await consultation(membership, kind="squad", squad_id=squad_id)
    body = {"answers": answers("lms", ["time"], 3, "x")}
    url = f"/consultations/{consultation_id}/answers/mine"
    assert (await membership.client.put(url, json=body, headers=membership.caller(outsider))).status_code == 403
    assert (await membership.client.put(url, json=body, headers=membership.caller(member))).status_code == 200
    opened = await membership.client.post(
        "/consultations",
        json={
            "title": "Mine",
            "audience": {"kind": "community"},
            "questions": QUESTIONS,
            "opens_at": datetime.now(UTC).isoformat(),
            "closes_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
        headers=membership.caller(member),
    )
    assert opened.status_code == 403


async def test_a_consultation_needs_times_with_their_zone_and_a_squad_that_exists(membership: ServiceUnderTest) -> None:
    now = datetime.now(UTC)
    form = {
        "title": "Naive",
        "audience": {"kind": "community"},
        "questions": QUESTIONS,
        "opens_at": now.replace(tzinfo=None).isoformat(),
        "closes_at": (now + timedelta(days=1)).isoformat(),
    }
    naive = await membership.client.post("/consultations", json=form, headers=membership.caller(*COMMISSION))
    assert naive.status_code == 422, naive.text
    assert naive.json()["detail"][0]["loc"] == ["body", "opens_at"]
    nowhere = {**form, "opens_at": now.isoformat(), "audience": {"kind": "squad", "squad_id": "no-such-squad"}}
    missing = await membership.client.post("/consultations", json=nowhere, headers=membership.caller(*COMMISSION))
    assert missing.status_code == 404
