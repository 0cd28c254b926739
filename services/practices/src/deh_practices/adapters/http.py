"""The practices HTTP API: submission, editing, review, archive, search and maintenance."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl
from xml.etree import ElementTree
from xml.etree.ElementTree import Element

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, Field

from deh_contracts.catalogue.practices import Origin, PracticeMetadata
from deh_contracts.vocabulary import IDENTIFIER_PATTERN, Identifier
from deh_platform.auth import Caller, MaybeCaller, Principal, members_only, requires
from deh_platform.creation import NewResource
from deh_platform.errors import InvalidInput, NotFound
from deh_platform.http import ResourceId, from_app
from deh_platform.openapi import errors
from deh_platform.records import HIDDEN_FIELDS
from deh_platform.search_index import SearchIndex
from deh_practices.adapters.links import LinkChecks
from deh_practices.adapters.store import HARVESTED, Document, PracticeStore, names_of
from deh_practices.domain import oai, policies
from deh_practices.domain import practices as rules
from deh_practices.domain.discovery import (
    MAX_RELATED,
    Suggestion,
    SuggestRequest,
    related_query,
    suggest_query,
    suggestions,
)
from deh_practices.domain.open_metadata import as_rdf_xml, dublin_core, learning_resource, xml_document
from deh_practices.domain.practices import Edit, Review, Status, Submission, metadata_problems
from deh_practices.domain.search import (
    SearchRequest,
    build_query,
    encode_cursor,
    facet_counts,
    falls_back,
    reads_any_word,
)

router = APIRouter()
Moderator = Annotated[Principal, Depends(requires("moderator", "admin"))]
Admin = Annotated[Principal, Depends(requires("admin"))]


Store = Annotated[PracticeStore, Depends(from_app("store"))]


@members_only
async def active_member(caller: Caller, store: Store) -> Principal:
    """The caller, if membership's latest news is that they are an active member (403 otherwise)."""
    policies.require_active_member(await store.member_status(caller.member_id))
    return caller


@members_only
async def active_reviewer(caller: Annotated[Principal, Depends(requires("reviewer"))], store: Store) -> Principal:
    """The caller, if their token gives them the reviewer role and they are an active member."""
    policies.require_active_member(await store.member_status(caller.member_id))
    return caller


ActiveMember = Annotated[Principal, Depends(active_member)]
ActiveReviewer = Annotated[Principal, Depends(active_reviewer)]
Index = Annotated[SearchIndex, Depends(from_app("index"))]
Links = Annotated[LinkChecks, Depends(from_app("links"))]


class PracticeView(BaseModel):
    id: str
    status: Status
    version: int
    metadata: PracticeMetadata
    body: str
    authors: dict[str, str | None] = Field(description="Member ids and their visible names (null when hidden).")
    author_names: list[str]
    reviewer_id: str | None
    published_at: datetime | None
    last_reviewed_at: datetime | None
    stale: bool
    broken_links: list[str]


def view(document: Document) -> PracticeView:
    fields = {name: document.get(name) for name in PracticeView.model_fields if name not in ("id", "authors")}
    return PracticeView(id=document["_id"], authors=names_of(document), **fields)


def _validated(submission: Edit | Submission) -> None:
    problems = metadata_problems(submission.metadata)
    if problems:
        first = problems[0]
        raise InvalidInput(("body", *first.location.split(".")), "; ".join(str(problem) for problem in problems))


@router.post(
    "/practices",
    status_code=status.HTTP_201_CREATED,
    response_model=PracticeView,
    tags=["practices"],
    responses=errors(403),
)
async def submit_practice(body: Submission, caller: ActiveMember, creation: NewResource, store: Store) -> Any:
    """A member submits a practice (or keeps it as a draft with `submit: false`). Send an
    `Idempotency-Key` to retry safely: the same key and body give the practice created first."""
    _validated(body)
    if body.metadata.origin.kind not in ("community", "eu_project"):
        raise InvalidInput(("body", "metadata", "origin", "kind"), "members submit community or EU-project practices")
    document = await store.create(
        practice_id=creation.new_id("practice"),
        metadata=body.metadata,
        body=body.body,
        author_ids=[caller.member_id],
        author_names=[],
        status="submitted" if body.submit else "draft",
        created_by=caller.member_id,
        creation=creation,
    )
    return view(document)


@router.get("/practices/{practice_id}", response_model=PracticeView, tags=["practices"])
async def get_practice(practice_id: ResourceId, caller: MaybeCaller, store: Store) -> Any:
    """Published practices are public; drafts and practices in review only to authors and reviewers."""
    return view(await store.visible(practice_id, caller))


@router.put("/practices/{practice_id}", response_model=PracticeView, tags=["practices"], responses=errors(403, 409))
async def edit_practice(practice_id: ResourceId, body: Edit, caller: ActiveMember, store: Store) -> Any:
    """An author edits: a new version; a published practice goes back to review."""
    _validated(body)
    return view(await store.edit(practice_id, body, caller))


@router.get("/practices/{practice_id}/versions", tags=["practices"])
async def versions(practice_id: ResourceId, caller: Caller, store: Store) -> list[dict[str, Any]]:
    document = await store.visible(practice_id, caller)
    return list(document["versions"])


@router.post(
    "/practices/{practice_id}/submit", response_model=PracticeView, tags=["review"], responses=errors(403, 409)
)
async def submit_draft(practice_id: ResourceId, caller: ActiveMember, store: Store) -> Any:
    return view(await store.submit(practice_id, caller))


class Assignment(BaseModel):
    reviewer_id: Identifier


@router.post("/practices/{practice_id}/reviewer", response_model=PracticeView, tags=["review"], responses=errors(409))
async def assign_reviewer(practice_id: ResourceId, body: Assignment, caller: Moderator, store: Store) -> Any:
    """A moderator assigns a reviewer: an active member who is not an author (the reviewer role
    is in their token, checked when they review)."""
    policies.require_active_reviewer(await store.member_status(body.reviewer_id), body.reviewer_id)
    return view(await store.assign(practice_id, body.reviewer_id))


@router.post(
    "/practices/{practice_id}/reviews", response_model=PracticeView, tags=["review"], responses=errors(403, 409)
)
async def review(practice_id: ResourceId, body: Review, caller: ActiveReviewer, store: Store) -> Any:
    """The assigned reviewer (an active member with the reviewer role, not an author) scores every
    criterion and decides: publish, request changes or reject."""
    return view(await store.review(practice_id, body, caller))


class Archiving(BaseModel):
    reason: str = Field(min_length=3, max_length=2000)


@router.post(
    "/practices/{practice_id}/archive", response_model=PracticeView, tags=["review"], responses=errors(403, 409)
)
async def archive(practice_id: ResourceId, body: Archiving, caller: Caller, store: Store) -> Any:
    if not caller.is_staff:  # an author archives as a member
        policies.require_active_member(await store.member_status(caller.member_id))
    return view(await store.archive(practice_id, body.reason, caller))


@router.get("/review-queue", tags=["review"])
async def review_queue(caller: Moderator, store: Store) -> list[dict[str, Any]]:
    """Practices waiting for review and published ones whose last review is too old."""
    return [
        {
            "id": document["_id"],
            "status": document["status"],
            "stale": document.get("stale", False),
            "reviewer_id": document.get("reviewer_id"),
        }
        for document in await store.review_queue()
    ]


class Hit(BaseModel):
    id: str
    title: dict[str, str]
    summary: dict[str, str]
    languages: list[str]
    countries: list[str]
    result_type: str
    origin: Origin | None = None
    published_at: datetime | None
    highlights: dict[str, list[str]] = Field(
        description="HTML, by field: where the words were found (`title.de`; `title.de.folded` where they "
        "were typed without their diacritics), the text escaped and the words found in <em>."
    )
    score: float | None


Matched = Literal["all words", "any word"]


def hit_of(hit: Document) -> Hit:
    source = hit["_source"]
    return Hit(
        id=hit["_id"],
        title=source["title"],
        summary=source["summary"],
        languages=source["languages"],
        countries=source.get("countries", []),
        result_type=source["result_type"],
        published_at=source.get("published_at"),
        highlights=hit.get("highlight", {}),
        score=hit.get("_score"),
    )


class SearchResults(BaseModel):
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = Field(
        description="Hits per value of each facet. Within a facet the values are alternatives: the "
        "counts of a facet take every chosen facet into account but its own (choosing another value of "
        "it would give that many); across facets, choices combine."
    )
    next_cursor: str | None
    matched: Matched = Field(
        description="`all words`: every hit has every word of the query. `any word`: no practice has them "
        "all, and the hits have some of them, those with more of them first (so are the next pages)."
    )


@router.get("/search", response_model=SearchResults, tags=["search"])
async def search(request: Annotated[SearchRequest, Query()], caller: MaybeCaller, index: Index) -> Any:
    """Full-text search in the EU languages, facets with counts, filters, highlights, relevance
    or date order, and `cursor` paging as deep as needed (there is no offset). The pages of one
    sequence show the library as it was at the first page (a point in time, kept 2 minutes
    after each page): nothing twice, nothing skipped, while practices are published meanwhile."""
    caller_id = caller.member_id if caller else None
    any_word = reads_any_word(request)
    response, point_in_time = await index.page(build_query(request, caller_id))
    if response["hits"]["total"]["value"] == 0 and not request.cursor and falls_back(request):
        response, point_in_time = await index.page(build_query(request, caller_id, all_words=False))
        any_word = True
    # The query asks for one hit more than a page: a cursor is given only when another page has hits.
    hits = response["hits"]["hits"][: request.size]
    more = len(response["hits"]["hits"]) > request.size
    if more:
        point_in_time = await index.keep_for_next_page(point_in_time)
    elif point_in_time:
        await index.close(point_in_time)
    return SearchResults(
        total=response["hits"]["total"]["value"],
        hits=[hit_of(hit) for hit in hits],
        facets=facet_counts(response.get("aggregations", {})),
        next_cursor=encode_cursor(hits[-1]["sort"], point_in_time, any_word) if more else None,
        matched="any word" if any_word else "all words",
    )


@router.get("/suggestions", response_model=list[Suggestion], tags=["search"])
async def suggest(request: Annotated[SuggestRequest, Query()], index: Index) -> Any:
    """Suggestions as a person types, in their language: titles of published practices whose
    words begin as typed (diacritics optional), then topics of published practices, then terms
    of the reference vocabularies (DigComp, DigCompEdu, ISCED levels: English labels only so
    far). A topic or term suggestion's `value` is the search filter that finds its practices."""
    return suggestions(request, await index.run(suggest_query(request)))


class RelatedPractices(BaseModel):
    hits: list[Hit]


@router.get("/practices/{practice_id}/related", response_model=RelatedPractices, tags=["search"])
async def related(
    practice_id: ResourceId,
    caller: MaybeCaller,
    store: Store,
    index: Index,
    size: Annotated[int, Query(ge=1, le=MAX_RELATED)] = 5,
) -> Any:
    """Published practices related to this one: text alike in any language, or sharing its
    topics and competences; those that share most first."""
    practice = await store.visible(practice_id, caller)
    answer = await index.run(related_query(practice_id, index.alias, practice["metadata"], size))
    return RelatedPractices(hits=[hit_of(hit) for hit in answer["hits"]["hits"]])


PublicUrl = Annotated[str, Depends(from_app("public_url"))]


async def published(practice_id: str, store: PracticeStore) -> Document:
    """A practice as the public sees it, or 404: open metadata describes published ones only."""
    shown = policies.view_for(await store.get(practice_id), None)
    if shown is None:
        raise NotFound(f"no published practice {practice_id}")
    return dict(shown)


@router.get(
    "/practices/{practice_id}/lrmi",
    tags=["open metadata"],
    responses={200: {"content": {"application/ld+json": {}}}, **errors(404)},
)
async def as_learning_resource(practice_id: ResourceId, store: Store, public_url: PublicUrl) -> Response:
    """The published practice as a schema.org LearningResource with LRMI properties (JSON-LD)."""
    resource = learning_resource(await published(practice_id, store), f"{public_url}/{practice_id}")
    return Response(json.dumps(resource, ensure_ascii=False), media_type="application/ld+json")


@router.get(
    "/practices/{practice_id}/dc",
    tags=["open metadata"],
    responses={200: {"content": {"application/xml": {}}}, **errors(404)},
)
async def as_dublin_core(practice_id: ResourceId, store: Store, public_url: PublicUrl) -> Response:
    """The published practice as simple Dublin Core, in the `oai_dc` container OAI-PMH uses."""
    record = dublin_core(await published(practice_id, store), f"{public_url}/{practice_id}")
    return Response(xml_document(record), media_type="application/xml")


OaiRepository = Annotated[oai.Repository, Depends(from_app("oai"))]
IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


OAI_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/xml": {}}, "description": "An OAI-PMH 2.0 answer, or its error element."}
}


# The protocol's arguments, as a POST's form documents them (its GET takes them as query).
OAI_FORM = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        name: {"type": "string", "maxLength": 1000}
                        for name in ("verb", "identifier", "metadataPrefix", "from", "until", "set", "resumptionToken")
                    },
                }
            }
        }
    }
}


@router.get("/oai", tags=["open metadata"], responses=OAI_ANSWER)
async def oai_pmh(request: Request, store: Store, public_url: PublicUrl, repository: OaiRepository) -> Response:
    """OAI-PMH 2.0 for harvesting repositories: Identify, ListMetadataFormats, ListSets,
    ListIdentifiers, ListRecords (resumption tokens, `from`/`until`, sets by sector and country)
    and GetRecord, in `oai_dc` and `lrmi` (schema.org LearningResource, the JSON-LD of
    `/practices/{id}/lrmi` as RDF/XML); archived practices are deleted records. Errors are the
    protocol's (HTTP 200 with an `error` element). The arguments as query (GET) or as a form
    (POST)."""
    return await _oai_answer(request.query_params.multi_items(), store, public_url, repository)


@router.post("/oai", tags=["open metadata"], responses=OAI_ANSWER, openapi_extra=OAI_FORM)
async def oai_pmh_form(request: Request, store: Store, public_url: PublicUrl, repository: OaiRepository) -> Response:
    """OAI-PMH 2.0 as above, the arguments in an `application/x-www-form-urlencoded` body (the
    service's edge has checked that it is one, of UTF-8 text)."""
    body = (await request.body()).decode("ascii")
    return await _oai_answer(parse_qsl(body, keep_blank_values=True), store, public_url, repository)


async def _oai_answer(
    items: Iterable[tuple[str, str]], store: PracticeStore, public_url: str, repository: oai.Repository
) -> Response:
    arguments: dict[str, list[str]] = {}
    for name, value in items:
        arguments.setdefault(name, []).append(value[:1000])
    try:
        verb, given = oai.request_of(arguments)
    except oai.OaiError as problem:
        root = oai.envelope(repository.base_url, None, {})
        oai.error(root, problem)
        return _xml(root)
    root = oai.envelope(repository.base_url, verb, given)
    try:
        await _answer(verb, given, oai.answer_of(root, verb), _Records(store, public_url, repository))
    except oai.OaiError as problem:
        # The protocol: the request's arguments are repeated, but for a bad verb or argument.
        echoed = problem.code not in ("badVerb", "badArgument")
        root = oai.envelope(repository.base_url, verb if echoed else None, given if echoed else {})
        oai.error(root, problem)
    return _xml(root)


async def _answer(verb: str, given: dict[str, str], answer: Element, records: _Records) -> None:
    repository = records.repository
    if verb == "Identify":
        oai.identify(answer, repository.base_url, repository.admin_email, oai.EARLIEST)
    elif verb == "ListMetadataFormats":
        if "identifier" in given:
            await records.harvested(given["identifier"])
        oai.metadata_formats(answer)
    elif verb == "ListSets":
        if "resumptionToken" in given:
            raise oai.OaiError("badResumptionToken", "ListSets gives no resumptionToken")
        oai.list_sets(answer)
    elif verb == "GetRecord":
        prefix = oai.disseminated(given["metadataPrefix"])
        records.add(answer, *await records.harvested(given["identifier"]), metadata_prefix=prefix)
    else:
        selection = oai.selection_of(given)
        await records.list(answer, selection, metadata_prefix=selection.prefix if verb == "ListRecords" else None)


@dataclass(frozen=True)
class _Records:
    """The practices as OAI-PMH records of this repository."""

    store: PracticeStore
    public_url: str
    repository: oai.Repository

    async def harvested(self, oai_identifier: str) -> tuple[Document, bool]:
        prefix = self.repository.identifier("")
        practice_id = oai_identifier.removeprefix(prefix)
        found = None
        if oai_identifier.startswith(prefix) and IDENTIFIER.fullmatch(practice_id):
            found = await self.store.practices.find_one({"_id": practice_id, **HARVESTED}, HIDDEN_FIELDS)
        if found is None:
            raise oai.OaiError("idDoesNotExist", f"no record {oai_identifier} in this repository")
        return _shown(found)

    def add(self, answer: Element, practice: Document, deleted: bool, *, metadata_prefix: str | None) -> None:
        """The practice's record in that metadata format, or its header alone (no format)."""
        identifier = self.repository.identifier(practice["_id"])
        if metadata_prefix is None:
            oai.header(answer, identifier, practice, deleted)
            return
        url = f"{self.public_url}/{practice['_id']}"
        if metadata_prefix == "lrmi":
            metadata = as_rdf_xml(learning_resource(practice, url))
        else:
            metadata = oai.with_schema(dublin_core(practice, url))
        oai.record(answer, identifier, practice, deleted, metadata)

    async def list(self, answer: Element, selection: oai.Selection, *, metadata_prefix: str | None) -> None:
        """One page, then a resumption token when more follow (an empty one on the last page of
        a resumed list, as the protocol asks)."""
        page, total = await self.store.harvest(selection, self.repository.page_size + 1)
        shown = [_shown(practice) for practice in page[: self.repository.page_size]]
        wanted = [(p, gone) for p, gone in shown if not selection.set_spec or selection.set_spec in oai.sets_of(p)]
        more = len(page) > self.repository.page_size
        if not wanted and selection.after is None and not more:
            raise oai.OaiError("noRecordsMatch", "no record matches these arguments")
        for practice, deleted in wanted:
            self.add(answer, practice, deleted, metadata_prefix=metadata_prefix)
        if more or selection.after is not None:
            last = page[self.repository.page_size - 1] if more else None
            token = selection.token((last["updated_at"].isoformat(), last["_id"])) if last else None
            oai.resumption(answer, token, total)


def _shown(practice: Document) -> tuple[Document, bool]:
    """A harvested practice as the public saw it last, and whether it is a deleted record."""
    if practice["status"] == "archived":
        return practice, True
    return {**(rules.public_view(practice) or practice)}, False


def _xml(root: ElementTree.Element) -> Response:
    return Response(xml_document(root), media_type="text/xml; charset=utf-8")


class LinkCheckState(BaseModel):
    asked_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    checked: int | None = None
    broken: int | None = None
    newly_broken: int | None = None


@router.post("/maintenance/link-check", status_code=status.HTTP_202_ACCEPTED, tags=["maintenance"])
async def ask_for_a_link_check(caller: Admin, links: Links) -> dict[str, str]:
    """Ask for a check of every published practice's links now: the link-check job (on one
    replica) starts it within `link_check_poll_seconds`; its report is at GET."""
    await links.ask()
    return {"status": "asked"}


@router.get("/maintenance/link-check", response_model=LinkCheckState, tags=["maintenance"], responses=errors(404))
async def last_link_check(caller: Admin, links: Links) -> Any:
    last = await links.last()
    if last is None:
        raise NotFound("no link check has run or been asked for yet")
    return last


@router.post("/maintenance/staleness", tags=["maintenance"])
async def staleness(caller: Admin, store: Store) -> dict[str, int]:
    return {"flagged": await store.flag_stale()}
