"""The membership service's MongoDB store. Every state change is one conditional `update_one`
(or insert) that carries its contract events in the document's outbox."""

from __future__ import annotations

import re
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from deh_contracts.catalogue.membership import (
    NationalAdvisoryServiceRegistered,
    OrganisationRegistered,
    SquadApplicationReceived,
    SquadCreated,
    SquadMemberLeft,
    SquadMemberSelected,
    SquadOutputRecorded,
)
from deh_contracts.registry import Contract
from deh_membership.domain import members as rules
from deh_membership.domain.directory import decode_cursor, encode_cursor, name_key
from deh_membership.domain.members import Action, ConsentChoices, Member, Profile, ProfileChanges
from deh_membership.domain.squads import Application, ApplicationForm, OutputForm, Spread, SquadProposal, spread
from deh_platform.creation import Creation
from deh_platform.errors import Conflict, InvalidInput, NotFound
from deh_platform.records import CREATION_FIELD, HIDDEN_FIELDS, new_id, now
from deh_platform.runtime import ServiceRuntime

Document = dict[str, Any]
OUTBOX_COLLECTIONS = ("members", "organisations", "nas", "squads")


class MembershipStore:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        db = runtime.db
        self.members: AsyncCollection[Document] = db.members
        self.organisations: AsyncCollection[Document] = db.organisations
        self.nas: AsyncCollection[Document] = db.nas
        self.squads: AsyncCollection[Document] = db.squads
        self.activity: AsyncCollection[Document] = db.activity

    async def create_indexes(self) -> None:
        await self.members.create_index("email_key", unique=True)
        await self.members.create_index([("name_key", ASCENDING), ("_id", ASCENDING)])
        await self.activity.create_index([("member_id", ASCENDING), ("at", ASCENDING)])

    async def _write(
        self, collection: AsyncCollection[Document], selector: Document, update: Document, events: list[Contract]
    ) -> bool:
        result = await self.runtime.write(collection, selector, update, events)
        return result.modified_count == 1

    # Members ---------------------------------------------------------------------------------

    async def member(self, member_id: str) -> Member:
        return _member(await _one(self.members, member_id, "member"))

    async def apply(self, member_id: str, profile: Profile, choices: ConsentChoices, creation: Creation) -> Member:
        at = now()
        organisation_type = await self._organisation_type(
            profile.organisation_id, ("body", "profile", "organisation_id")
        )
        member = Member(
            id=member_id,
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
        after = member.model_copy(update={"status": target})
        decision = {"action": action, "by": by, "reason": reason, "at": at}
        changed = await self._write(
            self.members,
            {"_id": member_id, "status": member.status},
            {"$set": {"status": target, "updated_at": at}, "$push": {"decisions": decision}},
            [rules.status_event(after, action, previous=member.status, by=by, reason=reason, at=at)],
        )
        if not changed:
            raise Conflict("the member changed meanwhile; read it again and retry")
        return after

    async def update_profile(self, member_id: str, changes: ProfileChanges) -> Member:
        member = await self._changeable(member_id)
        assert member.profile is not None
        given = changes.model_dump(exclude_unset=True)
        profile = Profile(**{**member.profile.model_dump(), **given})
        organisation_type = await self._organisation_type(profile.organisation_id, ("body", "organisation_id"))
        return await self._replace_profile(member, profile, {"organisation_type": organisation_type})

    async def update_consent(self, member_id: str, choices: ConsentChoices) -> Member:
        member = await self._changeable(member_id)
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
        after = member.model_copy(update={"profile": profile})
        update: Document = {
            "$set": {
                "profile": profile.model_dump(),
                "email_key": profile.email.casefold(),
                "name_key": name_key(profile.display_name),
                "updated_at": at,
                **extra,
            }
        }
        if history:
            update["$push"] = {"consent_history": history}
        try:
            changed = await self._write(
                self.members, {"_id": member.id, "status": member.status}, update, [rules.profile_updated(after, at)]
            )
        except DuplicateKeyError:
            raise Conflict("another member uses this email address") from None
        if not changed:
            raise Conflict("the member changed meanwhile; read it again and retry")
        return after

    async def _changeable(self, member_id: str) -> Member:
        member = await self.member(member_id)
        if member.status in ("erased", "left", "rejected"):
            raise Conflict(f"a member who is {member.status} has no profile to change")
        return member

    async def erase(self, member_id: str) -> None:
        """Remove every piece of personal data; idempotent, so a retry finishes a half-done erasure."""
        member = await self.member(member_id)
        at = now()
        if member.status != "erased":
            erased_fields: Document = {
                "status": "erased",
                "profile": None,
                "consent": None,
                "consent_history": [],
                "decisions": [],
                "email_key": f"erased:{member_id}",
                "name_key": "",
                "organisation_type": None,
                "erased_at": at,
            }
            await self._write(
                self.members,
                {"_id": member_id, "status": member.status},
                # The Idempotency-Key record holds a fingerprint of the application (name, email).
                {"$set": erased_fields, "$unset": {CREATION_FIELD: ""}},
                [rules.erased(member, at)],
            )
        blank = {
            f"applications.{member_id}.{field}": None
            for field in ("motivation", "examples_of_expertise", "availability")
        }
        await self.squads.update_many({f"applications.{member_id}": {"$exists": True}}, {"$set": blank})
        await self.activity.delete_many({"member_id": member_id})

    async def export(self, member_id: str) -> Document:
        document = await _one(self.members, member_id, "member")
        squads = [
            {"squad_id": squad["_id"], "title": squad["title"], "application": squad["applications"][member_id]}
            async for squad in self.squads.find({f"applications.{member_id}": {"$exists": True}})
        ]
        outputs = [
            {"squad_id": squad["_id"], **output}
            async for squad in self.squads.find({"outputs.author_ids": member_id})
            for output in squad.get("outputs", [])
            if member_id in output["author_ids"]
        ]
        return {
            "member": {key: value for key, value in document.items() if key not in ("name_key", "email_key")},
            "squads": squads,
            "squad_outputs": outputs,
            "activity": await self.activity_of(member_id),
            "exported_at": now(),
        }

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
        if cursor:
            last_name, last_id = decode_cursor(cursor)
            query["$or"] = [{"name_key": {"$gt": last_name}}, {"name_key": last_name, "_id": {"$gt": last_id}}]
        found = [
            document
            async for document in self.members.find(query, HIDDEN_FIELDS)
            .sort([("name_key", ASCENDING), ("_id", ASCENDING)])
            .limit(limit + 1)
        ]
        page, more = found[:limit], len(found) > limit
        next_cursor = encode_cursor(page[-1]["name_key"], page[-1]["_id"]) if more and page else None
        return page, next_cursor

    async def members_of_country(self, country: str) -> list[Document]:
        query = {"status": "active", "profile.country": country}
        return [
            document
            async for document in self.members.find(query, HIDDEN_FIELDS).sort(
                [("name_key", ASCENDING), ("_id", ASCENDING)]
            )
        ]

    # Organisations and National Advisory Services --------------------------------------------------

    async def _organisation_type(self, organisation_id: str | None, location: tuple[str, ...]) -> str | None:
        if organisation_id is None:
            return None
        organisation = await self.organisations.find_one({"_id": organisation_id})
        if organisation is None:
            raise InvalidInput(location, f"no organisation {organisation_id}")
        return str(organisation["type"])

    async def register_organisation(self, name: str, type_: str, country: str, creation: Creation) -> Document:
        at = now()
        organisation_id = creation.new_id("organisation")
        document: Document = {
            "_id": organisation_id,
            "name": name,
            "type": type_,
            "country": country,
            "registered_at": at,
        }
        event = OrganisationRegistered(
            organisation_id=organisation_id, name=name, type=type_, country=country, registered_at=at
        )
        if not await self.runtime.insert(self.organisations, document, [event], creation):
            return await self.organisation(organisation_id)
        return document

    async def organisation(self, organisation_id: str) -> Document:
        return await _one(self.organisations, organisation_id, "organisation")

    async def list_organisations(self, country: str | None) -> list[Document]:
        return await _all(self.organisations, {"country": country} if country else {}, "name")

    async def register_nas(
        self, country: str, organisation_id: str, coordinator_ids: list[str], scope: str, creation: Creation
    ) -> Document:
        nas_id = creation.new_id("nas")
        if creation.key and creation.is_retry_of(await self.nas.find_one({"_id": nas_id})):
            return await self.nas_entry(nas_id)  # before the checks: they may answer otherwise now
        await self._organisation_type(organisation_id, ("body", "organisation_id"))
        for index, coordinator in enumerate(coordinator_ids):
            if await self.members.count_documents({"_id": coordinator, "status": "active"}) == 0:
                raise InvalidInput(("body", "coordinator_ids", str(index)), f"{coordinator} is not an active member")
        at = now()
        document: Document = {
            "_id": nas_id,
            "country": country,
            "organisation_id": organisation_id,
            "coordinator_ids": coordinator_ids,
            "scope": scope,
            "registered_at": at,
        }
        event = NationalAdvisoryServiceRegistered(
            nas_id=nas_id,
            country=country,
            organisation_id=organisation_id,
            coordinator_ids=coordinator_ids,
            scope=scope,
            registered_at=at,
        )
        if not await self.runtime.insert(self.nas, document, [event], creation):
            return await self.nas_entry(nas_id)
        return document

    async def nas_entry(self, nas_id: str) -> Document:
        return await _one(self.nas, nas_id, "National Advisory Service")

    async def list_nas(self, country: str | None) -> list[Document]:
        return await _all(self.nas, {"country": country} if country else {}, "country")

    # Squads -----------------------------------------------------------------------------------------

    async def create_squad(self, proposal: SquadProposal, by: str, creation: Creation) -> Document:
        at = now()
        document = {
            "_id": creation.new_id("squad"),
            **proposal.model_dump(mode="json"),
            "places_left": proposal.cap,
            "applications": {},
            "outputs": [],
            "created_by": by,
            "created_at": at,
        }
        event = SquadCreated(
            squad_id=document["_id"],
            title=proposal.title,
            topic=proposal.topic,
            cap=proposal.cap,
            starts_on=proposal.starts_on,
            ends_on=proposal.ends_on,
            created_by=by,
            created_at=at,
        )
        if not await self.runtime.insert(self.squads, document, [event], creation):
            return await self.squad(document["_id"])
        return document

    async def squad(self, squad_id: str) -> Document:
        return await _one(self.squads, squad_id, "squad")

    async def apply_to_squad(self, squad_id: str, member_id: str, form: ApplicationForm) -> Application:
        member = await self.member(member_id)
        if member.status != "active" or member.profile is None:
            raise Conflict("only active members can apply to a squad")
        await self.squad(squad_id)
        at = now()
        application = Application(
            application_id=member_id,
            member_id=member_id,
            country=member.profile.country,
            sectors=member.profile.sectors,
            **form.model_dump(),
            status="received",
            received_at=at,
        )
        event = SquadApplicationReceived(
            squad_id=squad_id,
            application_id=member_id,
            member_id=member_id,
            country=application.country,
            sectors=application.sectors,
            received_at=at,
        )
        applied = await self._write(
            self.squads,
            {"_id": squad_id, f"applications.{member_id}": {"$exists": False}},
            {"$set": {f"applications.{member_id}": application.model_dump()}},
            [event],
        )
        if not applied:
            raise Conflict("this member has applied to this squad already")
        return application

    async def select(self, squad_id: str, application_id: str, by: str) -> Application:
        squad = await self.squad(squad_id)
        application = _application(squad, application_id)
        if application.status != "received":
            raise Conflict(f"the application is {application.status}, not waiting for a decision")
        at = now()
        event = SquadMemberSelected(
            squad_id=squad_id,
            application_id=application_id,
            member_id=application.member_id,
            selected_by=by,
            selected_at=at,
        )
        # The cap holds under concurrent selections: only a document with a free place matches.
        selected = await self._write(
            self.squads,
            {"_id": squad_id, "places_left": {"$gt": 0}, f"applications.{application_id}.status": "received"},
            {
                "$inc": {"places_left": -1},
                "$set": {
                    f"applications.{application_id}.status": "selected",
                    f"applications.{application_id}.selected_at": at,
                },
            },
            [event],
        )
        if not selected:
            current = await self.squad(squad_id)
            if current["places_left"] <= 0:
                raise Conflict(f"the squad is full ({current['cap']} places)")
            raise Conflict("the application was decided meanwhile")
        return application.model_copy(update={"status": "selected"})

    async def leave_squad(self, squad_id: str, member_id: str) -> None:
        squad = await self.squad(squad_id)
        application = _application(squad, member_id)
        if application.status == "left":
            raise Conflict("this member has left the squad already")
        was_selected = application.status == "selected"
        event = SquadMemberLeft(
            squad_id=squad_id, application_id=member_id, member_id=member_id, was_selected=was_selected, left_at=now()
        )
        left = await self._write(
            self.squads,
            {"_id": squad_id, f"applications.{member_id}.status": application.status},
            {"$set": {f"applications.{member_id}.status": "left"}, "$inc": {"places_left": 1 if was_selected else 0}},
            [event],
        )
        if not left:
            raise Conflict("the application changed meanwhile; retry")

    async def record_output(self, squad_id: str, form: OutputForm) -> Document:
        squad = await self.squad(squad_id)
        selected = {application.member_id for application in _applications(squad) if application.status == "selected"}
        for index, author in enumerate(form.author_ids):
            if author not in selected:
                raise InvalidInput(
                    ("body", "author_ids", str(index)), f"{author} is not a selected member of this squad"
                )
        at = now()
        output = {"output_id": new_id(), **form.model_dump(), "recorded_at": at}
        event = SquadOutputRecorded(squad_id=squad_id, **output)
        await self._write(self.squads, {"_id": squad_id}, {"$push": {"outputs": output}}, [event])
        return output

    def applications(self, squad: Document) -> list[Application]:
        return _applications(squad)

    def spread(self, squad: Document) -> Spread:
        return spread(_applications(squad), squad["cap"])

    # Activity -------------------------------------------------------------------------------------------

    async def activity_of(self, member_id: str) -> list[Document]:
        return [
            document
            async for document in self.activity.find({"member_id": member_id}, {"_id": 0}).sort("at", ASCENDING)
        ]


async def _one(collection: AsyncCollection[Document], key: str, what: str) -> Document:
    document = await collection.find_one({"_id": key}, HIDDEN_FIELDS)
    if document is None:
        raise NotFound(f"no {what} {key}")
    return document


async def _all(collection: AsyncCollection[Document], query: Document, order: str) -> list[Document]:
    return [document async for document in collection.find(query, HIDDEN_FIELDS).sort(order, ASCENDING)]


def _stored(member: Member) -> Document:
    assert member.profile is not None
    return {
        "status": member.status,
        "profile": member.profile.model_dump(),
        "consent": member.consent.model_dump() if member.consent else None,
        "roles": member.roles,
        "applied_at": member.applied_at,
        "email_key": member.profile.email.casefold(),
        "name_key": name_key(member.profile.display_name),
        "updated_at": member.applied_at,
    }


def _member(document: Document) -> Member:
    return Member(
        id=document["_id"],
        status=document["status"],
        profile=document.get("profile"),
        consent=document.get("consent"),
        roles=document.get("roles", []),
        applied_at=document["applied_at"],
    )


def _applications(squad: Document) -> list[Application]:
    return [Application(**application) for application in squad.get("applications", {}).values()]


def _application(squad: Document, application_id: str) -> Application:
    stored = squad.get("applications", {}).get(application_id)
    if stored is None:
        raise NotFound(f"no application {application_id} in squad {squad['_id']}")
    return Application(**stored)
