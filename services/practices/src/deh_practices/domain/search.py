"""The practice search, as data: the index definition (one analyzer per EU language) and the
translation of a search request into an OpenSearch query. User text is only ever a `multi_match`
value, never query syntax, and every size is bounded, so no input can break or overload a search."""

from __future__ import annotations

import base64
import json
from typing import Any, Literal

from pydantic import BaseModel, Field

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

MAPPING_VERSION = 1
MAX_PAGE = 50

# OpenSearch's analysis-common analyzers; Polish uses Debian's hunspell dictionary
# (analysis-stempel is not on Maven Central); Croatian, Maltese, Slovak and Slovenian have none.
LANGUAGE_ANALYZERS: dict[str, str] = {
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
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "sv": "swedish",
}
TEXT_FIELDS = ("title", "summary", "body")
FACETS = {
    "countries": "countries",
    "sectors": "sectors",
    "isced_levels": "isced_levels",
    "topics": "topics",
    "digcomp": "digcomp",
    "digcompedu": "digcompedu",
    "languages": "languages",
    "licence": "licence",
    "origin": "origin_kind",
    "result_type": "result_type",
}


def analyzer_for(language: str) -> str:
    return LANGUAGE_ANALYZERS.get(language, "standard")


def index_definition() -> dict[str, Any]:
    per_language = {language: {"type": "text", "analyzer": analyzer_for(language)} for language in EU_LANGUAGES}
    keyword = {"type": "keyword"}
    return {
        "settings": {
            "number_of_shards": 1,
            "number_of_replicas": 0,
            "analysis": {
                "filter": {"polish_hunspell": {"type": "hunspell", "locale": "pl_PL"}},
                "analyzer": {
                    "polish": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "polish_hunspell"]}
                },
            },
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": {"mapping_version": MAPPING_VERSION},
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


class SearchRequest(BaseModel):
    """A search of the library: words, filters, order and a page."""

    q: str | None = Field(None, max_length=300, description="Plain words; operators have no special meaning.")
    countries: list[Country] = []
    sectors: list[Sector] = []
    isced_levels: list[IscedLevel] = []
    topics: list[str] = []
    digcomp: list[DigCompCompetence] = []
    digcompedu: list[DigCompEduCompetence] = []
    languages: list[Language] = []
    licence: list[str] = []
    origin: list[str] = []
    result_type: list[str] = []
    sort: Literal["relevance", "date"] = "relevance"
    size: int = Field(10, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(None, max_length=1000)
    scope: Literal["public", "mine"] = "public"


def build_query(request: SearchRequest, caller: str | None) -> dict[str, Any]:
    filters: list[dict[str, Any]] = [
        {"terms": {FACETS[name]: values}} for name in FACETS if (values := getattr(request, name))
    ]
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
        "size": request.size,
        "track_total_hits": True,
        "query": {"bool": {"must": must, "filter": filters}},
        "sort": [{"published_at": {"order": "desc", "missing": "_last"}}, {"practice_id": "asc"}]
        if sort_by_date
        else ["_score", {"practice_id": "asc"}],
        "aggs": {name: {"terms": {"field": field, "size": 50}} for name, field in FACETS.items()},
        "highlight": {
            "fields": {f"{field}.*": {} for field in TEXT_FIELDS},
            "fragment_size": 160,
            "number_of_fragments": 2,
        },
        "_source": {"excludes": ["body"]},
    }
    if request.cursor:
        body["search_after"] = decode_cursor(request.cursor)
    return body


def encode_cursor(sort_values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(sort_values).encode()).decode()


def decode_cursor(cursor: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError as error:
        raise InvalidInput(("query", "cursor"), "the cursor is not one this search gave out") from error
    if (
        not isinstance(values, list)
        or len(values) != 2
        or not all(isinstance(value, str | int | float) or value is None for value in values)
    ):
        raise InvalidInput(("query", "cursor"), "the cursor is not one this search gave out")
    return values


def facet_counts(aggregations: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {
        name: {bucket["key"]: bucket["doc_count"] for bucket in result["buckets"]}
        for name, result in aggregations.items()
    }
