"""Hackathons: challenges, teams within their size limit, and submissions that the practices
service turns into draft practices, through Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from event_steps import register, schedule, someone
from hub_testing import ServiceUnderTest, erase, isolated_settings, published_events, running

from deh_contracts.registry import EVENTS
from deh_platform.idempotency import derived_id
from deh_practices.app import create_app as create_practices
from deh_practices.settings import PracticesSettings
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def practices(servers: ServerAddresses) -> AsyncIterator[ServiceUnderTest]:
    settings = isolated_settings(PracticesSettings, servers)
    async with running(create_practices(settings)) as service:
        yield service


async def hackathon(events: ServiceUnderTest) -> dict[str, Any]:
    event: dict[str, Any] = await schedule(
        events,
        kind="hackathon",
        title="DigiEduHack Riga",
        audience="public",
        team_size_max=2,
        challenges=[{"title": "Offline learning for remote schools"}],
    )
    return event


async def team_of_two(events: ServiceUnderTest, name: str) -> tuple[dict[str, Any], dict[str, Any], tuple[str, str]]:
    """A hackathon, and a team on its challenge that one registered person formed and another joined."""
    event = await hackathon(events)
    challenge = event["challenges"][0]["challenge_id"]
    ana, ben = someone(), someone()
    for person in (ana, ben):
        await register(events, event["event_id"], person)
    formed = await post(events, f"/events/{event['event_id']}/teams", ana, {"name": name, "challenge_id": challenge})
    joined = await post(events, f"/teams/{formed.json()['team_id']}/join", ben)
    return event, joined.json(), (ana, ben)


async def post(events: ServiceUnderTest, path: str, member: str, body: dict[str, Any] | None = None) -> Any:
    return await events.client.post(path, json=body or {}, headers=events.caller(member))


async def test_teams_form_within_their_size_limit_and_one_team_per_person(events: ServiceUnderTest) -> None:
    event = await hackathon(events)
    challenge = event["challenges"][0]["challenge_id"]
    ana, ben, cai, dan = (someone() for _ in range(4))
    for person in (ana, ben, cai):
        await register(events, event["event_id"], person)

    formed = await post(
        events, f"/events/{event['event_id']}/teams", ana, {"name": "Lighthouse", "challenge_id": challenge}
    )
    assert formed.status_code == 201, formed.text
    team = formed.json()
    assert (await post(events, f"/teams/{team['team_id']}/join", ben)).json()["member_ids"] == [ana, ben]
    full = await post(events, f"/teams/{team['team_id']}/join", cai)
    assert full.status_code == 409
    assert "full" in full.json()["detail"]
    twice = await post(events, f"/events/{event['event_id']}/teams", ben, {"name": "Other", "challenge_id": challenge})
    assert twice.status_code == 409
    assert "another team" in twice.json()["detail"]
    unregistered = await post(
        events, f"/events/{event['event_id']}/teams", dan, {"name": "Solo", "challenge_id": challenge}
    )
    assert unregistered.status_code == 403
    unknown = await post(events, f"/events/{event['event_id']}/teams", cai, {"name": "X", "challenge_id": "nope"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "challenge_id"]

    left = await post(events, f"/teams/{team['team_id']}/leave", ben)
    assert left.json()["member_ids"] == [ana]
    assert (await post(events, f"/teams/{team['team_id']}/join", cai)).json()["member_ids"] == [ana, cai]


async def test_a_teams_submission_becomes_a_draft_practice_credited_to_its_members(
    events: ServiceUnderTest, practices: ServiceUnderTest
) -> None:
    _event, team, (ana, ben) = await team_of_two(events, "Mesh")

    outsider = await post(events, f"/teams/{team['team_id']}/submissions", someone(), {"title": "t", "summary": "s"})
    assert outsider.status_code == 403
    submitted = await post(
        events,
        f"/teams/{team['team_id']}/submissions",
        ben,
        {
            "title": "Mesh lessons",
            "summary": "Lessons shared over a local mesh network.",
            "links": ["https://mesh.example.eu"],
        },
    )
    assert submitted.status_code == 201, submitted.text

    practice_id = derived_id("hackathon", submitted.json()["submission_id"])

    async def drafted() -> dict[str, Any] | None:
        found = await practices.client.get(f"/practices/{practice_id}", headers=practices.caller(ana))
        return found.json() if found.status_code == 200 else None

    practice = await eventually(drafted, within=60)
    assert practice["status"] == "draft"
    assert set(practice["authors"]) == {ana, ben}
    assert practice["metadata"]["origin"] == {"kind": "hackathon", "reference": team["team_id"], "partner": None}


async def test_an_erased_member_leaves_an_upcoming_hackathons_team_and_their_submission_no_longer_names_them(
    events: ServiceUnderTest, servers: ServerAddresses
) -> None:
    event, team, (ana, ben) = await team_of_two(events, "Erasable")
    await post(events, f"/teams/{team['team_id']}/submissions", ben, {"title": "Notes", "summary": "Our notes."})

    await erase(servers, ben)

    async def anonymised() -> dict[str, Any] | None:
        listed = await events.client.get(f"/events/{event['event_id']}/teams", headers=events.caller(ana))
        mine = next(t for t in listed.json() if t["team_id"] == team["team_id"])
        return mine if ben not in str(mine) else None

    after = await eventually(anonymised, within=30)
    # Their registration for the coming hackathon was cancelled, so they left the team.
    assert after["member_ids"] == [ana]
    assert after["submissions"][0]["submitted_by"].startswith("erased-")
    published = await published_events(servers, EVENTS, [event["event_id"]], at_least=8)
    changes = [e.data["member_ids"] for e in published if e.type.endswith("hackathon.team-changed.v1")]
    assert changes[-1] == after["member_ids"]
    outsider = await events.client.get(f"/events/{event['event_id']}/teams", headers=events.caller(someone()))
    assert outsider.status_code == 403


async def test_a_challenge_posted_again_under_its_idempotency_key_is_posted_once(events: ServiceUnderTest) -> None:
    event = await hackathon(events)
    headers = {**event["organiser"], "Idempotency-Key": "challenge-2"}
    path, body = f"/events/{event['event_id']}/challenges", {"title": "Open data for teachers"}
    first, retried = [await events.client.post(path, json=body, headers=headers) for _ in range(2)]
    other = await events.client.post(path, json={"title": "Something else"}, headers=headers)

    assert (first.status_code, retried.status_code, other.status_code) == (201, 201, 422)
    assert retried.json() == first.json()
    shown = (await events.client.get(f"/events/{event['event_id']}", headers=event["organiser"])).json()
    assert [challenge["title"] for challenge in shown["challenges"]].count("Open data for teachers") == 1
    assert "_creation" not in str(shown)
