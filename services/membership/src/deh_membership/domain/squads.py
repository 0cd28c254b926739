"""Squads: thematic working groups with a cap, a period, applications and a selection."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from deh_contracts.catalogue.practices import MAX_LIST, Link
from deh_contracts.vocabulary import Country, Day, Identifier, Language, Sector, WholeNumber
from deh_membership.domain.members import Member, Profile
from deh_platform.errors import Conflict, InvalidInput

ApplicationStatus = Literal["received", "selected", "left"]
DEFAULT_CAP = 20


class SquadProposal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=3, max_length=200)
    topic: str = Field(min_length=2, max_length=100)
    cap: WholeNumber = Field(DEFAULT_CAP, ge=1, le=200)
    starts_on: Day
    ends_on: Day

    @model_validator(mode="after")
    def period_runs_forward(self) -> SquadProposal:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        return self


class ApplicationForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    motivation: str = Field(min_length=20, max_length=4000)
    examples_of_expertise: str = Field(min_length=10, max_length=4000)
    availability: str = Field(min_length=2, max_length=500)


class Application(BaseModel):
    application_id: str
    member_id: str
    country: Country
    sectors: list[Sector]
    motivation: str | None
    examples_of_expertise: str | None
    availability: str | None
    status: ApplicationStatus
    received_at: datetime


class OutputForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=3, max_length=300)
    summary: str = Field(min_length=10, max_length=4000)
    kind: Literal["white_paper", "report", "guidelines", "toolkit", "other"]
    language: Language
    author_ids: list[Identifier] = Field(min_length=1, max_length=MAX_LIST)
    links: list[Link] = Field(default_factory=list, max_length=MAX_LIST)


class Output(OutputForm):
    """A recorded output, as shown (bookkeeping fields stored with it are left out)."""

    model_config = ConfigDict(extra="ignore")

    output_id: str
    recorded_at: datetime


class Spread(BaseModel):
    """How mixed a selection is: selected people per sector and per country."""

    selected: int
    cap: int
    sectors: dict[str, int]
    countries: dict[str, int]


def spread(applications: list[Application], cap: int) -> Spread:
    chosen = [application for application in applications if application.status == "selected"]
    sectors = Counter(sector for application in chosen for sector in application.sectors)
    countries = Counter(application.country for application in chosen)
    return Spread(
        selected=len(chosen), cap=cap, sectors=dict(sorted(sectors.items())), countries=dict(sorted(countries.items()))
    )


def applicant_profile(member: Member) -> Profile:
    """The profile an application copies its country and sectors from: only active members apply."""
    if member.status != "active" or member.profile is None:
        raise Conflict("only active members can apply to a squad")
    return member.profile


def require_selected_authors(author_ids: list[str], applications: list[Application]) -> None:
    """A squad's output is authored by members it selected."""
    selected = {application.member_id for application in applications if application.status == "selected"}
    for index, author in enumerate(author_ids):
        if author not in selected:
            raise InvalidInput(("body", "author_ids", str(index)), f"{author} is not a selected member of this squad")
