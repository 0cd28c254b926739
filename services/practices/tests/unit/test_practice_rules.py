"""Practice rules without servers: the workflow, the review form, metadata checks and the
translation of a search request into a safe OpenSearch query."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pydantic import ValidationError

from deh_contracts.catalogue.practices import PracticeMetadata
from deh_platform.errors import Conflict, InvalidInput
from deh_platform.query_text import MAX_TERMS, POINT_IN_TIME_KEEP_ALIVE, TEXT_QUERY_FIELDS
from deh_platform.text_analysis import (
    FILTERS,
    LANGUAGE_ANALYSES,
    STANDARD,
    choose_analyses,
    degraded_languages,
    wanted_analyses,
)
from deh_practices.domain.practices import (
    CRITERIA,
    Review,
    as_terms,
    is_web_address,
    kept_public,
    metadata_problems,
    public_view,
    require,
    require_archivable,
    status_after_edit,
    status_after_review,
)
from deh_practices.domain.search import (
    Cursor,
    SearchRequest,
    build_query,
    decode_cursor,
    encode_cursor,
    falls_back,
    index_definition,
)

pytestmark = pytest.mark.unit

SCORES = dict.fromkeys(CRITERIA, 4)


def metadata(**overrides: object) -> PracticeMetadata:
    fields: dict[str, object] = {
        "title": {"en": "Coding clubs"},
        "summary": {"en": "After school"},
        "languages": ["en"],
        "licence": "CC-BY-4.0",
        "result_type": "handbook",
        "origin": {"kind": "community"},
        **overrides,
    }
    return PracticeMetadata.model_validate(fields)


def test_the_workflow_allows_only_its_steps() -> None:
    require("submit", "draft")
    require("review", "in_review")
    with pytest.raises(Conflict):
        require("edit", "in_review")
    with pytest.raises(Conflict):
        require("submit", "published")


PUBLISHED: dict[str, Any] = {
    "status": "published",
    "version": 2,
    "metadata": {"title": {"en": "Coding clubs"}},
    "body": "Find a room.",
    "published_at": "2026-01-01",
    "reviewer_id": "reviewer-1",
    "last_reviewed_at": "2026-01-01",
    "stale": False,
    "versions": [{"version": 1}, {"version": 2}],
    "published_versions": [2],
}


def test_a_published_practice_stays_public_as_published_while_its_next_version_is_edited() -> None:
    edited = {
        **PUBLISHED,
        "status": "in_review",
        "version": 3,
        "body": "Find a bigger room.",
        "public": kept_public(PUBLISHED),
        "versions": [*PUBLISHED["versions"], {"version": 3}],
    }
    seen = public_view(edited)

    assert seen is not None
    assert (seen["status"], seen["version"], seen["body"]) == ("published", 2, "Find a room.")
    assert seen["versions"] == [{"version": 2}], "no unpublished version"
    assert seen["reviewer_id"] == "reviewer-1", "the review that published it"
    assert kept_public({**edited, "status": "changes_requested"}) == edited["public"], "edited again: kept still"
    assert status_after_review("in_review", "reject", public_kept=True) == "published"
    require_archivable(edited)


def test_a_practice_never_published_is_seen_by_nobody_but_its_people_and_is_not_archived() -> None:
    draft = {**PUBLISHED, "status": "submitted"}
    assert public_view(draft) is None
    assert public_view({**PUBLISHED, "status": "archived", "public": None}) is None
    with pytest.raises(Conflict):
        require_archivable(draft)


def test_review_decisions_lead_where_expected() -> None:
    assert status_after_review("in_review", "publish") == "published"
    assert status_after_review("in_review", "request_changes") == "changes_requested"
    assert status_after_review("in_review", "reject") == "rejected"
    assert status_after_review("published", "reject") == "archived", "a failed re-review archives"
    assert status_after_edit("published") == "submitted"
    assert status_after_edit("draft") == "draft"


def test_a_review_scores_every_criterion_from_1_to_5_and_explains_a_refusal() -> None:
    Review(scores=SCORES, decision="publish")
    with pytest.raises(ValidationError, match="missing scores: clarity"):
        Review(scores={name: 3 for name in CRITERIA if name != "clarity"}, decision="publish")
    with pytest.raises(ValidationError, match="scores must be 1 to 5"):
        Review(scores={**SCORES, "relevance": 6}, decision="publish")
    with pytest.raises(ValidationError, match="comments are required"):
        Review(scores=SCORES, decision="reject")


def test_metadata_problems_are_all_reported() -> None:
    problems = metadata_problems(
        metadata(title={"fr": "Clubs"}, links=["ftp://x", "https://ok.example.eu"], origin={"kind": "eu_project"})
    )

    assert [problem.location for problem in problems] == [
        "metadata.title.fr",
        "metadata.links.0",
        "metadata.origin.reference",
    ]


def matched(clause: dict[str, Any]) -> dict[str, Any]:
    """The text match of a clause (its other part weighs a match in a title)."""
    match: dict[str, Any] = clause["bool"]["must"][0]["multi_match"]
    return match


def test_user_words_are_only_ever_a_match_value() -> None:
    query = build_query(SearchRequest(q='title:(a OR b) AND "x', sectors=["school"]), caller=None)

    text = json.dumps(query)
    assert "query_string" not in text
    words, phrase, alternatives = query["query"]["bool"]["must"]
    assert matched(words)["query"] == "AND"
    assert [matched(clause)["query"] for clause in alternatives["bool"]["should"]] == ["title:(a", "b)"]
    assert matched(phrase) | {"type": "phrase", "query": "x"} == matched(phrase)
    assert {"term": {"status": "published"}} in query["query"]["bool"]["filter"]
    assert {"terms": {"sectors": ["school"]}} in query["post_filter"]["bool"]["filter"]
    assert "from" not in query


def test_every_word_is_wanted_unless_the_search_falls_back_to_any_of_them() -> None:
    request = SearchRequest(q='digital teachers "coding club" -tablets')
    every = build_query(request, caller=None)["query"]["bool"]
    anyone = build_query(request, caller=None, all_words=False)["query"]["bool"]

    assert matched(every["must"][0])["operator"] == "and"
    assert len(every["must"]) == 2, "the words, then the phrase"
    assert matched(anyone["must"][0]["bool"]["should"][0])["operator"] == "or"
    assert anyone["must"][0]["bool"]["minimum_should_match"] == 1
    assert every["must_not"] == anyone["must_not"], "an exclusion stays one"
    assert falls_back(request)
    assert not falls_back(SearchRequest(q="teachers -tablets"))


def test_exact_text_outweighs_folded_text_and_a_word_costs_few_clauses() -> None:
    weights = {field.split("^")[0]: float(field.split("^")[1]) if "^" in field else 1.0 for field in TEXT_QUERY_FIELDS}
    assert weights["text.lv"] > weights["text.lv.folded"]
    assert len(TEXT_QUERY_FIELDS) + 1 <= 1024 // MAX_TERMS, "Lucene's default limit of clauses"


def test_a_facets_counts_take_every_chosen_facet_into_account_but_its_own() -> None:
    query = build_query(SearchRequest(sectors=["school"], countries=["LV", "EE"]), caller=None)

    assert query["post_filter"]["bool"]["filter"] == [
        {"terms": {"countries": ["LV", "EE"]}},
        {"terms": {"sectors": ["school"]}},
    ], "the hits match every chosen facet"
    assert query["aggs"]["sectors"]["filter"]["bool"]["filter"] == [{"terms": {"countries": ["LV", "EE"]}}]
    assert query["aggs"]["countries"]["filter"]["bool"]["filter"] == [{"terms": {"sectors": ["school"]}}]
    both = [{"terms": {"countries": ["LV", "EE"]}}, {"terms": {"sectors": ["school"]}}]
    assert query["aggs"]["languages"]["filter"]["bool"]["filter"] == both


def test_sizes_are_bounded_and_mine_needs_a_caller() -> None:
    with pytest.raises(ValidationError):
        SearchRequest(size=51)
    with pytest.raises(ValidationError):
        SearchRequest(q="x" * 301)
    with pytest.raises(InvalidInput):
        build_query(SearchRequest(scope="mine"), caller=None)


def test_cursors_round_trip_and_foreign_ones_are_refused() -> None:
    assert decode_cursor(encode_cursor([1.5, "p-1"]), sort_by_date=False) == Cursor([1.5, "p-1"])
    assert decode_cursor(encode_cursor([1767225600000, "p-1"]), sort_by_date=True) == Cursor([1767225600000, "p-1"])
    with_a_point_in_time = decode_cursor(encode_cursor([1.5, "p-1"], "pit-7"), sort_by_date=False)
    assert with_a_point_in_time == Cursor([1.5, "p-1"], "pit-7")
    body = build_query(SearchRequest(q="x", cursor=encode_cursor([1.5, "p-1"], "pit-7")), caller=None)
    assert body["pit"] == {"id": "pit-7", "keep_alive": POINT_IN_TIME_KEEP_ALIVE}
    assert body["search_after"] == [1.5, "p-1"]
    foreign = (
        "%%%",
        encode_cursor([{"script": 1}, "x"]),
        encode_cursor([1, 2, 3]),
        encode_cursor(["x", "y"]),
        encode_cursor([1, "p-1", "pit", "more"]),
    )
    for cursor in foreign:
        with pytest.raises(InvalidInput):
            decode_cursor(cursor, sort_by_date=False)


def test_a_cursor_of_the_wrong_kinds_for_the_order_is_refused_not_sent_to_the_search() -> None:
    for values in ([1.5, "p-1"], [True, "p-1"], [2**64, "p-1"], [10**700, "p-1"]):
        with pytest.raises(InvalidInput):
            decode_cursor(encode_cursor(values), sort_by_date=True)
    with pytest.raises(InvalidInput):
        decode_cursor(base64.urlsafe_b64encode(b'[Infinity, "p-1"]').decode(), sort_by_date=False)


def test_every_eu_language_has_a_field_with_its_best_usable_analyzer_and_a_folded_one() -> None:
    everything = {analysis.name for analysis in wanted_analyses()}
    definition = index_definition(choose_analyses(everything))
    title = definition["mappings"]["properties"]["title"]["properties"]
    analyzers = definition["settings"]["analysis"]["analyzer"]

    assert len(title) == 24
    assert title["de"]["analyzer"] == "german_text"
    assert title["pl"]["analyzer"] == "polish_morfologik"
    assert title["lv"]["copy_to"] == ["text.lv", "title_words"]
    text = definition["mappings"]["properties"]["text"]["properties"]
    assert text["lv"]["fields"]["folded"]["analyzer"] == "latvian_text_folded"
    assert analyzers["latvian_text"]["filter"] == ["lowercase", "latvian_stop", "latvian_stemmer"]
    assert analyzers["latvian_text_folded"]["filter"] == ["lowercase", "asciifolding", "latvian_stemmer"]
    assert set(definition["settings"]["analysis"]["filter"]) <= set(FILTERS)


def test_a_language_whose_analyzers_are_missing_falls_back_to_standard_and_is_reported() -> None:
    without_polish = {analysis.name for analysis in wanted_analyses()} - {"polish_morfologik", "polish_text"}
    only_stempel = without_polish | {"polish_text"}

    assert choose_analyses(only_stempel)["pl"].name == "polish_text"
    chosen = choose_analyses(without_polish)
    assert chosen["pl"] == STANDARD
    assert degraded_languages(chosen) == ["pl"]
    assert "polish_morfologik" not in index_definition(chosen)["settings"]["analysis"]["analyzer"]
    # Languages without any analyzer of their own are not a degradation.
    assert degraded_languages(choose_analyses(only_stempel)) == []
    assert degraded_languages(choose_analyses(set())) == sorted(LANGUAGE_ANALYSES)


@pytest.mark.parametrize(
    ("link", "web"),
    [
        ("https://example.org/guide", True),
        ("http://example.org:8080/a?b=c", True),
        ("https://", False),
        ("https:///path", False),
        ("ftp://example.org", False),
        ("example.org/guide", False),
        ("https://exa mple.org", False),
        ("https://example.org:99999", False),
        ("javascript:alert(1)", False),
    ],
)
def test_a_link_is_an_absolute_web_address(link: str, web: bool) -> None:
    assert is_web_address(link) is web


def test_free_text_target_groups_and_accessibility_features_become_the_terms_they_name() -> None:
    assert as_terms("target_groups", ["Teachers", "pupils", "teacher", "everyone"]) == ["teacher", "student"]
    assert as_terms("accessibility_features", ["captions", " Subtitles ", "aria", "easy read"]) == ["captions", "ARIA"]
