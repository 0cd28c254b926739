"""The membership HTTP API for the portal. Routes check who may act, then call the store."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field

from deh_contracts.vocabulary import Country, Identifier, MemberState, OrganisationType, Sector
from deh_membership.adapters.consultations import ConsultationStore
from deh_membership.adapters.conversations import ConversationStore
from deh_membership.adapters.members import MemberStore
from deh_membership.adapters.organisations import OrganisationStore
from deh_membership.adapters.personal_data import PersonalData
from deh_membership.adapters.squads import SquadStore
from deh_membership.adapters.thread_search import search_threads
from deh_membership.domain.consultations import OPENING, AnswerForm, Consultation, ConsultationForm, Results, consults
from deh_membership.domain.conversations import (
    Page,
    PostForm,
    PostPage,
    PostView,
    Reaction,
    Reason,
    ReplyForm,
    ReportedPost,
    Space,
    SpaceKind,
    ThreadForm,
    ThreadPage,
    ThreadView,
)
from deh_membership.domain.members import Action, ConsentChoices, Member, Profile, ProfileChanges
from deh_membership.domain.policies import (
    require_active_or_staff,
    require_coordinator_of,
    require_not_own_case,
    require_self_or,
)
from deh_membership.domain.squads import Application, ApplicationForm, Output, OutputForm, Spread, SquadProposal
from deh_membership.domain.thread_search import ThreadResults, ThreadSearch
from deh_platform.auth import Caller, Principal, members_only, requires
from deh_platform.creation import NewResource
from deh_platform.errors import InvalidInput
from deh_platform.http import ResourceId, from_app
from deh_platform.openapi import errors
from deh_platform.search_index import SearchIndex

router = APIRouter()
Moderator = Annotated[Principal, Depends(requires("moderator", "admin"))]
Admin = Annotated[Principal, Depends(requires("admin"))]


Members = Annotated[MemberStore, Depends(from_app("members"))]
Organisations = Annotated[OrganisationStore, Depends(from_app("organisations"))]
Squads = Annotated[SquadStore, Depends(from_app("squads"))]
Personal = Annotated[PersonalData, Depends(from_app("personal_data"))]
Conversations = Annotated[ConversationStore, Depends(from_app("conversations"))]
Consultations = Annotated[ConsultationStore, Depends(from_app("consultations"))]
PostIndex = Annotated[SearchIndex, Depends(from_app("index"))]


@members_only
async def active_member(caller: Caller, members: Members) -> Principal:
    """The caller, if an active member (or staff): 403 for the suspended, gone and unknown."""
    require_active_or_staff(caller, await members.status_of(caller.member_id))
    return caller


ActiveMember = Annotated[Principal, Depends(active_member)]


# Members -------------------------------------------------------------------------------------------


class MembershipApplication(BaseModel):
    profile: Profile
    consent: ConsentChoices


class Decision(BaseModel):
    reason: str | None = Field(None, max_length=2000)


@router.post(
    "/members", status_code=status.HTTP_201_CREATED, response_model=Member, tags=["members"], responses=errors(409)
)
async def apply(body: MembershipApplication, caller: Caller, creation: NewResource, members: Members) -> Any:
    """Apply to join the Community of Practice as the person the token names."""
    return await members.apply(caller.member_id, body.profile, body.consent, creation)


@router.get("/members/{member_id}", response_model=Member, tags=["members"], responses=errors(403))
async def get_member(member_id: ResourceId, caller: Caller, members: Members) -> Any:
    require_self_or(caller, member_id, "moderator", "admin")
    return await members.member(member_id)


@router.post(
    "/members/{member_id}/leave", response_model=Member, tags=["members"], name="leave", responses=errors(403, 409)
)
async def leave(member_id: ResourceId, caller: Caller, members: Members) -> Any:
    require_self_or(caller, member_id)
    return await members.transition(member_id, "leave", by=caller.member_id, reason=None)


@router.post("/members/{member_id}/{action}", response_model=Member, tags=["members"], responses=errors(403, 409))
async def decide(
    member_id: ResourceId,
    action: Literal["approve", "reject", "suspend", "reinstate"],
    body: Decision,
    caller: Moderator,
    members: Members,
) -> Any:
    """A moderator approves or rejects an application, suspends or reinstates a member (never their own)."""
    require_not_own_case(caller, member_id)
    chosen: Action = action
    return await members.transition(member_id, chosen, by=caller.member_id, reason=body.reason)


@router.patch("/members/{member_id}/profile", response_model=Member, tags=["members"], responses=errors(403, 409))
async def update_profile(member_id: ResourceId, body: ProfileChanges, caller: Caller, members: Members) -> Any:
    require_self_or(caller, member_id)
    return await members.update_profile(member_id, body)


@router.put("/members/{member_id}/consent", response_model=Member, tags=["members"], responses=errors(403, 409))
async def update_consent(member_id: ResourceId, body: ConsentChoices, caller: Caller, members: Members) -> Any:
    require_self_or(caller, member_id)
    return await members.update_consent(member_id, body)


@router.get("/members/{member_id}/export", tags=["personal data"], responses=errors(403))
async def export(member_id: ResourceId, caller: Caller, personal: Personal) -> dict[str, Any]:
    """Everything the hub's membership service holds about a member, as JSON."""
    require_self_or(caller, member_id, "admin")
    return await personal.export(member_id)


@router.delete(
    "/members/{member_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["personal data"], responses=errors(403, 409)
)
async def erase(
    member_id: ResourceId,
    caller: Caller,
    personal: Personal,
    posts: Annotated[Literal["keep", "delete"], Query(description="What becomes of their posts")] = "keep",
) -> Response:
    """Erase a member's personal data here and, through `member erased`, in every service. Their
    posts stay in their threads, written by a former member, unless they ask for them to be
    deleted (`posts=delete`)."""
    require_self_or(caller, member_id, "admin")
    await personal.erase(member_id, delete_posts=posts == "delete")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class ActivityView(BaseModel):
    member_id: str
    kind: str
    reference: str
    title: str | None = None
    at: datetime


@router.get("/members/{member_id}/activity", response_model=list[ActivityView], tags=["members"], responses=errors(403))
async def activity(member_id: ResourceId, caller: Caller, members: Members) -> Any:
    require_self_or(caller, member_id, "moderator", "admin")
    await members.member(member_id)
    return await members.activity_of(member_id)


# Directory ---------------------------------------------------------------------------------------------


class DirectoryEntry(BaseModel):
    """What a member made visible in the directory (never the email)."""

    id: str
    display_name: str
    country: str
    organisation_id: str | None
    organisation_type: str | None
    sectors: list[str]
    expertise_topics: list[str]
    languages: list[str]


class DirectoryPage(BaseModel):
    members: list[DirectoryEntry]
    next_cursor: str | None


def _entry(document: dict[str, Any]) -> DirectoryEntry:
    profile = document["profile"]
    return DirectoryEntry(
        id=document["_id"],
        display_name=profile["display_name"],
        country=profile["country"],
        organisation_id=profile.get("organisation_id"),
        organisation_type=document.get("organisation_type"),
        sectors=profile["sectors"],
        expertise_topics=profile["expertise_topics"],
        languages=profile["languages"],
    )


@router.get("/directory", response_model=DirectoryPage, tags=["directory"], responses=errors(403))
async def directory(
    caller: ActiveMember,
    members: Members,
    name: Annotated[str | None, Query(max_length=120)] = None,
    country: Country | None = None,
    sector: Sector | None = None,
    expertise: Annotated[str | None, Query(max_length=100)] = None,
    organisation_type: OrganisationType | None = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    """Active members who chose to be visible, in name order, a page at a time."""
    filters = {
        "name": name,
        "country": country,
        "sector": sector,
        "expertise": expertise,
        "organisation_type": organisation_type,
    }
    page, next_cursor = await members.directory(filters, cursor, limit)
    return DirectoryPage(members=[_entry(document) for document in page], next_cursor=next_cursor)


# Organisations and the NAS network ------------------------------------------------------------------------


class OrganisationForm(BaseModel):
    name: str = Field(min_length=2, max_length=300)
    type: OrganisationType
    country: Country


class OrganisationView(OrganisationForm):
    id: str


@router.post(
    "/organisations", status_code=status.HTTP_201_CREATED, response_model=OrganisationView, tags=["organisations"]
)
async def register_organisation(
    body: OrganisationForm, caller: Moderator, creation: NewResource, organisations: Organisations
) -> Any:
    document = await organisations.register_organisation(body.name, body.type, body.country, creation)
    return _with_id(document)


@router.get("/organisations", response_model=list[OrganisationView], tags=["organisations"])
async def list_organisations(caller: Caller, organisations: Organisations, country: Country | None = None) -> Any:
    return [_with_id(document) for document in await organisations.list_organisations(country)]


@router.get("/organisations/{organisation_id}", response_model=OrganisationView, tags=["organisations"])
async def get_organisation(organisation_id: ResourceId, caller: Caller, organisations: Organisations) -> Any:
    return _with_id(await organisations.organisation(organisation_id))


class NasForm(BaseModel):
    country: MemberState
    organisation_id: Identifier
    coordinator_ids: list[Identifier] = Field(min_length=1, max_length=20)
    scope: str = Field(min_length=2, max_length=2000)


class NasView(NasForm):
    id: str


class CountryMember(BaseModel):
    id: str
    display_name: str
    organisation_id: str | None
    sectors: list[str]
    expertise_topics: list[str]


@router.post("/nas", status_code=status.HTTP_201_CREATED, response_model=NasView, tags=["national advisory services"])
async def register_nas(body: NasForm, caller: Admin, creation: NewResource, organisations: Organisations) -> Any:
    return _with_id(
        await organisations.register_nas(body.country, body.organisation_id, body.coordinator_ids, body.scope, creation)
    )


@router.get("/nas", response_model=list[NasView], tags=["national advisory services"])
async def list_nas(caller: Caller, organisations: Organisations, country: MemberState | None = None) -> Any:
    return [_with_id(document) for document in await organisations.list_nas(country)]


@router.get(
    "/nas/{nas_id}/members",
    response_model=list[CountryMember],
    tags=["national advisory services"],
    responses=errors(403),
)
async def members_of_nas_country(
    nas_id: ResourceId, caller: ActiveMember, members: Members, organisations: Organisations
) -> Any:
    """The active members of the NAS's country, for its coordinators (and admins)."""
    nas = await organisations.nas_entry(nas_id)
    require_coordinator_of(caller, nas["coordinator_ids"])
    return [
        CountryMember(
            id=document["_id"],
            display_name=document["profile"]["display_name"],
            organisation_id=document["profile"].get("organisation_id"),
            sectors=document["profile"]["sectors"],
            expertise_topics=document["profile"]["expertise_topics"],
        )
        for document in await members.members_of_country(nas["country"])
    ]


# Squads -----------------------------------------------------------------------------------------------------


class SquadView(BaseModel):
    id: str
    title: str
    topic: str
    cap: int
    places_left: int
    starts_on: str
    ends_on: str
    outputs: list[Output]


class Selection(BaseModel):
    application_id: Identifier


class SelectionView(BaseModel):
    selected: list[Application]
    spread: Spread


def _squad(document: dict[str, Any]) -> SquadView:
    return SquadView(
        id=document["_id"],
        **{key: document[key] for key in ("title", "topic", "cap", "places_left", "starts_on", "ends_on", "outputs")},
    )


@router.post("/squads", status_code=status.HTTP_201_CREATED, response_model=SquadView, tags=["squads"])
async def create_squad(body: SquadProposal, caller: Moderator, creation: NewResource, squads: Squads) -> Any:
    return _squad(await squads.create_squad(body, caller.member_id, creation))


@router.get("/squads/{squad_id}", response_model=SquadView, tags=["squads"])
async def get_squad(squad_id: ResourceId, caller: Caller, squads: Squads) -> Any:
    return _squad(await squads.squad(squad_id))


@router.post(
    "/squads/{squad_id}/applications",
    status_code=status.HTTP_201_CREATED,
    response_model=Application,
    tags=["squads"],
    responses=errors(409),
)
async def apply_to_squad(squad_id: ResourceId, body: ApplicationForm, caller: Caller, squads: Squads) -> Any:
    return await squads.apply_to_squad(squad_id, caller.member_id, body)


@router.get("/squads/{squad_id}/applications", response_model=list[Application], tags=["squads"])
async def list_applications(squad_id: ResourceId, caller: Moderator, squads: Squads) -> Any:
    return squads.applications(await squads.squad(squad_id))


@router.post("/squads/{squad_id}/selections", response_model=Application, tags=["squads"], responses=errors(409))
async def select(squad_id: ResourceId, body: Selection, caller: Moderator, squads: Squads) -> Any:
    """Select a candidate; the cap holds even when moderators select at the same time."""
    return await squads.select(squad_id, body.application_id, caller.member_id)


@router.get("/squads/{squad_id}/selection", response_model=SelectionView, tags=["squads"])
async def selection(squad_id: ResourceId, caller: Moderator, squads: Squads) -> Any:
    """The selected members and the spread of their sectors and countries."""
    squad = await squads.squad(squad_id)
    chosen = [application for application in squads.applications(squad) if application.status == "selected"]
    return SelectionView(selected=chosen, spread=squads.spread(squad))


@router.delete(
    "/squads/{squad_id}/applications/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["squads"],
    responses=errors(403, 409),
)
async def leave_squad(squad_id: ResourceId, member_id: ResourceId, caller: Caller, squads: Squads) -> Response:
    require_self_or(caller, member_id, "moderator", "admin")
    await squads.leave_squad(squad_id, member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/squads/{squad_id}/outputs", status_code=status.HTTP_201_CREATED, tags=["squads"])
async def record_output(
    squad_id: ResourceId, body: OutputForm, caller: Moderator, creation: NewResource, squads: Squads
) -> Output:
    return Output(**await squads.record_output(squad_id, body, creation))


def _with_id(document: dict[str, Any]) -> dict[str, Any]:
    return {"id": document["_id"], **{key: value for key, value in document.items() if key != "_id"}}


# Conversations ---------------------------------------------------------------------------------


class EarlierText(BaseModel):
    version: int
    text: str | None
    language: str
    at: datetime


@router.post(
    "/threads",
    status_code=status.HTTP_201_CREATED,
    response_model=ThreadView,
    tags=["conversations"],
    responses=errors(403, 404, 429),
)
async def start_thread(body: ThreadForm, caller: ActiveMember, creation: NewResource, talk: Conversations) -> Any:
    """Start a thread with its opening post, in a space the caller reads: the community, a squad
    that selected them, or the NAS network (its coordinators)."""
    return await talk.start(body, caller, creation)


def paging(
    cursor: Annotated[str | None, Query(max_length=500, description="The `next_cursor` of the page before.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Page:
    return Page(cursor=cursor, limit=limit)


Paging = Annotated[Page, Depends(paging)]


@router.get("/threads", response_model=ThreadPage, tags=["conversations"], responses=errors(403, 404))
async def list_threads(
    caller: ActiveMember,
    talk: Conversations,
    page: Paging,
    space: Annotated[SpaceKind, Query()] = "community",
    squad_id: Annotated[Identifier | None, Query()] = None,
) -> Any:
    """The threads of a space, the most recently active first, a page at a time."""
    return await talk.threads_in(_space(space, squad_id), caller, page)


@router.get("/threads/search", response_model=ThreadResults, tags=["conversations"])
async def find_threads(
    search: Annotated[ThreadSearch, Query()], caller: ActiveMember, talk: Conversations, index: PostIndex
) -> Any:
    """Full-text search of the threads the caller may read (the community, squads that selected
    them, the NAS network for its coordinators; staff every space), in the EU languages with
    each language's analysis: each thread once, with the post that matched best and an excerpt
    (HTML-escaped, the words found in `<em>`). Hidden and deleted posts are never found."""
    return await search_threads(search, caller, index, talk)


@router.get("/threads/{thread_id}", response_model=ThreadView, tags=["conversations"], responses=errors(403))
async def get_thread(thread_id: ResourceId, caller: ActiveMember, talk: Conversations) -> Any:
    thread, _ = await talk.readable_thread(thread_id, caller)
    return thread


@router.get("/threads/{thread_id}/posts", response_model=PostPage, tags=["conversations"], responses=errors(403))
async def list_posts(thread_id: ResourceId, caller: ActiveMember, talk: Conversations, page: Paging) -> Any:
    """The thread's posts, oldest first, a page at a time; a deleted one keeps its place, without text."""
    return await talk.posts_of(thread_id, caller, page)


@router.post(
    "/threads/{thread_id}/posts",
    status_code=status.HTTP_201_CREATED,
    response_model=PostView,
    tags=["conversations"],
    responses=errors(403, 409, 429),
)
async def write_post(
    thread_id: ResourceId, body: ReplyForm, caller: ActiveMember, creation: NewResource, talk: Conversations
) -> Any:
    """A post in the thread, answering `reply_to` if given; not in a locked thread."""
    return await talk.reply(thread_id, body, caller, creation)


@router.put(
    "/threads/{thread_id}/posts/{post_id}",
    response_model=PostView,
    tags=["conversations"],
    responses=errors(403, 409),
)
async def edit_post(
    thread_id: ResourceId, post_id: ResourceId, body: PostForm, caller: ActiveMember, talk: Conversations
) -> Any:
    """The author's new text; the earlier one joins the post's history."""
    return await talk.edit(thread_id, post_id, body, caller)


@router.get(
    "/threads/{thread_id}/posts/{post_id}/history",
    response_model=list[EarlierText],
    tags=["conversations"],
    responses=errors(403),
)
async def post_history(thread_id: ResourceId, post_id: ResourceId, caller: ActiveMember, talk: Conversations) -> Any:
    return await talk.history(thread_id, post_id, caller)


@router.delete(
    "/threads/{thread_id}/posts/{post_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["conversations"],
    responses=errors(403, 409),
)
async def delete_post(
    thread_id: ResourceId, post_id: ResourceId, caller: ActiveMember, talk: Conversations
) -> Response:
    """The author deletes their post: its text and history go, its place stays."""
    await talk.delete(thread_id, post_id, caller)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _space(kind: SpaceKind, squad_id: str | None) -> Space:
    try:
        return Space(kind=kind, squad_id=squad_id)
    except ValueError as error:
        raise InvalidInput(
            ("query", "squad_id"), "squad_id names the squad of a squad's space, and no other"
        ) from error


@router.post(
    "/threads/{thread_id}/posts/{post_id}/reports",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["moderation"],
    responses=errors(403, 409),
)
async def report_post(
    thread_id: ResourceId, post_id: ResourceId, body: Reason, caller: ActiveMember, talk: Conversations
) -> Response:
    """Report a post to the moderators, with the reason (once per reader and post)."""
    await talk.report(thread_id, post_id, body, caller)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/moderation/reports", response_model=list[ReportedPost], tags=["moderation"])
async def moderation_queue(caller: Moderator, talk: Conversations) -> Any:
    """The posts with open reports, the most reported first, with every report."""
    return await talk.queue()


@router.post(
    "/threads/{thread_id}/posts/{post_id}/{decision}",
    response_model=PostView,
    tags=["moderation"],
    responses=errors(403, 409),
)
async def moderate_post(
    thread_id: ResourceId,
    post_id: ResourceId,
    decision: Literal["hide", "restore"],
    body: Reason,
    caller: Moderator,
    talk: Conversations,
) -> Any:
    """Hide a post (its place stays; its text is for moderators) or show it again, with the
    reason recorded; either closes its open reports. Never one's own post."""
    if decision == "hide":
        return await talk.hide(thread_id, post_id, body, caller)
    return await talk.restore(thread_id, post_id, body, caller)


@router.post("/threads/{thread_id}/{action}", response_model=ThreadView, tags=["moderation"], responses=errors(409))
async def lock_thread(
    thread_id: ResourceId, action: Literal["lock", "unlock"], body: Reason, caller: Moderator, talk: Conversations
) -> Any:
    """Lock a thread with the reason recorded (it is read, no more written), or unlock it."""
    return await talk.lock(thread_id, body, caller, locked=action == "lock")


# Consultations -----------------------------------------------------------------------------------

Consulting = Annotated[Principal, Depends(requires(*OPENING))]


class MyAnswer(BaseModel):
    consultation_id: str
    answers: dict[str, str | list[str] | int]
    named: bool
    answered_at: datetime
    updated_at: datetime


class FreeText(BaseModel):
    question_id: str
    text: str
    country: str | None
    sectors: list[str]
    organisation_type: str | None
    respondent: str | None = Field(description="The respondent's name, only if they agreed to be named.")


@router.post(
    "/consultations",
    status_code=status.HTTP_201_CREATED,
    response_model=Consultation,
    tags=["consultations"],
    responses=errors(404),
)
async def open_consultation(
    body: ConsultationForm, caller: Consulting, creation: NewResource, consultations: Consultations
) -> Any:
    """Open a consultation of an audience (the community, a squad or the NAS network) for a while."""
    return await consultations.open(body, caller, creation)


@router.get(
    "/consultations/{consultation_id}", response_model=Consultation, tags=["consultations"], responses=errors(403)
)
async def get_consultation(
    consultation_id: ResourceId, caller: Caller, members: Members, consultations: Consultations
) -> Any:
    """To its audience (active members who read its space) and to those who consult."""
    if not consults(caller):
        require_active_or_staff(caller, await members.status_of(caller.member_id))
    return await consultations.visible(consultation_id, caller)


@router.put(
    "/consultations/{consultation_id}/answers/mine",
    response_model=MyAnswer,
    tags=["consultations"],
    responses=errors(403, 409),
)
async def answer_consultation(
    consultation_id: ResourceId, body: AnswerForm, caller: ActiveMember, consultations: Consultations
) -> Any:
    """Answer every question, once; send again to change the answer, until the consultation closes."""
    return await consultations.answer(consultation_id, body, caller)


@router.get(
    "/consultations/{consultation_id}/answers/mine",
    response_model=MyAnswer,
    tags=["consultations"],
    responses=errors(409),
)
async def my_answer(consultation_id: ResourceId, caller: ActiveMember, consultations: Consultations) -> Any:
    return await consultations.mine(consultation_id, caller)


@router.get(
    "/consultations/{consultation_id}/results", response_model=Results, tags=["consultations"], responses=errors(403)
)
async def consultation_results(
    consultation_id: ResourceId, caller: Caller, members: Members, consultations: Consultations
) -> Any:
    """The answers counted per question, and per country, sector and organisation type: for
    those who consult at any time, for the consultation's audience once it has closed."""
    if not consults(caller):
        require_active_or_staff(caller, await members.status_of(caller.member_id))
    return await consultations.results(consultation_id, caller)


@router.get("/consultations/{consultation_id}/free-texts", response_model=list[FreeText], tags=["consultations"])
async def consultation_free_texts(consultation_id: ResourceId, caller: Consulting, consultations: Consultations) -> Any:
    """The free-text answers for analysis, named only where the respondent agreed."""
    return await consultations.free_texts(consultation_id)


@router.put(
    "/threads/{thread_id}/posts/{post_id}/reactions/{kind}",
    response_model=PostView,
    tags=["conversations"],
    responses=errors(403),
)
async def react(
    thread_id: ResourceId, post_id: ResourceId, kind: Reaction, caller: ActiveMember, talk: Conversations
) -> Any:
    """React to a post (once per reader and kind); the post shows how many reacted, by kind."""
    return await talk.react(thread_id, post_id, kind, caller, on=True)


@router.delete(
    "/threads/{thread_id}/posts/{post_id}/reactions/{kind}",
    response_model=PostView,
    tags=["conversations"],
    responses=errors(403),
)
async def take_back_reaction(
    thread_id: ResourceId, post_id: ResourceId, kind: Reaction, caller: ActiveMember, talk: Conversations
) -> Any:
    return await talk.react(thread_id, post_id, kind, caller, on=False)


@router.get("/threads/followed/mine", response_model=ThreadPage, tags=["conversations"])
async def followed_threads(caller: ActiveMember, talk: Conversations, page: Paging) -> Any:
    """The threads the caller follows, the most recently active first."""
    return await talk.followed(caller, page)


@router.put(
    "/threads/{thread_id}/followers/mine",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["conversations"],
    responses=errors(403),
)
async def follow(thread_id: ResourceId, caller: ActiveMember, talk: Conversations) -> Response:
    await talk.follow(thread_id, caller, on=True)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/threads/{thread_id}/followers/mine",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["conversations"],
    responses=errors(403),
)
async def unfollow(thread_id: ResourceId, caller: ActiveMember, talk: Conversations) -> Response:
    await talk.follow(thread_id, caller, on=False)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
