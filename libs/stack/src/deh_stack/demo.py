"""Demo data for the local hub, loaded through the services' own HTTP APIs (never their
databases), once per stack: organisations, members across Europe, National Advisory Services,
a squad with its selection, published multilingual practices, and events with registrations."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from deh_platform.auth import issue_token
from deh_platform.settings import ServiceSettings
from deh_stack.config import StackConfig
from deh_stack.demo_practices import demo_practices
from deh_stack.errors import StackError

ORGANISATIONS = [
    ("Valsts izglītības satura centrs", "national_authority", "LV"),
    ("Ośrodek Rozwoju Edukacji", "national_authority", "PL"),
    ("Tallinna Ülikool", "research_or_expert_body", "EE"),
    ("Berufsbildende Schule Koblenz", "education_or_training_provider", "DE"),
    ("Code Club Lisboa", "civil_society", "PT"),
]

PEOPLE = [
    ("Ilze Kalniņa", "LV", 0, ["school"], ["ai-in-education", "teacher-training"], ["lv", "en"], True),
    ("Jānis Ozols", "LV", 0, ["vet"], ["micro-credentials"], ["lv", "en", "de"], True),
    ("Agnieszka Nowak", "PL", 1, ["school"], ["digital-inclusion"], ["pl", "en"], True),
    ("Tomasz Wiśniewski", "PL", 1, ["higher_education"], ["ai-in-education"], ["pl", "en"], False),
    ("Kadri Tamm", "EE", 2, ["higher_education"], ["learning-analytics", "ai-in-education"], ["et", "en"], True),
    ("Jonas Becker", "DE", 3, ["vet"], ["micro-credentials", "interoperability"], ["de", "en"], True),
    ("Marta Costa", "PT", 4, ["youth"], ["coding-clubs", "digital-inclusion"], ["pt", "en", "es"], True),
    ("Lucía Fernández", "ES", None, ["adult_learning"], ["sustainability"], ["es", "en"], True),
    ("Sofie Jensen", "DK", None, ["early_childhood"], ["digital-wellbeing"], ["da", "en"], False),
    ("Matteo Rossi", "IT", None, ["school"], ["ai-in-education"], ["it", "en"], True),
    ("Eleni Papadopoulou", "GR", None, ["higher_education"], ["education-in-crises"], ["el", "en"], True),
    ("Anna Horváth", "HU", None, ["vet"], ["teacher-training"], ["hu", "en"], True),
]

ADMIN = "demo-admin"
PRACTICES = 30
REVIEWER = "demo-member-04"
SCORES = {"relevance": 5, "transferability": 4, "evidence_of_impact": 4, "accessibility": 4, "clarity": 5}
MARKER = "demo-loaded"


def load_demo(config: StackConfig) -> str:
    """Load the demo data unless this stack has it already; returns what happened."""
    marker = config.home / MARKER
    if marker.exists():
        return "demo data already loaded"
    settings = ServiceSettings(service_name="demo", auth_secret=config.auth_secret())
    with httpx.Client(base_url=config.service_url("membership"), timeout=10) as client:
        staff = _as(settings, ADMIN, "admin", "moderator")
        organisation_ids = [
            _ok(client.post("/organisations", json={"name": name, "type": kind, "country": country}, headers=staff))[
                "id"
            ]
            for name, kind, country in ORGANISATIONS
        ]
        members = [
            _join(client, settings, staff, number, person, organisation_ids) for number, person in enumerate(PEOPLE)
        ]
        for country, coordinator, organisation in (
            ("LV", members[0], organisation_ids[0]),
            ("PL", members[2], organisation_ids[1]),
        ):
            nas = {
                "country": country,
                "organisation_id": organisation,
                "coordinator_ids": [coordinator],
                "scope": "schools, VET and adult learning",
            }
            _ok(client.post("/nas", json=nas, headers=staff))
        squad = {
            "title": "AI in education",
            "topic": "ai-in-education",
            "cap": 20,
            "starts_on": "2027-01-15",
            "ends_on": "2027-12-15",
        }
        squad_id = _ok(client.post("/squads", json=squad, headers=staff))["id"]
        for member_id in members[:8]:
            form = {
                "motivation": "I want to help schools use AI tools responsibly and share what works.",
                "examples_of_expertise": "Pilots with AI tutors; teacher workshops on generative AI.",
                "availability": "two days a month",
            }
            _ok(client.post(f"/squads/{squad_id}/applications", json=form, headers=_as(settings, member_id, "member")))
        for member_id in members[:5]:
            _ok(client.post(f"/squads/{squad_id}/selections", json={"application_id": member_id}, headers=staff))
        _load_community(client, settings, members, squad_id)
    with httpx.Client(base_url=config.service_url("practices"), timeout=10) as client:
        for number, practice in enumerate(demo_practices(PRACTICES)):
            author = members[number % len(members)] if members[number % len(members)] != REVIEWER else members[0]
            headers = _as(settings, author, "member")
            submit = functools.partial(client.post, "/practices", json=practice, headers=headers)
            practice_id = _when_known(submit, 403)["id"]
            assign = functools.partial(
                client.post, f"/practices/{practice_id}/reviewer", json={"reviewer_id": REVIEWER}, headers=staff
            )
            _when_known(assign, 422)  # practices knows the reviewer a moment after approval too
            review = {"scores": SCORES, "decision": "publish"}
            _ok(
                client.post(
                    f"/practices/{practice_id}/reviews",
                    json=review,
                    headers=_as(settings, REVIEWER, "member", "reviewer"),
                )
            )
    with httpx.Client(base_url=config.service_url("events"), timeout=10) as client:
        _load_events(client, settings, members)
    marker.write_text("loaded\n")
    counts = (
        f"{len(ORGANISATIONS)} organisations, {len(PEOPLE)} members, 2 NAS, 1 squad, {PRACTICES} practices, "
        "3 events with registrations and a waitlist, 2 threads and a consultation with answers"
    )
    return f"demo data loaded: {counts}"


def _load_community(client: httpx.Client, settings: ServiceSettings, members: list[str], squad_id: str) -> None:
    """A community thread in three languages, a squad's thread, and a consultation with answers."""
    opening = {
        "space": {"kind": "community"},
        "title": "Generative AI homework: what do your schools allow?",
        "text": "Unsere Schule erlaubt KI für Recherche, nicht für Aufsätze. Wie ist es bei euch?",
        "language": "de",
        "mentions": [],
    }
    thread = _ok(client.post("/threads", json=opening, headers=_as(settings, members[1], "member")))
    for author, text, language in (
        (members[0], "Mūsu skolā skolotāji izmanto MI kā palīgu stundu plānošanai.", "lv"),
        (members[2], "U nas uczniowie muszą opisać, jak korzystali z AI.", "pl"),
    ):
        reply = {"text": text, "language": language}
        _ok(client.post(f"/threads/{thread['thread_id']}/posts", json=reply, headers=_as(settings, author, "member")))
    in_squad = {**opening, "space": {"kind": "squad", "squad_id": squad_id}, "title": "Draft of our guidelines"}
    _ok(
        client.post(
            "/threads",
            json={**in_squad, "text": "First draft is in the shared folder.", "language": "en"},
            headers=_as(settings, members[0], "member"),
        )
    )
    now = datetime.now(UTC)
    consultation = {
        "title": "Digital readiness of schools",
        "audience": {"kind": "community"},
        "questions": [
            {
                "question_id": "ready",
                "kind": "scale",
                "text": "How ready is your school?",
                "scale_from": 1,
                "scale_to": 5,
            },
            {
                "question_id": "needs",
                "kind": "multiple_choice",
                "text": "What do you need most?",
                "options": ["training", "devices", "time"],
            },
        ],
        "opens_at": now.isoformat(),
        "closes_at": (now + timedelta(days=30)).isoformat(),
    }
    opened = _ok(client.post("/consultations", json=consultation, headers=_as(settings, ADMIN, "commission")))
    for number, member_id in enumerate(members[:6]):
        answer = {"answers": {"ready": 1 + number % 5, "needs": [["training", "devices", "time"][number % 3]]}}
        _ok(
            client.put(
                f"/consultations/{opened['consultation_id']}/answers/mine",
                json=answer,
                headers=_as(settings, member_id, "member"),
            )
        )


def _load_events(client: httpx.Client, settings: ServiceSettings, members: list[str]) -> None:
    """A members' workshop with a balanced waitlist, a public hackathon with a team, and a NAS
    meeting, a few weeks ahead (local times in their own zones)."""
    staff = _as(settings, ADMIN, "admin", "moderator")
    soon = datetime.now(UTC).date() + timedelta(days=30)
    workshop = _event("workshop", "Idea-sketching: AI tutors in vocational schools", soon, "Europe/Brussels", 4)
    workshop.update(audience="members", waitlist_policy="balanced")
    workshop_id = _ok(client.post("/events", json=workshop, headers=staff))["event_id"]
    for member_id in members[:6]:
        _register_when_known(client, workshop_id, _as(settings, member_id, "member"))
    hackathon = _event("hackathon", "DigiEduHack Riga", soon + timedelta(days=7), "Europe/Riga", 60)
    hackathon.update(audience="public", challenges=[{"title": "Offline learning for remote schools"}])
    created = _ok(client.post("/events", json=hackathon, headers=staff))
    for member_id in members[6:9]:
        _ok(
            client.post(
                f"/events/{created['event_id']}/registrations", json={}, headers=_as(settings, member_id, "member")
            )
        )
    team = {"name": "Mesh", "challenge_id": created["challenges"][0]["challenge_id"]}
    _ok(client.post(f"/events/{created['event_id']}/teams", json=team, headers=_as(settings, members[6], "member")))
    meeting = _event("nas_meeting", "National Advisory Services: spring network meeting", soon, "Europe/Warsaw", 40)
    meeting["audience"] = "nas_only"
    _ok(client.post("/events", json=meeting, headers=_as(settings, members[2], "member", "nas_coordinator")))


def _event(kind: str, title: str, day: date, zone: str, capacity: int) -> dict[str, Any]:
    return {
        "kind": kind,
        "title": title,
        "schedule": {"starts_at": f"{day}T10:00:00", "ends_at": f"{day}T16:00:00", "timezone": zone},
        "online": True,
        "online_link": "https://meet.example.eu/demo",
        "capacity": capacity,
    }


def _register_when_known(client: httpx.Client, event_id: str, headers: dict[str, str]) -> None:
    _when_known(lambda: client.post(f"/events/{event_id}/registrations", json={}, headers=headers), 409)


def _when_known(request: Callable[[], httpx.Response], refused: int) -> dict[str, Any]:
    """Practices and events learn of new members from membership's events on Kafka, a moment
    after approval: until then they refuse them (`refused`), so the request is made again."""
    deadline = time.monotonic() + 60
    while True:
        response = request()
        if response.status_code != refused or time.monotonic() > deadline:
            return _ok(response)
        time.sleep(0.2)


def _join(
    client: httpx.Client,
    settings: ServiceSettings,
    staff: dict[str, str],
    number: int,
    person: tuple[Any, ...],
    organisations: list[str],
) -> str:
    name, country, organisation, sectors, topics, languages, visible = person
    member_id = f"demo-member-{number:02d}"
    profile = {
        "display_name": name,
        "email": f"{member_id}@example.eu",
        "country": country,
        "organisation_id": organisations[organisation] if organisation is not None else None,
        "sectors": sectors,
        "expertise_topics": topics,
        "languages": languages,
    }
    consent = {"terms": True, "privacy": True, "directory_visible": visible, "newsletter": number % 3 == 0}
    _ok(
        client.post(
            "/members", json={"profile": profile, "consent": consent}, headers=_as(settings, member_id, "member")
        )
    )
    _ok(client.post(f"/members/{member_id}/approve", json={}, headers=staff))
    return member_id


def _as(settings: ServiceSettings, member_id: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(settings, member_id, list(roles))}"}


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        request = response.request
        raise StackError(f"demo data: {request.method} {request.url} answered {response.status_code}: {response.text}")
    body: dict[str, Any] = response.json()
    return body
