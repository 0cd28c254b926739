"""The search box reads words, "phrases", -exclusions and OR the way people know from web search."""

from __future__ import annotations

import pytest

from deh_platform.errors import InvalidInput
from deh_platform.query_text import MAX_TERMS, Clause, TextQuery, parse


def test_plain_words_are_all_wanted() -> None:
    assert parse("digital training for teachers") == TextQuery(words=["digital", "training", "for", "teachers"])


def test_quotes_make_a_phrase_and_a_quote_left_open_runs_to_the_end() -> None:
    assert parse('"digital training" teachers') == TextQuery(words=["teachers"], phrases=["digital training"])
    assert parse('teachers "digital training') == TextQuery(words=["teachers"], phrases=["digital training"])


def test_a_minus_before_a_word_or_a_phrase_excludes_it_but_not_inside_a_word() -> None:
    assert parse('e-learning -tablets -"mobile phones"') == TextQuery(
        words=["e-learning"], excluded=[Clause("tablets"), Clause("mobile phones", phrase=True)]
    )


def test_or_in_capitals_joins_the_clauses_next_to_it() -> None:
    assert parse('robotics OR "coding club" OR stem teachers') == TextQuery(
        words=["teachers"],
        alternatives=[[Clause("robotics"), Clause("coding club", phrase=True), Clause("stem")]],
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("to be or not to be", ["to", "be", "or", "not", "to", "be"]),  # lower case: a word
        ("OR teachers", ["teachers"]),  # nothing before it to join
        ("teachers OR", ["teachers"]),
        ("-tablets OR teachers", ["teachers"]),  # an exclusion is not an alternative
        ("- teachers", ["teachers"]),
    ],
)
def test_or_and_minus_where_they_join_nothing_are_ignored(text: str, words: list[str]) -> None:
    assert parse(text).words == words


def test_exclusions_alone_rank_nothing_and_empty_text_is_no_query() -> None:
    assert not parse("-tablets").ranks
    assert parse("  ") == TextQuery()
    assert parse(None) == TextQuery()
    assert parse('""') == TextQuery()


@pytest.mark.parametrize(
    "too_many",
    [
        " ".join(["word"] * (MAX_TERMS + 1)),
        "-".join(["word"] * (MAX_TERMS + 1)),  # one word to the parser, many to the tokenizer
        " ".join(f"-word{n}" for n in range(MAX_TERMS + 1)),
        "教" * (MAX_TERMS + 1),  # each ideograph is a word
    ],
)
def test_a_query_is_bounded_in_its_words_as_the_tokenizer_counts_them(too_many: str) -> None:
    parse(" ".join(["word"] * MAX_TERMS))
    parse(" ".join(f'"a phrase of words {n}"' for n in range(MAX_TERMS)))  # a phrase counts as one
    with pytest.raises(InvalidInput):
        parse(too_many)
