"""What a person types into the search box, read the way web and library search engines read
it: words that must all match, "quoted phrases", -exclusions and OR between alternatives.
Anything else is a word: a query is never an error because of its syntax, and the words reach
OpenSearch only as text to analyse, never as query syntax (`text_clauses`: `multi_match` values
only)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from deh_contracts.vocabulary import EU_LANGUAGES
from deh_platform.errors import InvalidInput

MAX_TERMS = 20
# How long a page sequence keeps its point in time after each page: its pages all come from the
# index as it was at its first page (no duplicates, nothing skipped when documents change
# meanwhile). A cursor older than that is refused; the search starts again.
POINT_IN_TIME_KEEP_ALIVE = "2m"
_TOKEN = re.compile(r'(?P<minus>-?)"(?P<phrase>[^"]*)"?|(?P<word>\S+)')
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Clause:
    """A word, or a phrase (its words in this order, next to each other)."""

    text: str
    phrase: bool = False


@dataclass(frozen=True)
class TextQuery:
    """The words that must match (each of them, unless the search falls back to any of them),
    the groups of alternatives (one of each group must match) and the excluded clauses."""

    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    alternatives: list[list[Clause]] = field(default_factory=list)
    excluded: list[Clause] = field(default_factory=list)

    @property
    def ranks(self) -> bool:
        """Whether anything in it says what is wanted (exclusions alone only filter)."""
        return bool(self.words or self.phrases or self.alternatives)


def parse(text: str | None) -> TextQuery:
    """Read the search box. `a b` needs both words, `"a b"` the phrase, `-a` and `-"a b"` keep out
    what has it, `a OR b` needs one of them (OR in capitals, between two clauses; elsewhere it is
    the word "or"). A quote left open runs to the end."""
    items: list[Clause | str] = []  # clauses, "-" before an excluded one, "OR" between alternatives
    excluded: list[Clause] = []
    for match in _TOKEN.finditer(text or ""):
        if match["word"] is not None:
            word = match["word"]
            if word == "OR":
                items.append("OR")
            elif word.startswith("-") and len(word) > 1:
                excluded.append(Clause(word[1:]))
                items.append("-")
            elif word != "-":
                items.append(Clause(word))
        elif phrase := match["phrase"].strip():
            if match["minus"]:
                excluded.append(Clause(phrase, phrase=True))
                items.append("-")
            else:
                items.append(Clause(phrase, phrase=True))
    query = TextQuery(excluded=excluded)
    for group in _alternatives(items):
        if len(group) > 1:
            query.alternatives.append(group)
        elif group[0].phrase:
            query.phrases.append(group[0].text)
        else:
            query.words.append(group[0].text)
    terms = sum(_terms(clause) for clause in [*items, *excluded] if isinstance(clause, Clause))
    if terms > MAX_TERMS:
        raise InvalidInput(("query", "q"), f"at most {MAX_TERMS} words in one search (a phrase counts as one)")
    return query


def _terms(clause: Clause) -> int:
    """What a clause costs the query: a phrase one, a word one per word in it ("e-learning" is
    two, as the tokenizer makes it; each letter of Chinese or Japanese writing is one)."""
    if clause.phrase:
        return 1
    return sum(
        sum(1 for letter in run if unicodedata.east_asian_width(letter) == "W") or 1
        for run in _WORD.findall(clause.text)
    )


def _alternatives(items: list[Clause | str]) -> list[list[Clause]]:
    """The wanted clauses, those joined by OR in one group: `a OR b c` is [[a, b], [c]]."""
    groups: list[list[Clause]] = []
    joining = False
    for previous, item in zip([None, *items], items, strict=False):
        if item == "OR":
            joining = isinstance(previous, Clause) and bool(groups)
        elif isinstance(item, Clause):
            if joining:
                groups[-1].append(item)
            else:
                groups.append([item])
            joining = False
        else:  # an exclusion stands between: what follows is not an alternative
            joining = False
    return groups


# The fields a query matches, per language: the text as written, then folded at half the
# weight, so that an exact match ranks above one that needed folding; a match in a title
# weighs twice more. A word costs 49 clauses (MAX_TERMS words: 980 of Lucene's 1,024).
TEXT_QUERY_FIELDS = [f"text.{language}" for language in EU_LANGUAGES] + [
    f"text.{language}.folded^0.5" for language in EU_LANGUAGES
]
TITLE_WEIGHT = 2.0


def text_clauses(text: TextQuery, all_words: bool) -> list[dict[str, Any]]:
    """The query's wanted words, phrases and alternatives as OpenSearch clauses, for an index
    with one `text.<language>` field per language (`text_analysis.text_by_language`) and
    `title_words`. The words must all be in one language's text, as written or folded; a word
    that is a stop word in a language is dropped there only. Without `all_words`, any of them,
    those with more of them first."""
    clauses: list[dict[str, Any]] = []
    if text.words:
        clauses.append(_words(" ".join(text.words), "and" if all_words else "or"))
    clauses.extend(clause_query(Clause(phrase, phrase=True)) for phrase in text.phrases)
    clauses.extend(
        {"bool": {"should": [clause_query(clause) for clause in group], "minimum_should_match": 1}}
        for group in text.alternatives
    )
    if not all_words and len(clauses) > 1:
        return [{"bool": {"should": clauses, "minimum_should_match": 1}}]
    return clauses


def _words(words: str, operator: str) -> dict[str, Any]:
    return {
        "bool": {
            "must": [
                {"multi_match": {"query": words, "fields": TEXT_QUERY_FIELDS, "operator": operator, "lenient": True}}
            ],
            "should": [{"match": {"title_words": {"query": words, "boost": TITLE_WEIGHT}}}],
        }
    }


def clause_query(clause: Clause) -> dict[str, Any]:
    if not clause.phrase:
        return _words(clause.text, "and")
    return {
        "bool": {
            "must": [
                {"multi_match": {"query": clause.text, "fields": TEXT_QUERY_FIELDS, "type": "phrase", "lenient": True}}
            ],
            "should": [{"match_phrase": {"title_words": {"query": clause.text, "boost": TITLE_WEIGHT}}}],
        }
    }
