"""Members: applications, moderation, profile and consent, the directory and the activity record.
Every change is one update of the member guarded by its revision (ServiceRuntime.change),
carrying its events."""

from __future__ import annotations

import re

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from deh_contracts.people import new_reference
from deh_membership.adapters.documents import Document, one, page_of
from deh_membership.adapters.organisations import OrganisationStore
from deh_membership.domain import members as rules
from deh_membership.domain.directory import name_key
from deh_membership.domain.members import Action, ConsentChoices, Member, Profile, ProfileChanges
from deh_platform.creation import Creation
from deh_platform.errors import Conflict
from deh_platform.records import HIDDEN_FIELDS, now
from deh_platform.runtime import ServiceRuntime


class MemberStore:
    def __init__(self, runtime: ServiceRuntime, organisations: OrganisationStore) -> None:
        self.runtime = runtime
        self.organisations = organisations
        self.members: AsyncCollection[Document] = runtime.db.members
        self.activity: AsyncCollection[Document] = runtime.db.activity

    async def create_indexes(self) -> None:
        await self.members.create_index("email_key", unique=True)
        await self.members.create_index("reference")
        await self.members.create_index([("name_key", ASCENDING), ("_id", ASCENDING)])
        await self.activity.create_index([("member_id", ASCENDING), ("at", ASCENDING)])

    async def member(self, member_id: str) -> Member:
        return _member(await one(self.members, member_id, "member"))

    async def status_of(self, member_id: str) -> str | None:
        """The member's status, or None for someone who never applied."""
        document = await self.members.find_one({"_id": member_id}, {"status": 1})
        return None if document is None else str(document["status"])

    async def apply(self, member_id: str, profile: Profile, choices: ConsentChoices, creation: Creation) -> Member:
        at = now()
        organisation_type = await self.organisations.organisation_type(
            profile.organisation_id, ("body", "profile", "organisation_id")
        )
        member = Member(
            id=member_id,
            reference=new_reference(),
            status="applied",
            profile=profile,
            consent=rules.Consent.first(choices, at),
            roles=["member"],
            applied_at=at,
        )
        document = {
            "_id": member_id,
            **_stored(member),
            "organisation_type": organisation_type,
            "consent_history": [{"choices": choices.model_dump(), "at": at}],
            "decisions": [],
        }
        try:
            if not await self.runtime.insert(self.members, document, [rules.applied(member)], creation):
                return await self.member(member_id)
        except DuplicateKeyError as error:
            field = "email" if "email_key" in str(error) else "member"
            raise Conflict(f"a {field} with these details has applied already") from None
        return member

    async def transition(self, member_id: str, action: Action, *, by: str, reason: str | None) -> Member:
        rules.require_reason(action, reason)
        member = await self.member(member_id)
        target = rules.next_status(action, member.status)
        at = now()
        after = member.changed(status=target)
        decision = {"action": action, "by": by, "reason": reason, "at": at}
        changed = await self.runtime.change(
            self.members,
            member_id,
            member.revision,
            {"$set": {"status": target, "updated_at": at}, "$push": {"decisions": decision}},
            [
                rules.status_event(after, action, previous=member.status, by=by, reason=reason, at=at),
                *rules.person(after, at),
            ],
        )
        if not changed:
            raise Conflict("the member changed meanwhile; read it again and retry")
        return after

    async def update_profile(self, member_id: str, changes: ProfileChanges) -> Member:
        member = await self.member(member_id)
        rules.require_profile_changeable(member)
        assert member.profile is not None
        given = changes.model_dump(exclude_unset=True)
        profile = Profile(**{**member.profile.model_dump(), **given})
        organisation_type = await self.organisations.organisation_type(
            profile.organisation_id, ("body", "organisation_id")
        )
        return await self._replace_profile(member, profile, {"organisation_type": organisation_type})

    async def update_consent(self, member_id: str, choices: ConsentChoices) -> Member:
        member = await self.member(member_id)
        rules.require_profile_changeable(member)
        assert member.consent is not None
        at = now()
        after = member.model_copy(update={"consent": member.consent.changed_to(choices, at)})
        extra = {"consent": after.consent.model_dump() if after.consent else None}
        history = {"choices": choices.model_dump(), "at": at}
        return await self._replace_profile(after, after.profile, extra, history=history)

    async def _replace_profile(
        self, member: Member, profile: Profile | None, extra: Document, history: Document | None = None
    ) -> Member:
        assert profile is not None
        at = now()
        after = member.changed(profile=profile)
        update: Document = {
            "$set": {
                "profile": profile.model_dump(),
                "email_key": profile.email.casefold(),
                "name_key": name_key(profile.display_name),
                "updated_at": at,
                **extra,
            },
        }
        if history:
            update["$push"] = {"consent_history": history}
        try:
            changed = await self.runtime.change(
                self.members,
                member.id,
                member.revision,
                update,
                [rules.profile_updated(after, at), *rules.person(after, at)],
            )
        except DuplicateKeyError:
            raise Conflict("another member uses this email address") from None
        if not changed:
            raise Conflict("the member changed meanwhile; read it again and retry")
        return after

    async def directory(self, filters: Document, cursor: str | None, limit: int) -> tuple[list[Document], str | None]:
        query: Document = {"status": "active", "consent.directory_visible.given": True}
        if filters.get("name"):
            query["name_key"] = {"$regex": re.escape(name_key(filters["name"]))}
        for parameter, field in (
            ("country", "profile.country"),
            ("sector", "profile.sectors"),
            ("expertise", "profile.expertise_topics"),
            ("organisation_type", "organisation_type"),
        ):
            if filters.get(parameter):
                query[field] = filters[parameter]
        return await page_of(self.members, query, "name_key", ASCENDING, cursor, limit)

    async def members_of_country(self, country: str) -> list[Document]:
        """The active members of a country who agreed to be seen (the directory consent decides
        every list of people, a NAS coordinator's too: docs/privacy.md)."""
        query = {"status": "active", "profile.country": country, "consent.directory_visible.given": True}
        return [
            document
            async for document in self.members.find(query, HIDDEN_FIELDS).sort(
                [("name_key", ASCENDING), ("_id", ASCENDING)]
            )
        ]

    async def activity_of(self, member_id: str) -> list[Document]:
        return [
            document
            async for document in self.activity.find({"member_id": member_id}, {"_id": 0}).sort("at", ASCENDING)
        ]


def _stored(member: Member) -> Document:
    assert member.profile is not None
    return {
        "reference": member.reference,
        "status": member.status,
        "profile": member.profile.model_dump(),
        "consent": member.consent.model_dump() if member.consent else None,
        "roles": member.roles,
        "applied_at": member.applied_at,
        "email_key": member.profile.email.casefold(),
        "name_key": name_key(member.profile.display_name),
        "updated_at": member.applied_at,
        "revision": member.revision,
    }


def _member(document: Document) -> Member:
    return Member(
        id=document["_id"],
        reference=document["reference"],
        status=document["status"],
        profile=document.get("profile"),
        consent=document.get("consent"),
        roles=document.get("roles", []),
        applied_at=document["applied_at"],
        revision=document.get("revision", 1),
    )
