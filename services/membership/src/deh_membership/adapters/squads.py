"""Squads: thematic working groups, their applications, the selection under a cap, and outputs.
Applications are a list in the squad's document (never a map keyed by member id: an id is never
a field name), so every change is one update."""

from __future__ import annotations

from pymongo.asynchronous.collection import AsyncCollection

from deh_contracts.catalogue.membership import (
    SquadApplicationReceived,
    SquadCreated,
    SquadMemberLeft,
    SquadMemberSelected,
    SquadOutputRecorded,
)
from deh_membership.adapters.documents import Document, one, written
from deh_membership.adapters.members import MemberStore
from deh_membership.domain import squads as rules
from deh_membership.domain.squads import Application, ApplicationForm, OutputForm, Spread, SquadProposal, spread
from deh_platform.creation import Creation
from deh_platform.errors import Conflict, NotFound
from deh_platform.records import now
from deh_platform.runtime import ServiceRuntime


class SquadStore:
    def __init__(self, runtime: ServiceRuntime, members: MemberStore) -> None:
        self.runtime = runtime
        self.members = members
        self.squads: AsyncCollection[Document] = runtime.db.squads

    async def create_squad(self, proposal: SquadProposal, by: str, creation: Creation) -> Document:
        at = now()
        document = {
            "_id": creation.new_id("squad"),
            **proposal.model_dump(mode="json"),
            "places_left": proposal.cap,
            "applications": [],
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
        return await one(self.squads, squad_id, "squad")

    async def apply_to_squad(self, squad_id: str, member_id: str, form: ApplicationForm) -> Application:
        member = await self.members.member(member_id)
        profile = rules.applicant_profile(member)
        await self.squad(squad_id)
        at = now()
        application = Application(
            application_id=member_id,
            member_id=member_id,
            country=profile.country,
            sectors=profile.sectors,
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
        applied = await written(
            self.runtime,
            self.squads,
            {"_id": squad_id, "applications.member_id": {"$ne": member_id}},
            {"$push": {"applications": application.model_dump()}},
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
        selected = await written(
            self.runtime,
            self.squads,
            {"_id": squad_id, "places_left": {"$gt": 0}, "applications": _waiting(application_id, "received")},
            {
                "$inc": {"places_left": -1},
                "$set": {"applications.$[chosen].status": "selected", "applications.$[chosen].selected_at": at},
            },
            [event],
            array_filters=[{"chosen.application_id": application_id}],
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
        left = await written(
            self.runtime,
            self.squads,
            {"_id": squad_id, "applications": _waiting(member_id, application.status)},
            {"$set": {"applications.$[mine].status": "left"}, "$inc": {"places_left": 1 if was_selected else 0}},
            [event],
            array_filters=[{"mine.application_id": member_id}],
        )
        if not left:
            raise Conflict("the application changed meanwhile; retry")

    async def record_output(self, squad_id: str, form: OutputForm, creation: Creation) -> Document:
        squad = await self.squad(squad_id)
        rules.require_selected_authors(form.author_ids, _applications(squad))
        at = now()
        output = {"output_id": creation.new_id("output"), **form.model_dump(), "recorded_at": at}
        event = SquadOutputRecorded(squad_id=squad_id, **output)
        return await self.runtime.append(
            self.squads, squad_id, "outputs", output, [event], creation, named_by="output_id"
        )

    def applications(self, squad: Document) -> list[Application]:
        return _applications(squad)

    def spread(self, squad: Document) -> Spread:
        return spread(_applications(squad), squad["cap"])


def _applications(squad: Document) -> list[Application]:
    return [Application(**application) for application in squad.get("applications", [])]


def _application(squad: Document, application_id: str) -> Application:
    found = [application for application in _applications(squad) if application.application_id == application_id]
    if not found:
        raise NotFound(f"no application {application_id} in squad {squad['_id']}")
    return found[0]


def _waiting(application_id: str, status: str) -> Document:
    """The selector of a squad whose application is still in the status it was read in."""
    return {"$elemMatch": {"application_id": application_id, "status": status}}
