"""What partner systems send, and the outcome the hub answers for each submission."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from deh_contracts.catalogue.monitoring import ObservationValue
from deh_contracts.catalogue.practices import PracticeMetadata
from deh_contracts.errors import FieldError
from deh_contracts.registry import OBSERVATIONS, OUTCOMES, PARTNER_NAME, PRACTICE_SUBMISSIONS, Contract, message_type
from deh_contracts.vocabulary import enum_schema, one_of

PREFIX = "eu.deh.inbound."

SUBMISSION_KINDS = ["practice", "observation"]
SubmissionKind = Annotated[
    str, AfterValidator(one_of("submission kind", SUBMISSION_KINDS)), enum_schema(SUBMISSION_KINDS)
]


# What a partner is named by (at onboarding) and names its items by: short, and safe as a Kafka
# key and in an id.
PARTNER_PATTERN = f"^{PARTNER_NAME}$"
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$"
PartnerName = Annotated[str, Field(min_length=1, max_length=100, pattern=PARTNER_PATTERN)]
_PARTNER_DESCRIPTION = "The submitting system's name, given at onboarding (e.g. salto): the one in its topics' names."
MAX_BODY = 50_000
ExternalId = Annotated[str, Field(min_length=1, max_length=200, pattern=EXTERNAL_ID_PATTERN)]


class _PracticeFromPartner(Contract):
    """What a partner sends of a practice, submitted or revised."""

    partner: PartnerName = Field(description=_PARTNER_DESCRIPTION)
    external_id: ExternalId = Field(description="The partner's own id; outcomes are keyed by it.")
    metadata: PracticeMetadata
    body: str = Field("", max_length=MAX_BODY)
    author_names: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field([], max_length=30)


@message_type(PREFIX + "practice-submission.requested.v1", topic=PRACTICE_SUBMISSIONS, subject="external_id")
class PracticeSubmissionRequested(_PracticeFromPartner):
    """A partner system submits a practice (for example a SALTO or EU project result). Every
    message on the topic gets one outcome: a replay of a message (same `ce_id`, same content)
    gets the same outcome again, with the same id; another message for a submitted
    `external_id` is rejected as `duplicate`; the same `ce_id` with other content as
    `conflict`; a message of another type is rejected at `ce_type`. Partners are held to the
    contract: a field it does not have is refused (at any depth), as is a message over the size
    limit (docs/partners.md)."""


@message_type(PREFIX + "practice-submission.revised.v1", topic=PRACTICE_SUBMISSIONS, subject="external_id")
class PracticeSubmissionRevised(_PracticeFromPartner):
    """A partner revises a practice it submitted (the same `partner` and `external_id`): the new
    metadata and body become the practice's next version, submitted for review again (a
    published practice stays public, as published, meanwhile). Answered like a submission:
    accepted with the practice's id (a replay: the same outcome again), or rejected:
    `not_found` for an `external_id` never submitted, `conflict` for a practice that is being
    reviewed for the first time (send it again after the review), rejected or archived, or a
    message id sent before with other content."""


@message_type(PREFIX + "observation.submitted.v1", topic=OBSERVATIONS, subject="external_id")
class ObservationSubmitted(Contract):
    """A partner system submits an observation (a national figure, an EU project result)."""

    partner: PartnerName = Field(description=_PARTNER_DESCRIPTION)
    external_id: ExternalId
    observation: ObservationValue


class Rejection(Contract):
    """One reason a submission was refused, located at a field where possible."""

    location: str
    message: str
    kind: str

    @classmethod
    def from_field_error(cls, error: FieldError) -> Rejection:
        return cls(location=error.location, message=error.message, kind=error.kind)


@message_type(PREFIX + "submission.accepted.v1", topic=OUTCOMES, subject="external_id")
class SubmissionAccepted(Contract):
    """The hub accepted a partner's submission and gave it an id."""

    partner: str
    external_id: str
    request_id: str = Field(description="The CloudEvents id of the submission message.")
    kind: SubmissionKind
    accepted_id: str
    accepted_at: datetime


@message_type(PREFIX + "submission.rejected.v1", topic=OUTCOMES, subject="external_id")
class SubmissionRejected(Contract):
    """The hub refused a partner's submission, with every reason."""

    partner: str
    external_id: str
    request_id: str
    kind: SubmissionKind
    reasons: list[Rejection] = Field(min_length=1)
    rejected_at: datetime
