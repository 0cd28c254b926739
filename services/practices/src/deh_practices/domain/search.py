"""The practice search, as data: the index definition (per EU language, domain/analysis) and the
translation of a search request into an OpenSearch query. User text (read by query_text) is
only ever a `multi_match` value, never query syntax, and every size is bounded, so no input can
break or overload a search."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from deh_contracts.catalogue.practices import Licence, OriginKind, ResultType, Topic
from deh_contracts.vocabulary import (
    Country,
    DigCompCompetence,
    DigCompEduCompetence,
    IscedLevel,
    Language,
    Sector,
)
from deh_platform.errors import InvalidInput
from deh_platform.query_text import POINT_IN_TIME_KEEP_ALIVE, TextQuery, clause_query, parse, text_clauses
from deh_platform.text_analysis import Analysis, text_index

MAPPING_VERSION = 5  # 5: folded sub-fields of the text as written, to highlight folded matches
MAX_PAGE = 50
MAX_FILTER_VALUES = 20


TEXT_FIELDS = ("title", "summary", "body")


class FacetFilters(BaseModel):
    """The facets of the library, each a filter (any of the values) and a count of the hits per
    value: the one list of them (the index mapping, the query and the counts follow it)."""

    countries: list[Country] = Field([], max_length=MAX_FILTER_VALUES)
    sectors: list[Sector] = Field([], max_length=MAX_FILTER_VALUES)
    isced_levels: list[IscedLevel] = Field([], max_length=MAX_FILTER_VALUES)
    topics: list[Topic] = Field([], max_length=MAX_FILTER_VALUES)
    digcomp: list[DigCompCompetence] = Field([], max_length=MAX_FILTER_VALUES)
    digcompedu: list[DigCompEduCompetence] = Field([], max_length=MAX_FILTER_VALUES)
    languages: list[Language] = Field([], max_length=MAX_FILTER_VALUES)
    licence: list[Licence] = Field([], max_length=MAX_FILTER_VALUES)
    origin: list[OriginKind] = Field([], max_length=MAX_FILTER_VALUES)
    result_type: list[ResultType] = Field([], max_length=MAX_FILTER_VALUES)


# Each facet's keyword field in the index: its own name, but for the origin's kind.
FACETS = {name: {"origin": "origin_kind"}.get(name, name) for name in FacetFilters.model_fields}


PUBLISHED = {"term": {"status": "published"}}


def index_definition(chosen: Mapping[str, Analysis]) -> dict[str, Any]:
    """The index: per language, the title, summary and body as written (for highlights, related
    practices and the title's weight) and copied into one `text.<language>` field with its
    folded sub-field, which queries match (one field per language keeps a query's clauses few:
    Lucene counts each field of each word, at most 1,024 by default); `title_words` holds every
    title's words for the weight of a title match, `title_suggest` each title for suggestions."""
    keyword = {"type": "keyword"}
    return text_index(
        chosen,
        MAPPING_VERSION,
        dict.fromkeys(TEXT_FIELDS, True),
        {
            "title_suggest": {
                "properties": {language: {"type": "search_as_you_type", "analyzer": "words"} for language in chosen}
            },
            **{
                name: keyword
                for name in (
                    "practice_id",
                    "status",
                    "author_ids",
                    "reviewer_id",
                    "origin_reference",
                    *(field for field in FACETS.values() if field != "topics"),
                )
            },
            # Topics are facet values as authors wrote them; their words serve suggestions.
            "topics": {"type": "keyword", "fields": {"words": {"type": "text", "analyzer": "words"}}},
            "author_names": {"type": "text", "fields": {"raw": keyword}},
            "version": {"type": "integer"},
            "published_at": {"type": "date"},
            "updated_at": {"type": "date"},
            "stale": {"type": "boolean"},
            "links": {"type": "keyword", "index": False},
        },
    )


def falls_back(request: SearchRequest) -> bool:
    """Whether a search whose every word found nothing is worth running again for any of them."""
    text = parse(request.q)
    return len(text.words) + len(text.phrases) + len(text.alternatives) > 1


class SearchRequest(FacetFilters):
    """A search of the library: words, facet filters, order and a page."""

    q: str | None = Field(
        None,
        max_length=300,
        description="Words, all of which a hit has (when no practice has them all, those with most of them "
        'come first: see `matched`); "a quoted phrase"; -word or -"a phrase" to leave out what has it; '
        "a OR b for either. Diacritics are optional: a word typed without them also finds it with them, "
        "ranked below exact matches.",
    )
    sort: Literal["relevance", "date"] = "relevance"
    size: int = Field(10, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(None, max_length=1000)
    scope: Literal["public", "mine"] = "public"


def build_query(request: SearchRequest, caller: str | None, all_words: bool = True) -> dict[str, Any]:
    """The search body: with `all_words` (and a cursor that does not say otherwise), a hit has
    every word of the query, else any of them (the fallback when no practice has them all).
    Facets are disjunctive within a field and conjunctive across fields, as library and shop
    catalogues are: the hits match every chosen facet (a post filter, so that the counts are not
    bound by it), and each facet's counts match every chosen facet but its own, so that the
    other values of a chosen facet show what choosing them instead would give."""
    chosen = {name: {"terms": {field: values}} for name, field in FACETS.items() if (values := getattr(request, name))}
    filters: list[dict[str, Any]] = []
    if request.scope == "public":
        filters.append(PUBLISHED)
    else:
        if caller is None:
            raise InvalidInput(("query", "scope"), "scope=mine needs a signed-in caller")
        filters.append(
            {
                "bool": {
                    "should": [{"term": {"author_ids": caller}}, {"term": {"reviewer_id": caller}}],
                    "minimum_should_match": 1,
                }
            }
        )
    text = parse(request.q)
    query = _query(text, filters, all_words)
    sort_by_date = _sorts_by_date(request, text)
    body: dict[str, Any] = {
        "size": request.size + 1,  # one more tells whether a next page has hits
        "track_total_hits": True,
        "query": query,
        "sort": [{"published_at": {"order": "desc", "missing": "_last"}}, {"practice_id": "asc"}]
        if sort_by_date
        else ["_score", {"practice_id": "asc"}],
        "post_filter": {"bool": {"filter": list(chosen.values())}},
        "aggs": {
            name: {
                "filter": {"bool": {"filter": [facet for other, facet in chosen.items() if other != name]}},
                "aggs": {"values": {"terms": {"field": field, "size": 50}}},
            }
            for name, field in FACETS.items()
        },
        "highlight": {
            # The query matches `text.*`; its words are highlighted where they were written, as
            # written and folded (a word typed without its diacritics is found in `.folded`).
            "fields": {name: {} for field in TEXT_FIELDS for name in (f"{field}.*", f"{field}.*.folded")},
            "require_field_match": False,
            "fragment_size": 160,
            "number_of_fragments": 2,
            "encoder": "html",  # the text is the authors': escaped, so that only <em> is markup
        },
        "_source": {"excludes": ["body", "title_suggest"]},  # shown: title and summary
    }
    if request.cursor:
        cursor = decode_cursor(request.cursor, sort_by_date)
        if cursor.any_word:
            body["query"] = _query(text, filters, all_words=False)
        body["search_after"] = cursor.search_after
        if cursor.point_in_time:
            body["pit"] = {"id": cursor.point_in_time, "keep_alive": POINT_IN_TIME_KEEP_ALIVE}
    return body


def _query(text: TextQuery, filters: list[dict[str, Any]], all_words: bool) -> dict[str, Any]:
    query: dict[str, Any] = {"bool": {"must": text_clauses(text, all_words) or [{"match_all": {}}], "filter": filters}}
    if text.excluded:
        query["bool"]["must_not"] = [clause_query(clause) for clause in text.excluded]
    return query


def _sorts_by_date(request: SearchRequest, text: TextQuery | None = None) -> bool:
    return request.sort == "date" or not (text or parse(request.q)).ranks


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: the last hit's sort values, the point in time the page
    sequence reads (None when the node would not open one: then pages follow the live index),
    and whether its pages are those of any word (no practice had every word at its first page)."""

    search_after: list[Any]
    point_in_time: str | None = None
    any_word: bool = False


def encode_cursor(sort_values: list[Any], point_in_time: str | None = None, any_word: bool = False) -> str:
    return base64.urlsafe_b64encode(json.dumps([*sort_values, point_in_time, any_word]).encode()).decode()


def decode_cursor(cursor: str, sort_by_date: bool) -> Cursor:
    """What a cursor carries, checked to be of the kinds this search's order gives out (a number
    then a practice id), so that a forged cursor is a 422, never a failed search."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError as error:
        raise InvalidInput(("query", "cursor"), "the cursor is not one this search gave out") from error
    if not (
        isinstance(values, list)
        and len(values) == 4
        and isinstance(values[1], str)
        and isinstance(values[2], str | None)
        and isinstance(values[3], bool)
    ):
        raise InvalidInput(("query", "cursor"), "the cursor is not one this search gave out")
    position = values[0]
    number = int if sort_by_date else (int, float)
    if isinstance(position, bool) or not isinstance(position, number) or not _within_a_long(position):
        raise InvalidInput(("query", "cursor"), "the cursor is not one this order gave out (see `sort`)")
    return Cursor(values[:2], values[2], values[3])


def reads_any_word(request: SearchRequest) -> bool:
    """Whether the request continues a page sequence of any word (see `Cursor`)."""
    return request.cursor is not None and decode_cursor(request.cursor, _sorts_by_date(request)).any_word


def _within_a_long(value: float) -> bool:
    if isinstance(value, int):  # compared exactly: a 700-digit integer does not fit a float
        return -(2**63) <= value < 2**63
    return math.isfinite(value) and -(2**63) <= value < 2**63


def facet_counts(aggregations: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {
        name: {bucket["key"]: bucket["doc_count"] for bucket in result["values"]["buckets"]}
        for name, result in aggregations.items()
    }
