"""Searching the community's threads, as data: the index of posts (a thread is found by its
posts and its title, in the language each was written in, with the practice library's language
analysis) and the translation of a search into an OpenSearch query that only ever finds what
the reader may read. User text (read by query_text) is only ever a `multi_match` value.

A post is indexed with its thread's title and space; a hidden or deleted post is indexed
without its text or title (`shown: false`) and never found: the index keeps no text that its
readers may not read. A search answers threads, each with the post that matched best
(OpenSearch's field collapsing on the thread), by relevance, a page at a time.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from deh_contracts.vocabulary import Language
from deh_membership.domain.conversations import Space, SpaceKind
from deh_platform.errors import InvalidInput
from deh_platform.identity import Principal
from deh_platform.query_text import clause_query, parse, text_clauses
from deh_platform.text_analysis import Analysis, text_index

MAPPING_VERSION = 2  # 2: folded sub-fields of the text as written, for excerpts of folded matches
PAGE_SIZE = 20
# Threads are paged by number (field collapsing does not page by `search_after`): as deep as
# a person reads, not a way to walk the whole community.
MAX_PAGES = 10
EXCERPT_CHARACTERS = 200


def index_definition(chosen: Mapping[str, Analysis]) -> dict[str, Any]:
    """Per language, a post's text (`body`) and its thread's title as written, with a folded
    sub-field (for excerpts of a match typed with or without diacritics), both copied into that
    language's `text` field, which queries match; `title_words` gives a match in a title its
    weight, as in the practice library."""
    keyword = {"type": "keyword"}
    return text_index(
        chosen,
        MAPPING_VERSION,
        {"title": True, "body": True},
        {
            **{name: keyword for name in ("post_id", "thread_id", "space", "squad_id", "language")},
            "shown": {"type": "boolean"},
            "thread_title": {"type": "keyword", "index": False},
            "thread_language": {"type": "keyword", "index": False},
            "written_at": {"type": "date"},
        },
    )


def searchable(post: Mapping[str, Any]) -> dict[str, Any]:
    """The searchable shape of a stored post: with its text and its thread's title while it is
    shown, without either once hidden or deleted."""
    shown = not post.get("deleted") and not post.get("hidden")
    space = post["space"]
    return {
        "post_id": post["_id"],
        "thread_id": post["thread_id"],
        "space": space["kind"],
        "squad_id": space.get("squad_id"),
        "language": post["language"],
        "shown": shown,
        "body": {post["language"]: post["text"]} if shown else {},
        "title": {post["thread_language"]: post["thread_title"]} if shown else {},
        "thread_title": post["thread_title"],
        "thread_language": post["thread_language"],
        "written_at": post["written_at"],
    }


def readable_by(caller: Principal, squads: Collection[str]) -> list[dict[str, Any]]:
    """The filter of what `caller` may read (conversations.may_read as a query): every space
    for staff, else the community, the squads that selected them (`squads`) and, for the NAS
    coordinators, their network."""
    if caller.is_staff:
        return []
    spaces: list[dict[str, Any]] = [{"term": {"space": "community"}}]
    if squads:
        spaces.append({"bool": {"filter": [{"term": {"space": "squad"}}, {"terms": {"squad_id": sorted(squads)}}]}})
    if caller.has("nas_coordinator"):
        spaces.append({"term": {"space": "nas_network"}})
    return [{"bool": {"should": spaces, "minimum_should_match": 1}}]


class ThreadSearch(BaseModel):
    """A search of the threads the reader may read."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(
        min_length=1,
        max_length=300,
        description='Words that must all match, "phrases", -exclusions, `a OR b`; in any EU language.',
    )
    language: Language | None = Field(None, description="Only posts written in this language.")
    space: SpaceKind | None = Field(None, description="Only threads in this kind of space.")
    page: int = Field(1, ge=1, le=MAX_PAGES)


def build_query(search: ThreadSearch, readable: list[dict[str, Any]]) -> dict[str, Any]:
    """The query of one page of threads: the best post of each, by relevance (the newest first
    among equals), with an excerpt of the text that matched."""
    text = parse(search.q)
    if not text.ranks:
        raise InvalidInput(("query", "q"), "say what to look for: a word or a phrase (exclusions alone find nothing)")
    filters: list[dict[str, Any]] = [{"term": {"shown": True}}, *readable]
    if search.language:
        filters.append({"term": {"language": search.language}})
    if search.space:
        filters.append({"term": {"space": search.space}})
    query: dict[str, Any] = {"bool": {"must": text_clauses(text, all_words=True), "filter": filters}}
    if text.excluded:
        query["bool"]["must_not"] = [clause_query(clause) for clause in text.excluded]
    return {
        "query": query,
        "collapse": {"field": "thread_id"},
        "sort": ["_score", {"written_at": "desc"}, {"post_id": "asc"}],
        "from": (search.page - 1) * PAGE_SIZE,
        "size": PAGE_SIZE + 1,  # one more: whether another page has threads
        "highlight": {
            # The query matches `text.*`; its words are highlighted where they were written, as
            # written or folded; the start of the post stands in when only the title matched.
            "fields": {
                "body.*": {"no_match_size": EXCERPT_CHARACTERS},
                "body.*.folded": {},
                "title.*": {},
                "title.*.folded": {},
            },
            "require_field_match": False,
            "fragment_size": EXCERPT_CHARACTERS,
            "number_of_fragments": 1,
            "encoder": "html",  # the text is the members': escaped, so that only <em> is markup
        },
        "_source": {"excludes": ["title", "body"]},
    }


class FoundThread(BaseModel):
    thread_id: str
    title: str = Field(description="Plain text as its author wrote it: escape it to show it in HTML.")
    thread_language: str
    space: Space
    post_id: str = Field(description="The post of the thread that matched best.")
    language: str = Field(description="The language the post is written in.")
    excerpt: str = Field(
        description="HTML: where the post (or the title) matched, escaped, the words found in <em>; "
        "the start of the post when only the title's words matched."
    )
    written_at: datetime


class ThreadResults(BaseModel):
    threads: list[FoundThread]
    page: int
    more: bool = Field(description="Whether the next page has threads.")


def results(search: ThreadSearch, response: Mapping[str, Any]) -> ThreadResults:
    hits = response["hits"]["hits"]
    return ThreadResults(
        threads=[_found(hit) for hit in hits[:PAGE_SIZE]], page=search.page, more=len(hits) > PAGE_SIZE
    )


def _found(hit: Mapping[str, Any]) -> FoundThread:
    post = hit["_source"]
    return FoundThread(
        thread_id=post["thread_id"],
        title=post["thread_title"],
        thread_language=post["thread_language"],
        space=Space(kind=post["space"], squad_id=post.get("squad_id")),
        post_id=post["post_id"],
        language=post["language"],
        excerpt=excerpt(hit.get("highlight", {})),
        written_at=post["written_at"],
    )


def excerpt(highlights: Mapping[str, list[str]]) -> str:
    """Where most of the words were found: in the post before the title, as written before
    folded; else the start of the post."""
    fragments = [
        fragment
        for part in ("body", "title")
        for folded in (False, True)
        for field, found in highlights.items()
        if field.startswith(f"{part}.") and field.endswith(".folded") == folded
        for fragment in found
    ]
    return max(fragments, key=lambda fragment: fragment.count("<em>"), default="")  # the first of the most found
