"""The practice search, as data: the index definition (one analyzer per EU language) and the
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
    EU_LANGUAGES,
    Country,
    DigCompCompetence,
    DigCompEduCompetence,
    IscedLevel,
    Language,
    Sector,
)
from deh_platform.errors import InvalidInput
from deh_practices.domain.query_text import Clause, TextQuery, parse

MAPPING_VERSION = 3
MAX_PAGE = 50
MAX_FILTER_VALUES = 20
# How long a page sequence keeps its point in time after each page: its pages all come from the
# library as it was at its first page (no duplicates, nothing skipped when practices are
# published meanwhile). A cursor older than that is refused; the search starts again.
POINT_IN_TIME_KEEP_ALIVE = "2m"


@dataclass(frozen=True)
class Analysis:
    """How one language's text is analysed, twice: `exact` keeps diacritics (ranked first), and
    `folded` drops them, so that words typed without diacritics still match. Each is a chain of
    token filters after the standard tokenizer, by name: built into a node module, or configured
    in FILTERS. The folded chain folds before it stems and keeps stop words: the same word with
    and without diacritics then always gives the same term, and a query of stop words alone
    ("to be or not to be") still finds what contains it."""

    name: str
    exact: tuple[str, ...]
    folded: tuple[str, ...]


def _stemmed(name: str, stemmer: str, *, before: tuple[str, ...] = ("lowercase",), stop: str | None = None) -> Analysis:
    """A language's chain from its normalising filters, stop words (`_<language>_` lists) and
    stemmer; its analyzer is `<language>_text` (not the built-in analyzer's name it would hide)."""
    stop_words = (f"{stop or name}_stop",) if stop != "" else ()
    return Analysis(f"{name}_text", (*before, *stop_words, stemmer), (*before, "asciifolding", stemmer))


def _stemmer(language: str) -> dict[str, Any]:
    return {"type": "stemmer", "language": language}


def _light(endings: str) -> dict[str, Any]:
    """A light stemmer for a language Lucene has none for: it removes the longest inflectional
    ending of the list from words of four letters or more, keeping three (a stem as short as
    "šol" for Slovenian "šola" and "šolami"). Vowel changes inside the word are not undone."""
    return {"type": "pattern_replace", "pattern": f"^(.{{3,}}?)(?:{endings})$", "replacement": "$1"}


# The stop-word lists OpenSearch knows by language name.
_STOP_LISTS = [
    "bulgarian",
    "czech",
    "danish",
    "dutch",
    "english",
    "estonian",
    "finnish",
    "french",
    "german",
    "greek",
    "hungarian",
    "irish",
    "italian",
    "latvian",
    "lithuanian",
    "portuguese",
    "romanian",
    "spanish",
    "swedish",
]

FILTERS: dict[str, dict[str, Any]] = {
    **{f"{name}_stop": {"type": "stop", "stopwords": f"_{name}_"} for name in _STOP_LISTS},
    "english_possessive": _stemmer("possessive_english"),
    "french_elision": {
        "type": "elision",
        "articles_case": True,
        "articles": ["l", "m", "t", "qu", "n", "s", "j", "d", "c", "jusqu", "quoiqu", "lorsqu", "puisqu"],
    },
    "italian_elision": {
        "type": "elision",
        "articles": [
            "c",
            "l",
            "all",
            "dall",
            "dell",
            "nell",
            "sull",
            "coll",
            "pell",
            "gl",
            "agl",
            "dagl",
            "degl",
            "negl",
            "sugl",
            "un",
            "m",
            "t",
            "s",
            "v",
            "d",
        ],
    },
    "irish_elision": {"type": "elision", "articles": ["d", "m", "b"]},
    "irish_hyphenation": {"type": "stop", "stopwords": ["h", "n", "t"], "ignore_case": True},
    "irish_lowercase": {"type": "lowercase", "language": "irish"},
    # Greek lowercasing also removes the tonos and makes a final sigma a sigma.
    "greek_lowercase": {"type": "lowercase", "language": "greek"},
    # Lucene's Greek stemmers (its own and Snowball's) cut "-ικ-" from some cases only
    # (εκπαιδευτικός -> εκπαιδευτικ, but εκπαιδευτικών -> εκπαιδευτ): a light stemmer that removes
    # case endings alone gives one stem for every case of nouns and adjectives.
    "greek_light_stem": _light("ουμε|ατων|ατοσ|ατα|εισ|εων|ουσ|ουν|ετε|ασ|εσ|ησ|οσ|ου|ων|οι|ον|ει|α|ε|η|ο|ω"),  # noqa: RUF001
    "slovak_light_stem": _light(
        "iach|ami|ách|ých|ými|ého|ému|ych|ymi|ach|om|ov|ou|mi|ia|ie|iu|ej|ým|ym|ý|á|é|í|a|e|i|o|u|y"
    ),
    "slovenian_light_stem": _light("ami|ama|ega|emu|imi|ih|om|em|ov|ev|ah|im|a|e|i|o|u"),
    "maltese_light_stem": _light("ijiet|iet|ija|iji|in|a|i"),
    # Croatian is Serbo-Croatian in Latin script: the Snowball Serbian stemmer is written for it.
    "croatian_stemmer": {"type": "snowball", "language": "Serbian"},
    # Polish: a word can have several lemmas at one position, some of them equal once lowercased.
    "same_position_unique": {"type": "unique", "only_on_same_position": True},
}

FOLDING = ["lowercase", "asciifolding"]
STANDARD = Analysis("standard_text", ("lowercase",), tuple(FOLDING))

# Per language, the analyses to use, best first: the service takes the first one the node can
# build (see adapters/index.py) and falls back to standard analysis with a warning.
# analysis-common has stemmers for 19 of the 24 official languages; Croatian takes Snowball's
# Serbian; Greek, Slovak, Slovenian and Maltese a light stemmer of ours (FILTERS); Polish needs
# a plugin: Morfologik (a dictionary lemmatizer, in the local node's analysis-polish module) or
# Stempel (`polish_stem`, also in OpenSearch's analysis-stempel plugin). Morfologik knows only
# words with their diacritics: Polish folded text is stemmed by Stempel.
LANGUAGE_ANALYSES: dict[str, tuple[Analysis, ...]] = {
    "bg": (_stemmed("bulgarian", "bulgarian_stemmer"),),
    "cs": (_stemmed("czech", "czech_stemmer"),),
    "da": (_stemmed("danish", "danish_stemmer"),),
    "de": (_stemmed("german", "light_german_stemmer", before=("lowercase", "german_normalization")),),
    "el": (_stemmed("greek", "greek_light_stem", before=("greek_lowercase",)),),
    "en": (_stemmed("english", "english_stemmer", before=("english_possessive", "lowercase")),),
    "es": (_stemmed("spanish", "light_spanish_stemmer"),),
    "et": (_stemmed("estonian", "estonian_stemmer"),),
    "fi": (_stemmed("finnish", "finnish_stemmer"),),
    "fr": (_stemmed("french", "light_french_stemmer", before=("french_elision", "lowercase")),),
    "ga": (_stemmed("irish", "irish_stemmer", before=("irish_hyphenation", "irish_elision", "irish_lowercase")),),
    "hr": (_stemmed("croatian", "croatian_stemmer", stop=""),),
    "hu": (_stemmed("hungarian", "hungarian_stemmer"),),
    "it": (_stemmed("italian", "light_italian_stemmer", before=("italian_elision", "lowercase")),),
    "lt": (_stemmed("lithuanian", "lithuanian_stemmer"),),
    "lv": (_stemmed("latvian", "latvian_stemmer"),),
    "mt": (_stemmed("maltese", "maltese_light_stem", stop=""),),
    "nl": (_stemmed("dutch", "dutch_stemmer"),),
    "pl": (
        Analysis(
            "polish_morfologik",
            ("morfologik_stem", "lowercase", "same_position_unique"),
            ("lowercase", "asciifolding", "polish_stem"),
        ),
        _stemmed("polish", "polish_stem", stop=""),
    ),
    "pt": (_stemmed("portuguese", "light_portuguese_stemmer"),),
    "ro": (_stemmed("romanian", "romanian_stemmer"),),
    "sk": (_stemmed("slovak", "slovak_light_stem", stop=""),),
    "sl": (_stemmed("slovenian", "slovenian_light_stem", stop=""),),
    "sv": (_stemmed("swedish", "swedish_stemmer"),),
}

# The stemmers analysis-common has, configured by the name the chains use.
for _language in [
    "bulgarian",
    "czech",
    "danish",
    "dutch",
    "english",
    "estonian",
    "finnish",
    "hungarian",
    "irish",
    "latvian",
    "lithuanian",
    "romanian",
    "swedish",
    "light_german",
    "light_spanish",
    "light_french",
    "light_italian",
    "light_portuguese",
]:
    FILTERS[f"{_language}_stemmer"] = _stemmer(_language)


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


def analysis_chain(filters: tuple[str, ...]) -> dict[str, Any]:
    """A chain as `_analyze` takes it: configured filters inline, built-in ones by name."""
    return {"tokenizer": "standard", "filter": [FILTERS.get(name, name) for name in filters]}


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
    per_language = {
        language: {
            "type": "text",
            "analyzer": analysis.name,
            "fields": {"folded": {"type": "text", "analyzer": f"{analysis.name}_folded"}},
        }
        for language, analysis in chosen.items()
    }
    analyses = {analysis.name: analysis for analysis in chosen.values()}
    analyzers = {
        name: {"type": "custom", "tokenizer": "standard", "filter": list(filters)}
        for analysis in analyses.values()
        for name, filters in ((analysis.name, analysis.exact), (f"{analysis.name}_folded", analysis.folded))
    }
    used = {name for analyzer in analyzers.values() for name in analyzer["filter"]}
    analysis_settings = {
        # Suggestions match what is typed, word by word, without stemming, diacritics optional.
        "analyzer": {**analyzers, "suggest_text": {"type": "custom", "tokenizer": "standard", "filter": FOLDING}},
        "filter": {name: FILTERS[name] for name in sorted(used & FILTERS.keys())},
    }
    keyword = {"type": "keyword"}
    return {
        "settings": {
            "number_of_shards": 1,
            "number_of_replicas": 0,
            "analysis": analysis_settings,
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
                # Topics are facet values as authors wrote them; their words serve suggestions.
                "topics": {"type": "keyword", "fields": {"words": {"type": "text", "analyzer": "suggest_text"}}},
                "title_suggest": {
                    "properties": {
                        language: {"type": "search_as_you_type", "analyzer": "suggest_text"} for language in chosen
                    }
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


# The fields a query searches, per language: the exact text first, then the diacritic-free
# text at half the weight, so that an exact match ranks above one that needed folding.
_WEIGHTS = {"title": 3.0, "summary": 2.0, "body": 1.0}
TEXT_QUERY_FIELDS = [
    f"{name}.{language}{suffix}^{weight * factor:g}"
    for suffix, factor in (("", 1.0), (".folded", 0.5))
    for name, weight in _WEIGHTS.items()
    for language in EU_LANGUAGES
]


def text_clauses(text: TextQuery, all_words: bool) -> list[dict[str, Any]]:
    """The query's wanted words, phrases and alternatives as OpenSearch clauses. The words are
    one cross-field query: each language's fields count as one (a word in the title and another
    in the summary both match) and the languages are alternatives, so that a word that is a
    stop word in one language (and dropped there) is still wanted in another."""
    clauses: list[dict[str, Any]] = []
    if text.words:
        clauses.append(_words(" ".join(text.words), "and" if all_words else "or"))
    clauses.extend(_clause_query(Clause(phrase, phrase=True)) for phrase in text.phrases)
    clauses.extend(
        {"bool": {"should": [_clause_query(clause) for clause in group], "minimum_should_match": 1}}
        for group in text.alternatives
    )
    if not all_words and len(clauses) > 1:  # any of them, those with more of them first
        return [{"bool": {"should": clauses, "minimum_should_match": 1}}]
    return clauses


def _words(words: str, operator: str) -> dict[str, Any]:
    return {
        "multi_match": {
            "query": words,
            "fields": TEXT_QUERY_FIELDS,
            "type": "cross_fields",
            "operator": operator,
            "lenient": True,
        }
    }


def _clause_query(clause: Clause) -> dict[str, Any]:
    if not clause.phrase:
        return _words(clause.text, "and")
    return {"multi_match": {"query": clause.text, "fields": TEXT_QUERY_FIELDS, "type": "phrase", "lenient": True}}


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
    """The search body: with `all_words`, a hit has every word of the query, else any of them
    (the fallback when no practice has them all). Facets are disjunctive within a field and conjunctive
    across fields, as library and shop catalogues are: the hits match every chosen facet (a post filter, so that
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
    text = parse(request.q)
    query: dict[str, Any] = {"bool": {"must": text_clauses(text, all_words) or [{"match_all": {}}], "filter": filters}}
    if text.excluded:
        query["bool"]["must_not"] = [_clause_query(clause) for clause in text.excluded]
    sort_by_date = request.sort == "date" or not text.ranks
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
            "fields": {f"{field}.*": {} for field in TEXT_FIELDS},
            "fragment_size": 160,
            "number_of_fragments": 2,
        },
        "_source": {"excludes": ["body", "title_suggest"]},
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
