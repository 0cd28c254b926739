"""Valid request bodies of the hub's HTTP APIs, for tests that need one and care about little in it."""

from __future__ import annotations

from typing import Any


def member_application(member_id: str, **profile: Any) -> dict[str, Any]:
    """`POST /members` (membership): a person applies, with consent; `visible=False` hides them."""
    visible = profile.pop("visible", True)
    return {
        "profile": {
            "display_name": f"Ana {member_id[-6:]}",
            "email": f"{member_id}@school.example.eu",
            "country": "LV",
            "sectors": ["school"],
            "expertise_topics": ["ai-in-education"],
            "languages": ["lv", "en"],
            **profile,
        },
        "consent": {"terms": True, "privacy": True, "directory_visible": visible, "newsletter": False},
    }


def practice_metadata(**overrides: Any) -> dict[str, Any]:
    """The `metadata` of `POST /practices` (practices): an English handbook from the community."""
    return {
        "title": {"en": "Coding clubs in rural schools"},
        "summary": {"en": "Volunteers teach children to code after school."},
        "languages": ["en"],
        "countries": ["PL"],
        "sectors": ["school"],
        "isced_levels": ["1"],
        "topics": ["coding"],
        "licence": "CC-BY-4.0",
        "result_type": "handbook",
        "origin": {"kind": "community"},
        **overrides,
    }
