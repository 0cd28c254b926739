"""A practice of the library and its life: draft -> submitted -> in_review -> published ->
archived, with changes requested or a rejection on the way, versions on every edit and a quality
review against fixed criteria. A published practice stays public, as it was published, while
its authors edit its next version and that version is reviewed: publishing the new version
replaces it, rejecting the new version leaves it as it was."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from deh_contracts.catalogue.inbound import MAX_BODY
from deh_contracts.catalogue.practices import PracticeMetadata, ReviewDecision
from deh_contracts.errors import FieldError
from deh_contracts.vocabulary import ACCESSIBILITY_FEATURES, AUDIENCE_ROLES, WholeNumber
from deh_platform.errors import Conflict

Status = Literal["draft", "submitted", "in_review", "changes_requested", "published", "rejected", "archived"]
Step = Literal["submit", "assign", "review", "edit"]

CRITERIA = ("relevance", "transferability", "evidence_of_impact", "accessibility", "clarity")
"""The quality criteria a reviewer scores from 1 (weak) to 5 (excellent)."""

# Where each step may start from.
ALLOWED_FROM: dict[Step, frozenset[Status]] = {
    "submit": frozenset({"draft", "changes_requested"}),
    "assign": frozenset({"submitted", "in_review", "published"}),
    "review": frozenset({"in_review", "published"}),
    "edit": frozenset({"draft", "submitted", "changes_requested", "published"}),
}
DECISION_STATUS: dict[ReviewDecision, Status] = {
    "publish": "published",
    "request_changes": "changes_requested",
    "reject": "rejected",
}
STALE_AFTER = timedelta(days=730)


class Submission(BaseModel):
    """What an author sends: the metadata, the body and whether to submit it for review now."""

    model_config = ConfigDict(extra="forbid")

    metadata: PracticeMetadata
    body: str = Field("", max_length=MAX_BODY)
    submit: bool = True


class Edit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metadata: PracticeMetadata
    body: str = Field("", max_length=MAX_BODY)


class Review(BaseModel):
    """A reviewer's scores on every criterion, the decision and the comments."""

    model_config = ConfigDict(extra="forbid")

    scores: dict[Annotated[str, Field(max_length=40)], WholeNumber] = Field(max_length=20)
    decision: ReviewDecision
    comments: str = Field("", max_length=5_000)

    @model_validator(mode="after")
    def every_criterion_scored(self) -> Review:
        missing = [criterion for criterion in CRITERIA if criterion not in self.scores]
        unknown = [criterion for criterion in self.scores if criterion not in CRITERIA]
        out_of_range = [criterion for criterion, score in self.scores.items() if not 1 <= score <= 5]
        problems = []
        if missing:
            problems.append(f"missing scores: {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown criteria: {', '.join(unknown)}")
        if out_of_range:
            problems.append(f"scores must be 1 to 5: {', '.join(out_of_range)}")
        if self.decision != "publish" and not self.comments.strip():
            problems.append("comments are required unless the decision is publish")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def require(step: Step, status: Status) -> None:
    if status not in ALLOWED_FROM[step]:
        allowed = ", ".join(sorted(ALLOWED_FROM[step]))
        raise Conflict(f"cannot {step} a practice that is {status} (allowed from: {allowed})")


def status_after_review(current: Status, decision: ReviewDecision, *, public_kept: bool = False) -> Status:
    """A re-review of a published practice that fails archives it instead of rejecting it; a
    new version of a published practice that is rejected leaves the published one in place."""
    if current == "published" and decision == "reject":
        return "archived"
    if public_kept and decision == "reject":
        return "published"
    return DECISION_STATUS[decision]


def status_after_edit(current: Status) -> Status:
    """Editing a published practice sends the new version to review (the published one stays
    public meanwhile: see `kept_public`)."""
    return "submitted" if current == "published" else current


# What the public sees of a practice, kept while a newer version is edited and reviewed: the
# version and the review that published it.
PUBLIC_FIELDS = ("version", "metadata", "body", "published_at", "reviewer_id", "last_reviewed_at", "stale")


def kept_public(practice: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The published version to keep public when the practice is edited: the one kept already
    when an unpublished newer version is edited again, the practice as it is when published."""
    if practice["status"] == "published":
        return {name: practice[name] for name in PUBLIC_FIELDS}
    kept: Mapping[str, Any] | None = practice.get("public")
    return kept


def public_view(practice: Mapping[str, Any]) -> dict[str, Any] | None:
    """The practice as the public sees it: itself while published; while its next version is
    edited or reviewed, the published version and the review that published it; never an
    unpublished version, in its history neither; None before its first publication and once
    archived."""
    if practice["status"] == "published":
        return _with_published_versions(practice, practice)
    kept = practice.get("public")
    if kept is None:
        return None
    return {**_with_published_versions(practice, kept), "status": "published"}


def _with_published_versions(practice: Mapping[str, Any], shown: Mapping[str, Any]) -> dict[str, Any]:
    """The practice showing `shown`, with the versions that were published only (a practice
    stored before the list was kept: those up to the one shown)."""
    published = practice.get("published_versions")
    versions = [
        entry
        for entry in practice.get("versions", [])
        if (entry["version"] in published if published is not None else entry["version"] <= shown["version"])
    ]
    return {**practice, **shown, "versions": versions}


def require_archivable(practice: Mapping[str, Any]) -> None:
    if practice["status"] != "published" and practice.get("public") is None:
        raise Conflict(f"cannot archive a practice that is {practice['status']} and was never published")


def metadata_problems(metadata: PracticeMetadata) -> list[FieldError]:
    """Rules beyond the contract's types, reported all at once."""
    problems = []
    declared = set(metadata.languages)
    for field in ("title", "summary"):
        for language in getattr(metadata, field):
            if language not in declared:
                problems.append(
                    FieldError(
                        f"metadata.{field}.{language}",
                        f"{language} is not among the practice's languages",
                        "value_error",
                    )
                )
    for index, link in enumerate(metadata.links):
        if not is_web_address(link):
            problems.append(
                FieldError(f"metadata.links.{index}", "a link must be an absolute http(s) URL", "value_error")
            )
    if metadata.origin.kind in ("eu_project", "squad", "hackathon") and not metadata.origin.reference:
        problems.append(
            FieldError(
                "metadata.origin.reference", f"a {metadata.origin.kind} origin needs its reference", "value_error"
            )
        )
    return problems


def is_web_address(link: str) -> bool:
    """An absolute http or https URL with a host, and no spaces or control characters in it."""
    if any(character.isspace() or ord(character) < 32 for character in link):
        return False
    try:
        parts = urlsplit(link)
        parts.port  # noqa: B018 (an invalid port raises here)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# Before target groups and accessibility features had vocabularies they were free text: what
# was stored then keeps the values that name a term, in the words people used for it.
_AUDIENCE_WORDS = {
    "teachers": "teacher",
    "trainers": "teacher",
    "educators": "teacher",
    "pupils": "student",
    "students": "student",
    "learners": "student",
    "school leaders": "administrator",
    "parents": "parent",
    "mentors": "mentor",
    "general public": "generalPublic",
}
_ACCESSIBILITY_WORDS = {
    "subtitles": "captions",
    "transcripts": "transcript",
    "sign language": "signLanguage",
    "alt text": "alternativeText",
    "alternative text": "alternativeText",
    "audio description": "audioDescription",
    "large print": "largePrint",
}
VOCABULARY_FIELDS = {
    "target_groups": (AUDIENCE_ROLES, _AUDIENCE_WORDS),
    "accessibility_features": (ACCESSIBILITY_FEATURES, _ACCESSIBILITY_WORDS),
}


def as_terms(field: str, values: list[str]) -> list[str]:
    """The terms of a vocabulary field's vocabulary that stored free-text values name (each
    once, in order); values that name none are left out."""
    terms, words = VOCABULARY_FIELDS[field]
    by_lower = {term.lower(): term for term in terms} | words
    found = (by_lower.get(value.strip().lower()) for value in values)
    return list(dict.fromkeys(term for term in found if term is not None))
