"""Practices: the library of good practices and digital education solutions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from deh_contracts.people import PersonId
from deh_contracts.registry import PRACTICES, Contract, message_type
from deh_contracts.vocabulary import (
    AccessibilityFeature,
    AudienceRole,
    Country,
    DigCompCompetence,
    DigCompEduCompetence,
    IscedLevel,
    Language,
    Sector,
    SpdxLicence,
    enum_schema,
    one_of,
)

PREFIX = "eu.deh.practices."

LocalizedText = dict[Language, str]
"""Text by EU language code, for example {"en": "Coding clubs", "de": "Programmier-AGs"}."""

# Limits that keep one practice's metadata small enough to index, search and highlight quickly
# (a 40,000-character licence once stalled the search indexer); a partner's message is held to them too.
LocalizedTitle = dict[Language, Annotated[str, Field(min_length=1, max_length=300)]]
LocalizedSummary = dict[Language, Annotated[str, Field(min_length=1, max_length=3000)]]
Topic = Annotated[str, Field(min_length=1, max_length=80)]
Label = Annotated[str, Field(min_length=1, max_length=120)]
Licence = SpdxLicence
Link = Annotated[str, Field(min_length=1, max_length=2000)]
MAX_LIST = 30

RESULT_TYPES = [
    "handbook",
    "curriculum",
    "course",
    "policy_recommendation",
    "dataset",
    "tool",
    "report",
    "white_paper",
    "case_study",
    "other",
]
ResultType = Annotated[str, AfterValidator(one_of("result type", RESULT_TYPES)), enum_schema(RESULT_TYPES)]
ORIGIN_KINDS = ["community", "squad", "salto", "eu_project", "hackathon"]
OriginKind = Annotated[str, AfterValidator(one_of("origin kind", ORIGIN_KINDS)), enum_schema(ORIGIN_KINDS)]
REVIEW_DECISIONS = ["publish", "request_changes", "reject"]
ReviewDecision = Annotated[
    str, AfterValidator(one_of("review decision", REVIEW_DECISIONS)), enum_schema(REVIEW_DECISIONS)
]


class Origin(Contract):
    """Where a practice comes from; `reference` is the project or squad id when there is one."""

    kind: OriginKind
    reference: str | None = Field(None, max_length=200)
    partner: str | None = Field(None, max_length=200, description="The partner system that submitted it, if any.")


class PracticeMetadata(Contract):
    """The facets a practice is described and found by (schema.org LearningResource / LRMI mappable)."""

    title: LocalizedTitle = Field(min_length=1)
    summary: LocalizedSummary = Field(min_length=1)
    languages: list[Language] = Field(min_length=1, max_length=MAX_LIST)
    countries: list[Country] = Field([], max_length=MAX_LIST)
    sectors: list[Sector] = Field([], max_length=MAX_LIST)
    isced_levels: list[IscedLevel] = Field([], max_length=MAX_LIST)
    topics: list[Topic] = Field([], max_length=MAX_LIST)
    digcomp: list[DigCompCompetence] = Field([], max_length=MAX_LIST)
    digcompedu: list[DigCompEduCompetence] = Field([], max_length=MAX_LIST)
    target_groups: list[AudienceRole] = Field([], max_length=MAX_LIST, description="LRMI educational audience roles.")
    accessibility_features: list[AccessibilityFeature] = Field(
        [], max_length=MAX_LIST, description="schema.org accessibilityFeature values."
    )
    licence: Licence
    links: list[Link] = Field([], max_length=MAX_LIST)
    result_type: ResultType
    origin: Origin


@message_type(PREFIX + "practice.submitted.v1", topic=PRACTICES, subject="practice_id")
class PracticeSubmitted(Contract):
    """A practice was submitted for review (by a member, a squad, a hackathon team or a partner)."""

    practice_id: str
    version: int = Field(ge=1)
    metadata: PracticeMetadata
    author_ids: list[PersonId]
    submitted_at: datetime


@message_type(PREFIX + "practice.review-recorded.v1", topic=PRACTICES, subject="practice_id")
class PracticeReviewRecorded(Contract):
    """A reviewer scored a practice against the quality criteria and decided."""

    practice_id: str
    version: int = Field(ge=1)
    review_id: str
    reviewer_id: PersonId
    scores: dict[str, int]
    decision: ReviewDecision
    comments: str = ""
    reviewed_at: datetime


@message_type(PREFIX + "practice.published.v1", topic=PRACTICES, subject="practice_id")
class PracticePublished(Contract):
    """A practice passed review and is public in the library."""

    practice_id: str
    version: int = Field(ge=1)
    metadata: PracticeMetadata
    author_ids: list[PersonId]
    published_at: datetime


@message_type(PREFIX + "practice.updated.v1", topic=PRACTICES, subject="practice_id")
class PracticeUpdated(Contract):
    """A practice was edited: a new version exists."""

    practice_id: str
    version: int = Field(ge=1)
    changed_fields: list[str]
    metadata: PracticeMetadata
    updated_by: PersonId
    updated_at: datetime


@message_type(PREFIX + "practice.archived.v1", topic=PRACTICES, subject="practice_id")
class PracticeArchived(Contract):
    """A published practice left the public library."""

    practice_id: str
    reason: str
    archived_by: PersonId
    archived_at: datetime


@message_type(PREFIX + "practice.link-broken.v1", topic=PRACTICES, subject="practice_id")
class PracticeLinkBroken(Contract):
    """The link checker found a link of a practice that no longer answers."""

    practice_id: str
    url: str
    status_code: int | None = None
    error: str
    checked_at: datetime
