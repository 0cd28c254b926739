"""What people type into the library's search box, on the real servers: a word in its
dictionary form finds its inflected forms in each of the 24 official languages, a word typed
without its diacritics finds it with them (ranked below exact matches), and the query language
people know from web search: all words by default, "phrases", -exclusions, OR, a ranked
fallback when nothing has every word, and queries of stop words alone."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hub_testing import ServiceUnderTest
from practice_steps import found, metadata, publish, search, submit

pytestmark = pytest.mark.e2e

# Per language: a dictionary form, an inflected form of it (the one the practice's title has)
# and that inflected form as typed without diacritics (None where the word has none). The
# inflections follow each language's grammar: plural, genitive, dative, allative, inessive,
# the definite article that Bulgarian and Romanian attach to the word, Irish lenition.
LANGUAGE_TABLE = [
    ("bg", "учебник", "учебниците", None),  # textbook, the textbooks
    ("cs", "učitel", "učitelů", "ucitelu"),  # teacher, of teachers (genitive plural)
    ("da", "lærer", "lærerne", "laererne"),  # teacher, the teachers
    ("de", "Schüler", "Schülern", "Schulern"),  # pupil, to pupils (dative plural)
    ("el", "εκπαιδευτικός", "εκπαιδευτικών", "εκπαιδευτικων"),  # teacher, of teachers (genitive plural)
    ("en", "teacher", "teachers", None),
    ("es", "evaluación", "evaluaciones", "evaluaciones"),  # assessment, assessments
    ("et", "õpetaja", "õpetajatele", "opetajatele"),  # teacher, to the teachers (allative plural)
    ("fi", "ympäristö", "ympäristössä", "ymparistossa"),  # environment, in the environment (inessive)
    ("fr", "élève", "élèves", "eleves"),  # pupil, pupils
    ("ga", "múinteoir", "mhúinteoir", "mhuinteoir"),  # teacher, (my) teacher (lenited after "mo")
    ("hr", "učitelj", "učiteljima", "uciteljima"),  # teacher, to teachers (dative plural)
    ("hu", "tanár", "tanárok", "tanarok"),  # teacher, teachers
    ("it", "insegnante", "insegnanti", None),  # teacher, teachers
    ("lt", "švietimas", "švietimo", "svietimo"),  # education, of education (genitive)
    ("lv", "skolotājs", "skolotājiem", "skolotajiem"),  # teacher, to teachers (dative plural)
    ("mt", "għalliem", "għalliema", "ghalliema"),  # teacher, teachers
    ("nl", "coördinator", "coördinatoren", "coordinatoren"),  # coordinator, coordinators
    ("pl", "narzędzie", "narzędzia", "narzedzia"),  # tool, tools / of the tool
    ("pt", "avaliação", "avaliações", "avaliacoes"),  # assessment, assessments
    ("ro", "învățământ", "învățământului", "invatamantului"),  # education, of the education
    ("sk", "učiteľ", "učiteľov", "ucitelov"),  # teacher, of teachers (genitive plural)
    ("sl", "šola", "šolami", "solami"),  # school, with schools (instrumental plural)
    ("sv", "lärare", "lärarna", "lararna"),  # teacher, the teachers
]


# Czech učitel and Slovak učiteľ are one word once folded (and stemmed): each finds the other.
KIN = {"cs": {"sk"}, "sk": {"cs"}}


async def published(hub: ServiceUnderTest, tag: str, language: str, title: str, summary: str = "A practice.") -> str:
    body = metadata(tag, title={language: title}, summary={language: summary}, languages=[language])
    practice_id = await submit(hub, "author-2", body)
    await publish(hub, practice_id)
    return practice_id


def ids(result: dict[str, Any]) -> list[str]:
    return [hit["id"] for hit in result["hits"]]


async def test_every_official_language_finds_inflected_forms_and_words_typed_without_diacritics(
    practices: ServiceUnderTest,
) -> None:
    assert len(LANGUAGE_TABLE) == 24
    tag = f"t{uuid.uuid4().hex[:8]}"
    practice_of = {
        language: await published(practices, tag, language, f"{inflected} 2026")
        for language, _, inflected, _ in LANGUAGE_TABLE
    }
    await found(practices, set(practice_of.values()), topics=[tag], size=50)

    language_of = {practice_id: language for language, practice_id in practice_of.items()}
    found_by: dict[tuple[str, str], set[str]] = {}
    for language, base, _, without_diacritics in LANGUAGE_TABLE:
        for query in (base, without_diacritics):
            if query:
                hits = ids(await search(practices, q=query, topics=[tag], size=50))
                found_by[(language, query)] = {language_of[hit] for hit in hits}
    assert [key for key, languages in found_by.items() if key[0] not in languages] == [], "each finds its own"
    strays = {key: languages for key, languages in found_by.items() if not languages <= {key[0], *KIN.get(key[0], ())}}
    assert strays == {}, "and no other language's practice"


async def test_an_exact_match_ranks_above_one_found_without_diacritics(practices: ServiceUnderTest) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    with_accent = await published(practices, tag, "hu", "A tanár kézikönyve")  # the teacher's handbook
    without = await published(practices, tag, "hu", "A tanar kézikönyve")  # typed without the accent
    await found(practices, {with_accent, without}, topics=[tag])

    assert ids(await search(practices, q="tanár", topics=[tag])) == [with_accent, without]
    assert ids(await search(practices, q="tanar", topics=[tag])) == [without, with_accent]


async def test_the_query_language_people_know_from_web_search(practices: ServiceUnderTest) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    titles = {
        "training": "Digital training for teachers",
        "museums": "Digital tools in museums",
        "tablets": "Training teachers to use tablets",
        "both": "Teachers' digital training with tablets",
        "drama": "To be or not to be: drama in class",
    }
    practice = {name: await published(practices, tag, "en", title) for name, title in titles.items()}
    await found(practices, set(practice.values()), topics=[tag])

    async def hits(q: str) -> set[str]:
        result = await search(practices, q=q, topics=[tag])
        assert result["matched"] == "all words", q
        return {name for name, practice_id in practice.items() if practice_id in ids(result)}

    assert await hits("digital training for teachers") == {"training", "both"}, "every word, in any order"
    assert await hits('"digital training for teachers"') == {"training"}, "the phrase"
    assert await hits("digital training -tablets") == {"training"}
    assert await hits('teachers -"digital training"') == {"tablets"}
    assert await hits("museums OR tablets") == {"museums", "tablets", "both"}
    assert await hits("to be or not to be") == {"drama"}, "stop words alone"

    fallback = await search(practices, q="digital museums tablets", topics=[tag])
    assert fallback["matched"] == "any word", "no practice has every word"
    assert set(ids(fallback)) == {practice[name] for name in ("training", "museums", "tablets", "both")}
    assert ids(fallback)[0] in {practice["museums"], practice["both"]}, "those with two of the words first"
    page = await search(practices, q="digital museums tablets", topics=[tag], size=1)
    paged = ids(page)
    while page["next_cursor"]:
        page = await search(practices, q="digital museums tablets", topics=[tag], size=1, cursor=page["next_cursor"])
        assert page["matched"] == "any word", "every page of the sequence"
        paged += ids(page)
    assert paged == ids(fallback), "the pages of any word, in order, each once"
