"""How the text of each official EU language is analysed for search, for every service that
searches text people write (practices; community threads next): a chain of token filters per
language (stop words, a stemmer), twice: as written, and folded to ASCII so that words typed
without diacritics still match. The chains are data; `search_node.usable_analyses` asks the
OpenSearch node which of them it can build, and a service's index definition puts those in its
mapping."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deh_contracts.vocabulary import EU_LANGUAGES


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


# Letters that Unicode does not decompose into a base letter and a diacritic.
_UNDECOMPOSED = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "æ": "ae", "œ": "oe"})


def fold(text: str) -> str:
    """Text without its diacritics, as `asciifolding` makes it (for the languages we have)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    return "".join(character for character in decomposed if not unicodedata.combining(character))


def _light(endings: str) -> dict[str, Any]:
    """A light stemmer for a language Lucene has none for: it removes the longest inflectional
    ending of the list from words of four letters or more, keeping three (a stem as short as
    "šol" for Slovenian "šola" and "šolami"). Vowel changes inside the word are not undone."""
    return {"type": "pattern_replace", "pattern": f"^(.{{3,}}?)(?:{endings})$", "replacement": "$1"}


# Case endings of the languages stemmed by `_light` (after lowercasing; Greek lowercasing also
# removes the tonos and makes a final sigma a sigma). Lucene's Greek stemmers (its own and
# Snowball's) cut "-ικ-" from some cases only (εκπαιδευτικός -> εκπαιδευτικ, but εκπαιδευτικών
# -> εκπαιδευτ): case endings alone give one stem for every case of nouns and adjectives.
LIGHT_ENDINGS = {
    "greek": "ουμε|ατων|ατοσ|ατα|εισ|εων|ουσ|ουν|ετε|ασ|εσ|ησ|οσ|ου|ων|οι|ον|ει|α|ε|η|ο|ω",  # noqa: RUF001
    "slovak": "iach|ami|ách|ých|ými|ého|ému|ych|ymi|ach|om|ov|ou|mi|ia|ie|iu|ej|ým|ym|ý|á|é|í|ú|a|e|i|o|u|y",
    "slovenian": "ami|ama|ega|emu|imi|ih|om|em|ov|ev|ah|im|a|e|i|o|u",
    "maltese": "ijiet|iet|ija|iji|in|a|i",
}


def _light_stemmers() -> dict[str, dict[str, Any]]:
    """Each light stemmer, and for the folded chains the same endings folded (`ého` is `eho`
    there), where folding changes them."""
    stemmers = {}
    for language, endings in LIGHT_ENDINGS.items():
        stemmers[f"{language}_light_stem"] = _light(endings)
        folded = "|".join(dict.fromkeys(fold(ending) for ending in endings.split("|")))
        if folded != endings:
            stemmers[f"{language}_light_stem_folded"] = _light(folded)
    return stemmers


# The languages whose stop words and stemmer analysis-common has: the stemmer's name (the light
# one where the built-in analyzer takes it; Greek takes ours).
_BUILT_IN = {
    "bulgarian": "bulgarian",
    "czech": "czech",
    "danish": "danish",
    "dutch": "dutch",
    "english": "english",
    "estonian": "estonian",
    "finnish": "finnish",
    "french": "light_french",
    "german": "light_german",
    "greek": None,
    "hungarian": "hungarian",
    "irish": "irish",
    "italian": "light_italian",
    "latvian": "latvian",
    "lithuanian": "lithuanian",
    "portuguese": "light_portuguese",
    "romanian": "romanian",
    "spanish": "light_spanish",
    "swedish": "swedish",
}

FILTERS: dict[str, dict[str, Any]] = {
    **{f"{name}_stop": {"type": "stop", "stopwords": f"_{name}_"} for name in _BUILT_IN},
    **{f"{name}_stemmer": {"type": "stemmer", "language": name} for name in _BUILT_IN.values() if name},
    **_light_stemmers(),
    "english_possessive": {"type": "stemmer", "language": "possessive_english"},
    "french_elision": {
        "type": "elision",
        "articles_case": True,
        "articles": ["l", "m", "t", "qu", "n", "s", "j", "d", "c", "jusqu", "quoiqu", "lorsqu", "puisqu"],
    },
    "italian_elision": {
        "type": "elision",
        "articles": "c l all dall dell nell sull coll pell gl agl dagl degl negl sugl un m t s v d".split(),  # noqa: SIM905
    },
    "irish_elision": {"type": "elision", "articles": ["d", "m", "b"]},
    "irish_hyphenation": {"type": "stop", "stopwords": ["h", "n", "t"], "ignore_case": True},
    "irish_lowercase": {"type": "lowercase", "language": "irish"},
    "greek_lowercase": {"type": "lowercase", "language": "greek"},
    # Croatian is Serbo-Croatian in Latin script: the Snowball Serbian stemmer is written for it.
    "croatian_stemmer": {"type": "snowball", "language": "Serbian"},
    # Polish: a word can have several lemmas at one position, some of them equal once lowercased.
    "same_position_unique": {"type": "unique", "only_on_same_position": True},
}


def _stemmed(
    name: str,
    stemmer: str,
    *,
    before: tuple[str, ...] = ("lowercase",),
    stop: bool = True,
    after_stop: tuple[str, ...] = (),
) -> Analysis:
    """A language's chain: normalising filters, stop words (the `_<language>_` list), filters that
    must see the words after the stop filter (which knows them as written), the stemmer. Its
    analyzer is `<language>_text` (not the name of the built-in analyzer it would hide)."""
    stop_words = (f"{name}_stop",) if stop else ()
    folded_stemmer = f"{stemmer}_folded" if f"{stemmer}_folded" in FILTERS else stemmer
    return Analysis(
        f"{name}_text",
        (*before, *stop_words, *after_stop, stemmer),
        (*before, *after_stop, "asciifolding", folded_stemmer),
    )


FOLDING = ["lowercase", "asciifolding"]
STANDARD = Analysis("standard_text", ("lowercase",), tuple(FOLDING))

# Per language, the analyses to use, best first: the service takes the first one the node can
# build (see adapters/index.py) and falls back to standard analysis with a warning.
# analysis-common has stemmers for 19 of the 24 official languages; Croatian takes Snowball's
# Serbian; Greek, Slovak, Slovenian and Maltese a light stemmer of ours (LIGHT_ENDINGS); Polish
# needs a plugin: Morfologik (a dictionary lemmatizer, in the local node's analysis-polish
# module) or Stempel (`polish_stem`, also in OpenSearch's analysis-stempel plugin). Morfologik
# knows only words with their diacritics: Polish folded text is stemmed by Stempel.
LANGUAGE_ANALYSES: dict[str, tuple[Analysis, ...]] = {
    "bg": (_stemmed("bulgarian", "bulgarian_stemmer"),),
    "cs": (_stemmed("czech", "czech_stemmer"),),
    "da": (_stemmed("danish", "danish_stemmer"),),
    "de": (_stemmed("german", "light_german_stemmer", after_stop=("german_normalization",)),),
    "el": (_stemmed("greek", "greek_light_stem", before=("greek_lowercase",)),),
    "en": (_stemmed("english", "english_stemmer", before=("english_possessive", "lowercase")),),
    "es": (_stemmed("spanish", "light_spanish_stemmer"),),
    "et": (_stemmed("estonian", "estonian_stemmer"),),
    "fi": (_stemmed("finnish", "finnish_stemmer"),),
    "fr": (_stemmed("french", "light_french_stemmer", before=("french_elision", "lowercase")),),
    "ga": (_stemmed("irish", "irish_stemmer", before=("irish_hyphenation", "irish_elision", "irish_lowercase")),),
    "hr": (_stemmed("croatian", "croatian_stemmer", stop=False),),
    "hu": (_stemmed("hungarian", "hungarian_stemmer"),),
    "it": (_stemmed("italian", "light_italian_stemmer", before=("italian_elision", "lowercase")),),
    "lt": (_stemmed("lithuanian", "lithuanian_stemmer"),),
    "lv": (_stemmed("latvian", "latvian_stemmer"),),
    "mt": (_stemmed("maltese", "maltese_light_stem", stop=False),),
    "nl": (_stemmed("dutch", "dutch_stemmer"),),
    "pl": (
        Analysis(
            "polish_morfologik",
            ("morfologik_stem", "lowercase", "same_position_unique"),
            ("lowercase", "asciifolding", "polish_stem"),
        ),
        _stemmed("polish", "polish_stem", stop=False),
    ),
    "pt": (_stemmed("portuguese", "light_portuguese_stemmer"),),
    "ro": (_stemmed("romanian", "romanian_stemmer"),),
    "sk": (_stemmed("slovak", "slovak_light_stem", stop=False),),
    "sl": (_stemmed("slovenian", "slovenian_light_stem", stop=False),),
    "sv": (_stemmed("swedish", "swedish_stemmer"),),
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


def analysis_chain(filters: tuple[str, ...]) -> dict[str, Any]:
    """A chain as `_analyze` takes it: configured filters inline, built-in ones by name."""
    return {"tokenizer": "standard", "filter": [FILTERS.get(name, name) for name in filters]}


def analysis_settings(chosen: Mapping[str, Analysis]) -> dict[str, Any]:
    """An index's `analysis` settings: each chosen language's chain, exact and folded, and
    `words` (as typed, word by word, no stemming, diacritics optional: titles' words and
    suggestions), with the configured filters they use."""
    analyzers = {
        name: {"type": "custom", "tokenizer": "standard", "filter": list(filters)}
        for analysis in chosen.values()
        for name, filters in ((analysis.name, analysis.exact), (f"{analysis.name}_folded", analysis.folded))
    }
    used = {name for analyzer in analyzers.values() for name in analyzer["filter"]}
    return {
        "analyzer": {**analyzers, "words": {"type": "custom", "tokenizer": "standard", "filter": FOLDING}},
        "filter": {name: FILTERS[name] for name in sorted(used & FILTERS.keys())},
    }


def text_by_language(chosen: Mapping[str, Analysis]) -> dict[str, Any]:
    """The mapping of `text`: one field per language, analysed by its chain, with a `folded`
    sub-field (what `query_text.text_clauses` matches)."""
    return {
        "properties": {
            language: {
                "type": "text",
                "analyzer": analysis.name,
                "fields": {"folded": {"type": "text", "analyzer": f"{analysis.name}_folded"}},
            }
            for language, analysis in chosen.items()
        }
    }


def text_index(
    chosen: Mapping[str, Analysis], mapping_version: int, written: Mapping[str, bool], properties: Mapping[str, Any]
) -> dict[str, Any]:
    """An index of text in the chosen languages: for each field in `written`, one text field per
    language as written (for highlights; with a folded sub-field where `written` says so) copied
    into that language's `text` field, which queries match (`query_text.text_clauses`), the
    `title` also into `title_words` (the weight of a title match); the other `properties` as
    given. The mapping is strict and names its version and analyzers in `_meta`."""

    def by_language(field: str, folded: bool) -> dict[str, Any]:
        copies = ["title_words"] if field == "title" else []
        return {
            language: {
                "type": "text",
                "analyzer": analysis.name,
                "copy_to": [f"text.{language}", *copies],
                **({"fields": {"folded": {"type": "text", "analyzer": f"{analysis.name}_folded"}}} if folded else {}),
            }
            for language, analysis in chosen.items()
        }

    return {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0, "analysis": analysis_settings(chosen)},
        "mappings": {
            "dynamic": "strict",
            "_meta": {
                "mapping_version": mapping_version,
                "analyzers": {language: analysis.name for language, analysis in chosen.items()},
            },
            "properties": {
                **{field: {"properties": by_language(field, folded)} for field, folded in written.items()},
                "text": text_by_language(chosen),
                "title_words": {"type": "text", "analyzer": "words"},
                **properties,
            },
        },
    }
