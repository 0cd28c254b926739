"""Valid request bodies of the hub's HTTP APIs, for tests that need one and care about little in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


def event_draft(**overrides: Any) -> dict[str, Any]:
    """`POST /events` (events): a workshop in Brussels three weeks from now, open to members."""
    starts = datetime.now(UTC).replace(microsecond=0, tzinfo=None) + timedelta(days=21)
    return {
        "kind": "workshop",
        "title": "Idea-sketching: AI tutors in vocational schools",
        "description": "A hands-on workshop of the hub's AI squad.",
        "schedule": {
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=3)).isoformat(),
            "timezone": "Europe/Brussels",
        },
        "online": False,
        "venue": {"name": "Square", "address": "Mont des Arts", "city": "Brussels", "country": "BE"},
        "capacity": 45,
        "audience": "members",
        **overrides,
    }
