"""Membership: the Community of Practice, organisations, the NAS network and squads.

Personal data stays in membership: no event carries an email address, and no domain event a
name. The name a member shows travels only on the compacted people topic (`member person`),
where an erasure's tombstone removes it (decision 0014). The `display_name` fields of
`member approved` and `member profile updated` are left empty since then (kept, so that both
types stay compatible).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from deh_contracts.people import PersonId
from deh_contracts.registry import MEMBERSHIP, PEOPLE, Contract, message_type
from deh_contracts.vocabulary import Country, Language, MemberState, OrganisationType, Sector, enum_schema, one_of

PREFIX = "eu.deh.membership."
MEMBER_STATUSES = ["applied", "active", "suspended", "left", "rejected", "erased"]
MemberStatus = Annotated[str, AfterValidator(one_of("member status", MEMBER_STATUSES)), enum_schema(MEMBER_STATUSES)]


class StatusChange(Contract):
    """What a change of a member's status says for counts by status, country and sector (what
    the member's country and sectors were just before it; never more of the person)."""

    previous_status: MemberStatus | None = Field(None, description="The status before this change.")
    country: Country | None = None
    sectors: list[Sector] = []


@message_type(PREFIX + "member.applied.v1", topic=MEMBERSHIP, subject="member_id")
class MemberApplied(Contract):
    """A person applied to join the Community of Practice."""

    member_id: PersonId
    country: Country
    sectors: list[Sector]
    organisation_id: str | None = None
    applied_at: datetime


@message_type(PREFIX + "member.approved.v1", topic=MEMBERSHIP, subject="member_id")
class MemberApproved(Contract):
    """A moderator approved an application: the member is active."""

    member_id: PersonId
    country: Country
    sectors: list[Sector]
    roles: list[str]
    display_name: str | None = Field(None, description="Only when the member made their name visible.")
    organisation_id: str | None = None
    approved_by: PersonId
    approved_at: datetime


@message_type(PREFIX + "member.rejected.v1", topic=MEMBERSHIP, subject="member_id")
class MemberRejected(StatusChange):
    """A moderator rejected an application, with the reason."""

    member_id: PersonId
    reason: str
    rejected_by: PersonId
    rejected_at: datetime


@message_type(PREFIX + "member.person.v1", topic=PEOPLE, subject="member_id")
class MemberPerson(Contract):
    """What other services may know of a member, as it is now: the latest record per member is
    the truth, and a record without a value (a tombstone) means the member was erased. Published
    from approval on, at every change of status, profile or consent; never for an applicant. The
    only message that links a member's account id to their reference (deh_contracts.people)."""

    member_id: str = Field(description="The member's account id (the `sub` of their token).")
    reference: str | None = Field(
        None, description="How the domain streams name this member (`person:...`); always set since it was added."
    )
    status: MemberStatus | None = Field(
        None, description="Only `active` members act as members elsewhere (absent: unchanged)."
    )
    country: Country | None = Field(None, description="For balanced waitlists and counts.")
    sectors: list[Sector] = []
    display_name: str | None = Field(None, description="Only when the member made their name visible.")
    updated_at: datetime


@message_type(PREFIX + "member.profile-updated.v1", topic=MEMBERSHIP, subject="member_id")
class MemberProfileUpdated(Contract):
    """A member changed their profile or its visibility; fields they keep private are absent."""

    member_id: PersonId
    display_name: str | None = None
    country: Country
    sectors: list[Sector]
    expertise_topics: list[str] = []
    languages: list[Language] = []
    organisation_id: str | None = None
    directory_visible: bool
    updated_at: datetime


@message_type(PREFIX + "member.suspended.v1", topic=MEMBERSHIP, subject="member_id")
class MemberSuspended(StatusChange):
    """A moderator suspended a member."""

    member_id: PersonId
    reason: str
    suspended_by: PersonId
    suspended_at: datetime


@message_type(PREFIX + "member.reinstated.v1", topic=MEMBERSHIP, subject="member_id")
class MemberReinstated(StatusChange):
    """A moderator reinstated a suspended member."""

    member_id: PersonId
    reinstated_by: PersonId
    reinstated_at: datetime


@message_type(PREFIX + "member.left.v1", topic=MEMBERSHIP, subject="member_id")
class MemberLeft(StatusChange):
    """A member left the community."""

    member_id: PersonId
    left_at: datetime


@message_type(PREFIX + "member.erased.v1", topic=MEMBERSHIP, subject="member_id")
class MemberErased(StatusChange):
    """A member's personal data was erased; every service must anonymise what it holds of them."""

    member_id: PersonId
    erased_at: datetime


@message_type(PREFIX + "organisation.registered.v1", topic=MEMBERSHIP, subject="organisation_id")
class OrganisationRegistered(Contract):
    """An organisation joined the hub."""

    organisation_id: str
    name: str
    type: OrganisationType
    country: Country
    registered_at: datetime


@message_type(PREFIX + "nas.registered.v1", topic=MEMBERSHIP, subject="nas_id")
class NationalAdvisoryServiceRegistered(Contract):
    """A National Advisory Service joined the NAS network for its member state."""

    nas_id: str
    country: MemberState
    organisation_id: str
    coordinator_ids: list[PersonId]
    scope: str
    registered_at: datetime


@message_type(PREFIX + "squad.created.v1", topic=MEMBERSHIP, subject="squad_id")
class SquadCreated(Contract):
    """A moderator opened a squad (a thematic working group) with a cap and a period."""

    squad_id: str
    title: str
    topic: str
    cap: int = Field(gt=0)
    starts_on: date
    ends_on: date
    created_by: PersonId
    created_at: datetime


@message_type(PREFIX + "squad.application-received.v1", topic=MEMBERSHIP, subject="squad_id")
class SquadApplicationReceived(Contract):
    """A member applied to a squad."""

    squad_id: str
    application_id: PersonId = Field(description="A member's application is named by the member.")
    member_id: PersonId
    country: Country
    sectors: list[Sector]
    received_at: datetime


@message_type(PREFIX + "squad.member-selected.v1", topic=MEMBERSHIP, subject="squad_id")
class SquadMemberSelected(Contract):
    """A moderator selected a candidate for a squad (never beyond its cap)."""

    squad_id: str
    application_id: PersonId = Field(description="A member's application is named by the member.")
    member_id: PersonId
    selected_by: PersonId
    selected_at: datetime


@message_type(PREFIX + "squad.member-left.v1", topic=MEMBERSHIP, subject="squad_id")
class SquadMemberLeft(Contract):
    """A selected member left a squad (or withdrew their application); a place may be free again."""

    squad_id: str
    application_id: PersonId = Field(description="A member's application is named by the member.")
    member_id: PersonId
    was_selected: bool
    left_at: datetime


@message_type(PREFIX + "squad.output-recorded.v1", topic=MEMBERSHIP, subject="squad_id")
class SquadOutputRecorded(Contract):
    """A squad produced an output (white paper, report, ...) that enters the practice library."""

    squad_id: str
    output_id: str
    title: str
    summary: str
    kind: str
    language: Language
    author_ids: list[PersonId]
    links: list[str] = []
    recorded_at: datetime
