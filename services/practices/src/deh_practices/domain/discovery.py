"""Finding practices other than by a search: suggestions as a person types (titles of
published practices and topics in the person's language, and the reference vocabularies'
terms where they have labels in it) and the practices related to one (similar text, shared
topics and competences). Queries as data, like domain/search."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from deh_contracts.vocabulary import (
    DIGCOMP_COMPETENCES,
    DIGCOMPEDU_COMPETENCES,
    EU_LANGUAGES,
    ISCED_LEVELS,
    Language,
)
from deh_platform.text_analysis import fold
from deh_practices.domain.search import PUBLISHED, TEXT_FIELDS

MAX_SUGGESTIONS = 20
MAX_RELATED = 20
SuggestionKind = Literal["title", "topic", "digcomp", "digcompedu", "isced_levels"]

# The reference vocabularies' labels, by the facet they filter, in the languages we have them
# in: English only (reference/taxonomies.json); the EU's translations are not carried yet.
VOCABULARY_LABELS: dict[str, dict[SuggestionKind, Mapping[str, str]]] = {
    "en": {"digcomp": DIGCOMP_COMPETENCES, "digcompedu": DIGCOMPEDU_COMPETENCES, "isced_levels": ISCED_LEVELS}
}


class SuggestRequest(BaseModel):
    q: str = Field(min_length=1, max_length=100, description="What the person has typed so far.")
    language: Language = Field(description="The person's language: titles, topics and terms in it.")
    size: int = Field(8, ge=1, le=MAX_SUGGESTIONS)


class Suggestion(BaseModel):
    text: str = Field(description="What to show.")
    kind: SuggestionKind
    value: str = Field(
        description="For a title, the practice's id; for a topic, the topic; for a term, its code: the "
        "value of the search filter of the same name (`topics`, `digcomp`, `digcompedu`, `isced_levels`)."
    )


def folded(text: str) -> str:
    """Lower case without diacritics, to compare what is typed with a label."""
    return fold(text.casefold())


def typed_into(label: str, typed: str) -> bool:
    """Whether the label has the typed words, the last one perhaps not typed to its end."""
    words, label_words = folded(typed).split(), folded(label).split()
    if not words:
        return False
    *whole, last = words
    return all(word in label_words for word in whole) and any(word.startswith(last) for word in label_words)


def suggest_query(request: SuggestRequest) -> dict[str, Any]:
    """Published titles in the language whose words begin as typed (the last word a prefix), and
    the topics of the published practices in that language that have such a title or topic."""
    field = f"title_suggest.{request.language}"
    return {
        "size": request.size,
        "query": {
            "bool": {
                "filter": published_in(request.language),
                "must": [
                    {
                        "multi_match": {
                            "query": request.q,
                            "type": "bool_prefix",
                            "operator": "and",
                            "fields": [field, f"{field}._2gram", f"{field}._3gram"],
                        }
                    }
                ],
            }
        },
        "_source": [f"title.{request.language}"],
        # Topics from every published practice in the language, whatever the titles matched.
        "aggs": {
            "topics": {
                "global": {},
                "aggs": {
                    "typed": {
                        "filter": {
                            "bool": {
                                "filter": [
                                    *published_in(request.language),
                                    {"match_bool_prefix": {"topics.words": {"query": request.q, "operator": "and"}}},
                                ]
                            }
                        },
                        "aggs": {"values": {"terms": {"field": "topics", "size": 50}}},
                    }
                },
            }
        },
    }


def published_in(language: str) -> list[dict[str, Any]]:
    return [PUBLISHED, {"term": {"languages": language}}]


def suggestions(request: SuggestRequest, answer: Mapping[str, Any]) -> list[Suggestion]:
    """Titles first, then topics, then vocabulary terms, each once, at most `size`."""
    found = [
        Suggestion(text=hit["_source"]["title"][request.language], kind="title", value=hit["_id"])
        for hit in answer["hits"]["hits"]
        if request.language in hit["_source"].get("title", {})
    ]
    topics = (bucket["key"] for bucket in answer["aggregations"]["topics"]["typed"]["values"]["buckets"])
    found += [Suggestion(text=topic, kind="topic", value=topic) for topic in topics if typed_into(topic, request.q)]
    found += vocabulary_suggestions(request)
    return _once(found)[: request.size]


def vocabulary_suggestions(request: SuggestRequest) -> list[Suggestion]:
    return [
        Suggestion(text=label, kind=kind, value=code)
        for kind, labels in VOCABULARY_LABELS.get(request.language, {}).items()
        for code, label in labels.items()
        if typed_into(label, request.q)
    ]


def _once(found: Iterable[Suggestion]) -> list[Suggestion]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for suggestion in found:
        if (suggestion.kind, folded(suggestion.text)) not in seen:
            seen.add((suggestion.kind, folded(suggestion.text)))
            unique.append(suggestion)
    return unique


# Related by their text in any language (as written, stemmed) and by what they are about.
# (the fields as written: more-like-this reads the practice's text from its source, which has
# no `text.*`, a copy; it keeps the 25 best terms of all the fields, so the clauses stay few).
RELATED_TEXT_FIELDS = [f"{field}.{language}" for field in TEXT_FIELDS for language in EU_LANGUAGES]
RELATED_BY = {"topics": 2.0, "digcomp": 1.0, "digcompedu": 1.0}


def related_query(practice_id: str, index: str, metadata: Mapping[str, Any], size: int) -> dict[str, Any]:
    """Published practices like this one: text alike (more-like-this on its indexed text) or
    sharing topics and competences, those sharing most first; never itself."""
    shared = [
        {"terms": {name: list(metadata[name]), "boost": boost}}
        for name, boost in RELATED_BY.items()
        if metadata.get(name)
    ]
    return {
        "size": size,
        "query": {
            "bool": {
                "filter": [PUBLISHED],
                "must_not": [{"ids": {"values": [practice_id]}}],
                "should": [
                    {
                        "more_like_this": {
                            "fields": RELATED_TEXT_FIELDS,
                            "like": [{"_index": index, "_id": practice_id}],
                            "min_term_freq": 1,
                            "min_doc_freq": 1,
                            "max_query_terms": 25,
                            "minimum_should_match": "30%",
                        }
                    },
                    *shared,
                ],
                "minimum_should_match": 1,
            }
        },
        "_source": {"excludes": ["body", "title_suggest"]},
    }
