"""The practice search, as data: the index definition (one analyzer per EU language) and the
translation of a search request into an OpenSearch query. User text is only ever a `multi_match`
value, never query syntax, and every size is bounded, so no input can break or overload a search."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from deh_contracts.catalogue.practices import Licence, OriginKind, ResultType, Topic
from deh_contracts.vocabulary import (
    EU_LANGUAGES,
    Country,
    DigCompCompetence,
    DigCompEduCompetence,
    IscedLevel,
    Language,
    Sector,
)
from deh_platform.errors import InvalidInput

MAPPING_VERSION = 2
MAX_PAGE = 50
MAX_FILTER_VALUES = 20
# How long a page sequence keeps its point in time after each page: its pages all come from the
# library as it was at its first page (no duplicates, nothing skipped when practices are
# published meanwhile). A cursor older than that is refused; the search starts again.
POINT_IN_TIME_KEEP_ALIVE = "2m"


@dataclass(frozen=True)
class Analysis:
    """How one language's text is analysed: a built-in analyzer (no definition) or a custom one
    defined in the index settings from a tokenizer and token filters that node modules provide,
    some of them configured here (`filters`, by name)."""

    name: str
    definition: Mapping[str, Any] | None = None
    filters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


STANDARD = Analysis("standard")

# Per language, the analyses to use, best first: the service takes the first one the node can
# build (see adapters/index.py) and falls back to standard analysis with a warning.
# analysis-common has 20 of them; Polish needs a plugin: Morfologik (a dictionary lemmatizer,
# in the local node's analysis-stempel module) or Stempel (OpenSearch's analysis-stempel plugin,
# `polish`); Croatian, Maltese, Slovak and Slovenian have no analyzer at all.
LANGUAGE_ANALYSES: dict[str, tuple[Analysis, ...]] = {
    **{
        language: (Analysis(analyzer),)
        for language, analyzer in {
            "bg": "bulgarian",
            "cs": "czech",
            "da": "danish",
            "de": "german",
            "el": "greek",
            "en": "english",
            "es": "spanish",
            "et": "estonian",
            "fi": "finnish",
            "fr": "french",
            "ga": "irish",
            "hu": "hungarian",
            "it": "italian",
            "lt": "lithuanian",
            "lv": "latvian",
            "nl": "dutch",
            "pt": "portuguese",
            "ro": "romanian",
            "sv": "swedish",
        }.items()
    },
    "pl": (
        Analysis(
            "polish_morfologik",
            {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["morfologik_stem", "lowercase", "same_position_unique"],
            },
            # A word can have several lemmas at one position, some of them equal once lowercased.
            {"same_position_unique": {"type": "unique", "only_on_same_position": True}},
        ),
        Analysis("polish"),
    ),
}


def wanted_analyses() -> list[Analysis]:
    """Every analysis some language would like, each once."""
    return list({analysis.name: analysis for options in LANGUAGE_ANALYSES.values() for analysis in options}.values())


def choose_analyses(usable: set[str]) -> dict[str, Analysis]:
    """Each EU language's analysis: its best one among those the node can build, else standard."""
    return {
        language: next((a for a in LANGUAGE_ANALYSES.get(language, ()) if a.name in usable), STANDARD)
        for language in EU_LANGUAGES
    }


def degraded_languages(chosen: Mapping[str, Analysis]) -> list[str]:
    """Languages that have an analyzer of their own but fall back to standard analysis here."""
    return sorted(
        language for language, analysis in chosen.items() if analysis == STANDARD and LANGUAGE_ANALYSES.get(language)
    )


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


def index_definition(chosen: Mapping[str, Analysis]) -> dict[str, Any]:
    per_language = {language: {"type": "text", "analyzer": analysis.name} for language, analysis in chosen.items()}
    custom = [analysis for analysis in chosen.values() if analysis.definition]
    analysis_settings = {
        "analyzer": {analysis.name: dict(analysis.definition or {}) for analysis in custom},
        "filter": {name: dict(filter_) for analysis in custom for name, filter_ in analysis.filters.items()},
    }
    keyword = {"type": "keyword"}
    return {
        "settings": {
            "number_of_shards": 1,
            "number_of_replicas": 0,
            **({"analysis": analysis_settings} if custom else {}),
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": {
                "mapping_version": MAPPING_VERSION,
                "analyzers": {language: analysis.name for language, analysis in chosen.items()},
            },
            "properties": {
                **{field: {"properties": per_language} for field in TEXT_FIELDS},
                **{
                    name: keyword
                    for name in (
                        "practice_id",
                        "status",
                        "author_ids",
                        "reviewer_id",
                        "origin_reference",
                        *FACETS.values(),
                    )
                },
                "author_names": {"type": "text", "fields": {"raw": keyword}},
                "version": {"type": "integer"},
                "published_at": {"type": "date"},
                "updated_at": {"type": "date"},
                "stale": {"type": "boolean"},
                "links": {"type": "keyword", "index": False},
            },
        },
    }


class SearchRequest(FacetFilters):
    """A search of the library: words, facet filters, order and a page."""

    q: str | None = Field(None, max_length=300, description="Plain words; operators have no special meaning.")
    sort: Literal["relevance", "date"] = "relevance"
    size: int = Field(10, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(None, max_length=1000)
    scope: Literal["public", "mine"] = "public"


def build_query(request: SearchRequest, caller: str | None) -> dict[str, Any]:
    """The search body. Facets are disjunctive within a field and conjunctive across fields, as
    library and shop catalogues are: the hits match every chosen facet (a post filter, so that
    the counts are not bound by it), and each facet's counts match every chosen facet but its
    own, so that the other values of a chosen facet show what choosing them instead would give."""
    chosen = {name: {"terms": {field: values}} for name, field in FACETS.items() if (values := getattr(request, name))}
    filters: list[dict[str, Any]] = []
    if request.scope == "public":
        filters.append({"term": {"status": "published"}})
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
    text = request.q.strip() if request.q else ""
    must: list[dict[str, Any]] = (
        [
            {
                "multi_match": {
                    "query": text,
                    "fields": ["title.*^3", "summary.*^2", "body.*"],
                    "type": "most_fields",
                    "lenient": True,
                }
            }
        ]
        if text
        else [{"match_all": {}}]
    )
    sort_by_date = request.sort == "date" or not text
    body: dict[str, Any] = {
        "size": request.size + 1,  # one more tells whether a next page has hits
        "track_total_hits": True,
        "query": {"bool": {"must": must, "filter": filters}},
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
            "fields": {f"{field}.*": {} for field in TEXT_FIELDS},
            "fragment_size": 160,
            "number_of_fragments": 2,
        },
        "_source": {"excludes": ["body"]},
    }
    if request.cursor:
        cursor = decode_cursor(request.cursor, sort_by_date)
        body["search_after"] = cursor.search_after
        if cursor.point_in_time:
            body["pit"] = {"id": cursor.point_in_time, "keep_alive": POINT_IN_TIME_KEEP_ALIVE}
    return body


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: the last hit's sort values, and the point in time the page
    sequence reads (None when the node would not open one: then pages follow the live index)."""

    search_after: list[Any]
    point_in_time: str | None = None


def encode_cursor(sort_values: list[Any], point_in_time: str | None = None) -> str:
    values = [*sort_values, *([point_in_time] if point_in_time else [])]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def decode_cursor(cursor: str, sort_by_date: bool) -> Cursor:
    """The sort values a cursor carries, checked to be of the kinds this search's order gives out
    (a number then a practice id, maybe a point in time), so that a forged cursor is a 422,
    never a failed search."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError as error:
        raise InvalidInput(("query", "cursor"), "the cursor is not one this search gave out") from error
    if not (isinstance(values, list) and len(values) in (2, 3) and all(isinstance(v, str) for v in values[1:])):
        raise InvalidInput(("query", "cursor"), "the cursor is not one this search gave out")
    position = values[0]
    number = int if sort_by_date else (int, float)
    if isinstance(position, bool) or not isinstance(position, number) or not _within_a_long(position):
        raise InvalidInput(("query", "cursor"), "the cursor is not one this order gave out (see `sort`)")
    return Cursor(values[:2], values[2] if len(values) == 3 else None)


def _within_a_long(value: float) -> bool:
    if isinstance(value, int):  # compared exactly: a 700-digit integer does not fit a float
        return -(2**63) <= value < 2**63
    return math.isfinite(value) and -(2**63) <= value < 2**63


def facet_counts(aggregations: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {
        name: {bucket["key"]: bucket["doc_count"] for bucket in result["values"]["buckets"]}
        for name, result in aggregations.items()
    }
