"""The rules of conversations and consultations, without servers: who reads which space, what an
answer must be, and how results are counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deh_membership.domain.consultations import (
    SMALL_GROUPS,
    AnswerForm,
    Consultation,
    Question,
    answer_problems,
    results,
)
from deh_membership.domain.conversations import Space, may_read
from deh_platform.identity import Principal

pytestmark = pytest.mark.unit


def caller(member_id: str, *roles: str) -> Principal:
    return Principal(member_id, frozenset(roles or ("member",)))


def test_who_reads_each_space() -> None:
    squad = Space(kind="squad", squad_id="s-1")
    assert may_read(Space(kind="community"), caller("a"))
    assert may_read(squad, caller("a"), {"a"})
    assert not may_read(squad, caller("b"), {"a"})
    assert not may_read(Space(kind="nas_network"), caller("a"))
    assert may_read(Space(kind="nas_network"), caller("a", "member", "nas_coordinator"))
    assert may_read(squad, caller("m", "moderator"), set()), "moderators read every space"


def consultation() -> Consultation:
    now = datetime.now(UTC)
    return Consultation(
        consultation_id="c-1",
        opened_by="dg",
        title="Readiness",
        audience=Space(kind="community"),
        questions=[
            Question(question_id="tool", kind="single_choice", text="Which tool?", options=["lms", "chat"]),
            Question(question_id="ready", kind="scale", text="How ready?", scale_from=1, scale_to=3),
        ],
        opens_at=now,
        closes_at=now + timedelta(days=1),
    )


@pytest.mark.parametrize(
    ("answers", "problem"),
    [
        ({"tool": "fax", "ready": 2}, "tool"),
        ({"tool": "lms", "ready": 4}, "ready"),
        ({"tool": "lms", "ready": "2"}, "ready"),
        ({"tool": "lms"}, "ready"),
        ({"tool": "lms", "ready": 2, "extra": "x"}, "extra"),
    ],
)
def test_an_answer_is_checked_against_its_question(answers: dict[str, Any], problem: str) -> None:
    found = answer_problems(consultation(), AnswerForm.model_validate({"answers": answers}))
    assert [location for location, _ in found] == [(problem,)]


def test_results_keep_every_value_and_count_small_groups_together() -> None:
    stored = [
        {"answers": {"tool": "lms", "ready": 3}, "country": "LV", "sectors": ["school", "vet"]},
        *({"answers": {"tool": "chat", "ready": 1}, "country": "PL", "sectors": ["school"]} for _ in range(5)),
    ]
    counted = results(consultation(), stored)
    tool, ready = counted.questions
    assert counted.respondents == 6
    assert tool.counts == {"lms": 1, "chat": 5}
    assert ready.counts == {"1": 5, "2": 0, "3": 1}
    assert tool.by["country"] == {"PL": {"chat": 5}, SMALL_GROUPS: {"lms": 1}}
    assert tool.by["sector"] == {"school": {"lms": 1, "chat": 5}, SMALL_GROUPS: {"lms": 1}}
    assert tool.by["organisation_type"] == {"(unknown)": {"lms": 1, "chat": 5}}
