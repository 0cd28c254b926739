"""A member of the Community of Practice: profile, consent, roles and the status life cycle.

applied -> active | rejected;  active -> suspended -> active;  active | suspended -> left;
any -> erased (personal data removed; the member's record leaves once its last events are out).

Events name the member by their reference, never by account id (deh_contracts.people).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from deh_contracts.catalogue.membership import (
    MemberApplied,
    MemberApproved,
    MemberErased,
    MemberLeft,
    MemberPerson,
    MemberProfileUpdated,
    MemberReinstated,
    MemberRejected,
    MemberSuspended,
)
from deh_contracts.catalogue.practices import Topic
from deh_contracts.registry import Contract
from deh_contracts.vocabulary import EU_LANGUAGES, SECTORS, Country, Identifier, Language, Sector
from deh_platform.errors import Conflict, InvalidInput

MemberStatus = Literal["applied", "active", "rejected", "suspended", "left", "erased"]
Action = Literal["approve", "reject", "suspend", "reinstate", "leave"]

# Which statuses each moderator or member action starts from, and where it leads.
TRANSITIONS: dict[Action, tuple[frozenset[MemberStatus], MemberStatus]] = {
    "approve": (frozenset({"applied"}), "active"),
    "reject": (frozenset({"applied"}), "rejected"),
    "suspend": (frozenset({"active"}), "suspended"),
    "reinstate": (frozenset({"suspended"}), "active"),
    "leave": (frozenset({"active", "suspended"}), "left"),
}


class Profile(BaseModel):
    """What a member tells about themselves. The email never leaves this service."""

    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(min_length=1, max_length=120)
    email: EmailStr
    country: Country
    organisation_id: Identifier | None = None
    sectors: list[Sector] = Field(min_length=1, max_length=len(SECTORS))
    expertise_topics: list[Topic] = Field(default_factory=list, max_length=20)
    languages: list[Language] = Field(default_factory=list, max_length=len(EU_LANGUAGES))


class ProfileChanges(BaseModel):
    """A partial profile update: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(None, min_length=1, max_length=120)
    email: EmailStr | None = None
    country: Country | None = None
    organisation_id: Identifier | None = None
    sectors: list[Sector] | None = Field(None, min_length=1, max_length=len(SECTORS))
    expertise_topics: list[Topic] | None = Field(None, max_length=20)
    languages: list[Language] | None = Field(None, max_length=len(EU_LANGUAGES))


class ConsentChoices(BaseModel):
    """The choices a person makes; terms and privacy must be accepted to apply."""

    model_config = ConfigDict(extra="forbid")

    terms: bool
    privacy: bool
    directory_visible: bool = False
    newsletter: bool = False


class ConsentItem(BaseModel):
    given: bool
    at: datetime


class Consent(BaseModel):
    terms: ConsentItem
    privacy: ConsentItem
    directory_visible: ConsentItem
    newsletter: ConsentItem

    @classmethod
    def first(cls, choices: ConsentChoices, at: datetime) -> Consent:
        for name in ("terms", "privacy"):
            if not getattr(choices, name):
                raise InvalidInput(("body", "consent", name), f"the {name} must be accepted to apply")
        return cls(**{name: ConsentItem(given=value, at=at) for name, value in choices.model_dump().items()})

    def changed_to(self, choices: ConsentChoices, at: datetime) -> Consent:
        """Each item keeps its time unless its value changes."""
        if not (choices.terms and choices.privacy):
            raise Conflict("withdrawing the terms or the privacy consent means leaving: use leave or erase")
        items = {
            name: current if current.given == wanted else ConsentItem(given=wanted, at=at)
            for (name, current), wanted in zip(self, choices.model_dump().values(), strict=True)
        }
        return Consent(**items)


class Member(BaseModel):
    """The member as stored (the profile is None once erased)."""

    id: str = Field(description="The account id (the `sub` of the member's token).")
    reference: str = Field(description="How events name the member on Kafka (deh_contracts.people).")
    status: MemberStatus
    profile: Profile | None
    consent: Consent | None
    roles: list[str]
    applied_at: datetime
    revision: int = Field(1, description="Counts the changes; every write is conditional on the one read.")

    def changed(self, **fields: Any) -> Member:
        """The member after a change: the fields, and the next revision."""
        return self.model_copy(update={**fields, "revision": self.revision + 1})

    @property
    def visible(self) -> bool:
        return self.consent is not None and self.consent.directory_visible.given

    def public_name(self) -> str | None:
        """The display name, only when the member made it visible."""
        return self.profile.display_name if self.profile and self.visible else None


def next_status(action: Action, current: MemberStatus) -> MemberStatus:
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        raise Conflict(f"cannot {action} a member who is {current} (allowed from: {', '.join(sorted(allowed))})")
    return target


def applied(member: Member) -> MemberApplied:
    assert member.profile is not None
    return MemberApplied(
        member_id=member.reference,
        country=member.profile.country,
        sectors=member.profile.sectors,
        organisation_id=member.profile.organisation_id,
        applied_at=member.applied_at,
    )


def status_event(
    member: Member, action: Action, *, previous: str, by: str, reason: str | None, at: datetime
) -> Contract:
    """The contract event of a status change, with no personal data beyond what is visible (and
    the country and sectors, for counts by status)."""
    change = _status_change(member, previous)
    if action == "approve":
        assert member.profile is not None
        return MemberApproved(
            member_id=member.reference,
            country=member.profile.country,
            sectors=member.profile.sectors,
            roles=member.roles,
            organisation_id=member.profile.organisation_id,
            approved_by=by,
            approved_at=at,
        )
    if action == "reject":
        return MemberRejected(member_id=member.reference, reason=reason or "", rejected_by=by, rejected_at=at, **change)
    if action == "suspend":
        return MemberSuspended(
            member_id=member.reference, reason=reason or "", suspended_by=by, suspended_at=at, **change
        )
    if action == "reinstate":
        return MemberReinstated(member_id=member.reference, reinstated_by=by, reinstated_at=at, **change)
    return MemberLeft(member_id=member.reference, left_at=at, **change)


def _status_change(member: Member, previous: str) -> dict[str, Any]:
    profile = member.profile
    return {
        "previous_status": previous,
        "country": profile.country if profile else None,
        "sectors": profile.sectors if profile else [],
    }


def profile_updated(member: Member, at: datetime) -> MemberProfileUpdated:
    """What other services may know of the profile: topics only when visible, never the name
    (that goes on the people topic, see `person`)."""
    assert member.profile is not None
    visible = member.visible
    return MemberProfileUpdated(
        member_id=member.reference,
        country=member.profile.country,
        sectors=member.profile.sectors,
        expertise_topics=member.profile.expertise_topics if visible else [],
        languages=member.profile.languages if visible else [],
        organisation_id=member.profile.organisation_id,
        directory_visible=visible,
        updated_at=at,
    )


def person(member: Member, at: datetime) -> list[MemberPerson]:
    """The member's record on the compacted people topic, which other services keep their copy
    of a member from: the status, country and sectors, the name only when visible. None for an
    applicant (approved or not): other services never hear of people who were not members."""
    if member.status in ("applied", "rejected") or member.profile is None:
        return []
    profile = member.profile
    return [
        MemberPerson(
            member_id=member.id,
            reference=member.reference,
            status=member.status,
            country=profile.country,
            sectors=profile.sectors,
            display_name=member.public_name(),
            updated_at=at,
        )
    ]


def erased(member: Member, at: datetime) -> MemberErased:
    """Erasure: the status, country and sectors it ends (for counts), nothing else of the person."""
    return MemberErased(member_id=member.reference, erased_at=at, **_status_change(member, member.status))


def require_reason(action: Action, reason: str | None) -> None:
    if action in ("reject", "suspend") and not (reason and reason.strip()):
        raise InvalidInput(("body", "reason"), f"a reason is required to {action} a member")


def require_profile_changeable(member: Member) -> None:
    """Members who left, were rejected or erased have no profile to change."""
    if member.status in ("erased", "left", "rejected"):
        raise Conflict(f"a member who is {member.status} has no profile to change")
