"""Steps the practices end-to-end tests take over HTTP: submit, publish, search."""

from __future__ import annotations

from typing import Any

from hub_testing import ServiceUnderTest

from deh_stack.testing import eventually

MODERATOR = ("moderator-1", "moderator")
SCORES = {"relevance": 5, "transferability": 4, "evidence_of_impact": 4, "accessibility": 3, "clarity": 5}


def metadata(tag: str, **overrides: Any) -> dict[str, Any]:
    return {
        "title": {
            "en": "Running coding clubs in rural schools",
            "de": "Programmierclubs an ländlichen Schulen",
            "pl": "Kluby programowania w szkołach wiejskich",
        },
        "summary": {
            "en": "How volunteers teach children to code after school.",
            "de": "Wie Freiwillige nach der Schule programmieren lehren.",
        },
        "languages": ["en", "de", "pl"],
        "countries": ["PL", "DE"],
        "sectors": ["school"],
        "isced_levels": ["1", "2"],
        "topics": [tag, "coding"],
        "digcomp": ["3.4"],
        "licence": "CC-BY-4.0",
        "result_type": "handbook",
        "origin": {"kind": "community"},
        **overrides,
    }


async def submit(hub: ServiceUnderTest, author: str, body: dict[str, Any], *, submit: bool = True) -> str:
    response = await hub.client.post(
        "/practices",
        json={"metadata": body, "body": "Step one: find a room.", "submit": submit},
        headers=hub.caller(author),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def publish(hub: ServiceUnderTest, practice_id: str, reviewer: str = "reviewer-1") -> None:
    assigned = await hub.client.post(
        f"/practices/{practice_id}/reviewer", json={"reviewer_id": reviewer}, headers=hub.caller(*MODERATOR)
    )
    assert assigned.status_code == 200, assigned.text
    reviewed = await hub.client.post(
        f"/practices/{practice_id}/reviews",
        json={"scores": SCORES, "decision": "publish"},
        headers=hub.caller(reviewer, "member", "reviewer"),
    )
    assert reviewed.json()["status"] == "published", reviewed.text


async def search(hub: ServiceUnderTest, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    response = await hub.client.get("/search", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def found(
    hub: ServiceUnderTest, expected: set[str], headers: dict[str, str] | None = None, **params: Any
) -> dict[str, Any]:
    """Search until the index shows exactly the expected practices (indexing is asynchronous)."""

    async def probe() -> dict[str, Any] | None:
        result = await search(hub, headers, **params)
        return result if {hit["id"] for hit in result["hits"]} == expected else None

    return await eventually(probe, within=20, interval=0.3)
