"""Hackathon teams and their submissions.

One team per person per hackathon: the person's registration records their team, and it is
claimed first (a conditional update), so that two joins at once cannot put one person in two
teams. The size limit holds because a change is written only on the revision of the team it read
(ServiceRuntime.change).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, HttpUrl
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from deh_contracts.catalogue.events import HackathonSubmissionMade, HackathonTeamChanged, HackathonTeamFormed
from deh_contracts.vocabulary import Identifier
from deh_events.adapters.registrations import RegistrationStore
from deh_events.domain.events import Event
from deh_events.domain.registrations import PARTICIPATING_STATES
from deh_platform.creation import Creation
from deh_platform.errors import Conflict, Forbidden, InvalidInput, NotFound
from deh_platform.people import stand_in
from deh_platform.records import HIDDEN_FIELDS, REVISION_FIELD, new_id

Document = dict[str, Any]
_INTERNAL = {**HIDDEN_FIELDS, "name_key": 0, REVISION_FIELD: 0}


class TeamForm(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    challenge_id: Identifier


class SubmissionForm(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    summary: str = Field(min_length=1, max_length=5000)
    links: list[HttpUrl] = Field([], max_length=20)


class Submission(BaseModel):
    submission_id: str
    title: str
    summary: str
    links: list[str]
    submitted_by: str
    submitted_at: datetime


class Team(BaseModel):
    team_id: str
    event_id: str
    name: str
    challenge_id: str
    member_ids: list[str]
    size_limit: int
    submissions: list[Submission] = []


class TeamStore:
    def __init__(self, registrations: RegistrationStore) -> None:
        self.desk = registrations
        self.runtime = registrations.runtime
        self.teams: AsyncCollection[Document] = registrations.store.teams
        self.registrations: AsyncCollection[Document] = registrations.registrations

    async def left_the_event(self, team_id: str, member_id: str) -> None:
        """A participant whose registration was cancelled leaves their team (and can no longer
        submit for it); registering again, they may join a team anew."""
        await self._change(team_id, member_id, joining=False)

    async def create_indexes(self) -> None:
        await self.teams.create_index([("event_id", ASCENDING), ("name_key", ASCENDING)], unique=True)

    async def team(self, team_id: str) -> Team:
        document = await self.teams.find_one({"_id": team_id}, _INTERNAL)
        if document is None:
            raise NotFound(f"no team {team_id}")
        return Team(team_id=document["_id"], **document)

    async def teams_of(self, event_id: str) -> list[Team]:
        found = self.teams.find({"event_id": event_id}, _INTERNAL).sort("name_key")
        return [Team(team_id=document["_id"], **document) async for document in found]

    async def form(self, event: Event, member_id: str, form: TeamForm) -> Team:
        _require_hackathon(event)
        challenge = next((c for c in event.challenges if c.challenge_id == form.challenge_id), None)
        if challenge is None:
            raise InvalidInput(("body", "challenge_id"), f"no challenge {form.challenge_id} in this hackathon")
        team_id = new_id()
        await self._claim(event.event_id, member_id, team_id)
        at = datetime.now(UTC)
        document = {
            "_id": team_id,
            "event_id": event.event_id,
            "name": form.name,
            "name_key": form.name.casefold(),
            "challenge_id": form.challenge_id,
            "member_ids": [member_id],
            REVISION_FIELD: 1,
            "size_limit": event.team_size_max,
            "submissions": [],
            "formed_at": at,
        }
        formed = HackathonTeamFormed(
            event_id=event.event_id,
            team_id=team_id,
            name=form.name,
            challenge=challenge.title,
            member_ids=[member_id],
            formed_at=at,
        )
        try:
            await self.runtime.insert(self.teams, document, [formed])
        except DuplicateKeyError:
            await self._unclaim(event.event_id, member_id, team_id)
            raise Conflict(f"a team named {form.name!r} exists in this hackathon") from None
        return await self.team(team_id)

    async def join(self, event: Event, team_id: str, member_id: str) -> Team:
        _require_hackathon(event)
        if member_id in (await self.team(team_id)).member_ids:
            return await self.team(team_id)  # a repeated join (a double click) changes nothing
        await self._claim(event.event_id, member_id, team_id)
        if not await self._change(team_id, member_id, joining=True):
            await self._unclaim(event.event_id, member_id, team_id)
            raise Conflict("the team is full")
        return await self.team(team_id)

    async def leave(self, event: Event, team_id: str, member_id: str) -> Team:
        if not await self._change(team_id, member_id, joining=False):
            raise Conflict("this member is not in the team")
        await self._unclaim(event.event_id, member_id, team_id)
        return await self.team(team_id)

    async def submit(
        self, event: Event, team_id: str, member_id: str, form: SubmissionForm, creation: Creation
    ) -> Submission:
        _require_hackathon(event)
        team = await self.team(team_id)
        if member_id not in team.member_ids:
            raise Forbidden("only the team's members submit its work")
        at = datetime.now(UTC)
        submission = Submission(
            submission_id=creation.new_id("submission"),
            title=form.title,
            summary=form.summary,
            links=[str(link) for link in form.links],
            submitted_by=member_id,
            submitted_at=at,
        )
        made = HackathonSubmissionMade(
            event_id=event.event_id,
            team_id=team_id,
            submission_id=submission.submission_id,
            title=submission.title,
            summary=submission.summary,
            links=submission.links,
            member_ids=team.member_ids,
            submitted_at=at,
        )
        stored = await self.runtime.append(
            self.teams, team_id, "submissions", submission.model_dump(), [made], creation, named_by="submission_id"
        )
        return Submission(**stored)

    async def _change(self, team_id: str, member_id: str, *, joining: bool, replace_with: str | None = None) -> bool:
        """Add or remove one member (or replace them: erasure), with the team after the change in
        its event: read, then a write conditional on the revision read (teams are small and
        rarely contended)."""
        for _ in range(20):
            document = await self.teams.find_one(
                {"_id": team_id}, {"event_id": 1, "member_ids": 1, "size_limit": 1, REVISION_FIELD: 1}
            )
            if document is None:
                return False
            members: list[str] = document["member_ids"]
            if joining == (member_id in members) or (joining and len(members) >= document["size_limit"]):
                return False
            if joining:
                after = [*members, member_id]
            elif replace_with:
                after = [replace_with if member == member_id else member for member in members]
            else:
                after = [member for member in members if member != member_id]
            changed = HackathonTeamChanged(
                event_id=document["event_id"], team_id=team_id, member_ids=after, changed_at=datetime.now(UTC)
            )
            revision = document.get(REVISION_FIELD, 1)
            if await self.runtime.change(self.teams, team_id, revision, {"$set": {"member_ids": after}}, [changed]):
                return True
        raise Conflict("the team changed too often meanwhile; retry")

    async def forget(self, member_id: str) -> None:
        """After `member erased`: the person's place in teams and their submissions no longer
        name them (the team's size stays), and each team's change is published."""
        former = stand_in()
        async for document in self.teams.find({"member_ids": member_id}, {"_id": 1}):
            await self._change(document["_id"], member_id, joining=False, replace_with=former)
        await self.teams.update_many(
            {"submissions.submitted_by": member_id},
            {"$set": {"submissions.$[mine].submitted_by": former}},
            array_filters=[{"mine.submitted_by": member_id}],
        )

    async def _claim(self, event_id: str, member_id: str, team_id: str) -> None:
        """Record the team on the person's registration; only a participant in no other team of
        the hackathon gets it."""
        elsewhere = {"event_id": event_id, "member_ids": member_id, "_id": {"$ne": team_id}}
        if await self.teams.find_one(elsewhere, {"_id": 1}) is not None:
            raise Conflict("this member is in another team of this hackathon; leave it first")
        participating = {"event_id": event_id, "member_id": member_id, "state": {"$in": list(PARTICIPATING_STATES)}}
        claimed = await self.registrations.update_one(
            {**participating, "team_id": None}, {"$set": {"team_id": team_id}}
        )
        if claimed.modified_count:
            return
        registration = await self.desk.require_participant(event_id, member_id)
        # A claim left by a join that failed midway (its team does not list them): take it over.
        retaken = await self.registrations.update_one(
            {"_id": registration.registration_id, "team_id": registration.team_id}, {"$set": {"team_id": team_id}}
        )
        if not retaken.modified_count:
            raise Conflict("this member's team changed meanwhile; retry")

    async def _unclaim(self, event_id: str, member_id: str, team_id: str) -> None:
        await self.registrations.update_one(
            {"event_id": event_id, "member_id": member_id, "team_id": team_id}, {"$set": {"team_id": None}}
        )


def _require_hackathon(event: Event) -> None:
    if event.kind != "hackathon":
        raise Conflict("teams belong to hackathons")
    if event.status == "cancelled":
        raise Conflict("the hackathon is cancelled")
