"""Search benchmark: the practices service's indexer and search API against raw OpenSearch
baselines on the same server, in the same run.

1. The indexer and single searches, over the demo generator's practices (--practices, --queries,
   --existing).
2. A library of generated multilingual practices (--library N: the 24 official languages,
   titles, summaries and bodies of realistic length, facets) bulk-loaded straight into the
   service's index, then searches by --concurrency clients at a time through the API and with
   raw opensearch-py sending the very bodies the API builds (build_query), in alternating rounds:
   throughput, latency percentiles, their ratio.
3. Publish to searchable: practices submitted, assigned and published over the HTTP API, each
   searched for by a word of its own until found (--publish N).

Usage: uv run python bench/search.py [--practices N] [--queries N] [--existing N]
           [--library N] [--searches N] [--concurrency N] [--rounds N] [--publish N]
"""

# The texts in other alphabets are meant: Cyrillic and Greek letters that look Latin.
# ruff: noqa: RUF001

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import re
import resource
import secrets
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from opensearchpy import AsyncOpenSearch
from pymongo import AsyncMongoClient

from deh_contracts import new_event, to_kafka
from deh_contracts.catalogue.membership import MemberPerson
from deh_contracts.catalogue.practices import PracticeMetadata
from deh_contracts.envelope import sequence_text
from deh_contracts.people import REFERENCE_PREFIX
from deh_contracts.vocabulary import DIGCOMPEDU_COMPETENCES, EU_LANGUAGES, EU_MEMBER_STATES
from deh_platform.auth import issue_token
from deh_platform.search_index import PENDING, SearchIndex
from deh_practices.adapters.index import searchable
from deh_practices.adapters.store import PracticeStore
from deh_practices.app import create_app
from deh_practices.domain.practices import CRITERIA
from deh_practices.domain.search import SearchRequest, build_query, decode_cursor, falls_back
from deh_practices.settings import PracticesSettings
from deh_stack.demo_practices import LICENCES, RESULT_TYPES, SECTORS, THEMES, demo_practices
from deh_stack.testing import ServerAddresses, eventually, provide_servers

WORDS = [
    "Schule",
    "szkoła",
    "coding clubs",
    "prasmes",
    "bibliothèques",
    "robots",
    "Lehrkräfte",
    "docentes",
    "sicurezza",
]


def percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100)
    return "  ".join(f"p{p} {cuts[p - 1] * 1000:6.1f} ms" for p in (50, 95, 99))


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def index_all(store: PracticeStore, index: SearchIndex, ids: list[str], changes: dict[str, Any]) -> float:
    """Mark the practices changed (as a store write does), tell the indexer, and time until
    every mark is cleared."""
    await store.practices.update_many(
        {"_id": {"$in": ids}}, {"$set": {**changes, PENDING: True}, "$inc": {"revision": 1}}
    )
    began = time.perf_counter()
    index.notify(ids)
    while await store.practices.find_one({"_id": {"$in": ids}, PENDING: True}, {"_id": 1}):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return time.perf_counter() - began


async def indexer_and_single_searches(
    app: FastAPI, settings: PracticesSettings, count: int, queries: int, existing: int
) -> list[str]:
    """Part 1: the indexer against a raw bulk, and searches one at a time against the same body
    sent raw to a copy of the index."""
    store, index = app.state.store, app.state.index
    generated = demo_practices(count)
    for practice in generated:
        await store.create(
            practice_id=None,
            metadata=PracticeMetadata.model_validate(practice["metadata"]),
            body=practice["body"],
            author_ids=["bench"],
            author_names=[],
            status="submitted",
            created_by="bench",
        )
    ids = [document["_id"] async for document in store.practices.find({}, {"_id": 1})]
    indexer_seconds = await index_all(store, index, ids, {"status": "published", "published_at": None})
    # The same work with many more practices in the collection: the indexer reads by id, so
    # its cost per practice must not grow with the collection.
    for first in range(0, existing, 5000):
        stored = range(first, min(existing, first + 5000))
        await store.practices.insert_many([{"_id": f"old-{n}", "status": "archived", "revision": 1} for n in stored])
    crowded_seconds = await index_all(store, index, ids, {})

    raw_index = f"bench-raw-{settings.search_alias}"
    await index.search.indices.create(index=raw_index, body=await definition_of(index))
    try:
        documents = [document async for document in store.practices.find({"_id": {"$in": ids}})]
        began = time.perf_counter()
        for offset in range(0, len(documents), 200):
            operations: list[dict[str, Any]] = []
            for document in documents[offset : offset + 200]:
                operations += [{"index": {"_index": raw_index, "_id": document["_id"]}}, searchable(document)]
            await index.search.bulk(body=operations)
        raw_seconds = time.perf_counter() - began
        await index.search.indices.refresh(index=f"{settings.search_alias},{raw_index}")

        api, raw = [], []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://practices") as client:
            for number in range(queries):
                word = WORDS[number % len(WORDS)]
                start = time.perf_counter()
                response = await client.get("/search", params={"q": word, "size": 10})
                api.append(time.perf_counter() - start)
                assert response.status_code == 200
                await close_points_in_time(index.search, [response.json()])  # outside the timing
                start = time.perf_counter()
                await index.search.search(
                    index=raw_index, body=build_query(SearchRequest(q=word, size=10), caller=None)
                )
                raw.append(time.perf_counter() - start)
    finally:
        await index.search.indices.delete(index=raw_index)

    crowded = f"indexer, {existing:,} more practices stored"
    return [
        f"\n{count} demo practices, {queries} searches\n",
        f"{'indexer (MongoDB -> OpenSearch, external versions)':<52} {count / indexer_seconds:8.0f} practices/s",
        f"{crowded:<52} {count / crowded_seconds:8.0f} practices/s",
        f"{'raw bulk of the same documents':<52} {count / raw_seconds:8.0f} practices/s",
        f"{'search API (FastAPI, facets, highlights)':<52} {percentiles(api)}",
        f"{'raw OpenSearch query, same body':<52} {percentiles(raw)}",
        f"\nindexer / raw bulk throughput:      {raw_seconds / indexer_seconds:.2f}",
        f"indexer, crowded / not crowded:     {indexer_seconds / crowded_seconds:.2f}",
        f"search API / raw query, median:     {statistics.median(api) / statistics.median(raw):.2f}",
    ]


async def definition_of(index: SearchIndex) -> dict[str, Any]:
    """The definition the service gave its live index (its template: index_definition with the
    analyses this node can build), for a copy."""
    live = await index.live_index()
    found = (await index.search.indices.get(index=live))[live]
    settings = found["settings"]["index"]
    return {
        "settings": {
            "index": {name: settings[name] for name in ("number_of_shards", "number_of_replicas", "analysis")}
        },
        "mappings": found["mappings"],
    }


def point_in_time_of(result: dict[str, Any]) -> str | None:
    """The point in time an API answer's cursor carries (the API opens one for a first page
    that has more)."""
    cursor = result.get("next_cursor")
    # Either order's first sort value passes as a relevance score's (a number).
    return decode_cursor(cursor, sort_by_date=False).point_in_time if cursor else None


async def close_points_in_time(
    search: AsyncOpenSearch, results: list[dict[str, Any]], keep: frozenset[str] = frozenset()
) -> None:
    """Close what the API's first pages opened: a node keeps at most 300 points in time (others'
    tests share it), and each lasts 2 minutes unless closed."""
    opened = sorted({pit for result in results if (pit := point_in_time_of(result)) and pit not in keep})
    for first in range(0, len(opened), 100):
        await search.delete_pit(body={"pit_id": opened[first : first + 100]})


# Titles and summaries in the official languages the demo generator does not write, each
# list in the order of the first three demo themes (coding clubs, digital skills in libraries,
# online safety) and a handbook on artificial intelligence.
MORE_TEXTS: dict[str, tuple[list[str], list[str]]] = {
    "bg": (
        [
            "Клубове по програмиране в селските училища",
            "Дигитални умения за възрастни хора в обществените библиотеки",
            "Уроци по безопасност в интернет за учениците от началното училище",
        ],
        [
            "Доброволци и учители водят седмични клубове, в които децата създават игри и роботи.",
            "Библиотекарите учат възрастните хора да използват електронни услуги и видеоразговори.",
            "Учебниците и упражненията помагат на учителите да преподават безопасност в интернет.",
        ],
    ),
    "cs": (
        [
            "Kroužky programování na venkovských školách",
            "Digitální dovednosti pro seniory ve veřejných knihovnách",
            "Lekce online bezpečnosti pro žáky základních škol",
        ],
        [
            "Dobrovolníci a učitelé vedou týdenní kroužky, kde děti staví hry a roboty.",
            "Knihovníci učí seniory bezpečně používat elektronické služby a videohovory.",
            "Metodika pro učitele o hodnocení digitálních kompetencí žáků.",
        ],
    ),
    "da": (
        [
            "Kodeklubber på skoler i landdistrikterne",
            "Digitale færdigheder for ældre på folkebibliotekerne",
            "Undervisning i online sikkerhed for elever i indskolingen",
        ],
        [
            "Frivillige og lærere driver ugentlige kodeklubber, hvor børn bygger spil og robotter.",
            "Bibliotekarer lærer ældre at bruge digitale selvbetjeningsløsninger og videoopkald sikkert.",
            "Lærerne får en håndbog om kunstig intelligens i undervisningen.",
        ],
    ),
    "el": (
        [
            "Όμιλοι προγραμματισμού σε αγροτικά σχολεία",
            "Ψηφιακές δεξιότητες για ηλικιωμένους στις δημόσιες βιβλιοθήκες",
            "Μαθήματα ασφάλειας στο διαδίκτυο για μαθητές δημοτικού",
        ],
        [
            "Εθελοντές και εκπαιδευτικοί οργανώνουν εβδομαδιαίους ομίλους "
            "όπου τα παιδιά φτιάχνουν παιχνίδια και ρομπότ.",
            "Οι βιβλιοθηκονόμοι μαθαίνουν στους ηλικιωμένους να χρησιμοποιούν ψηφιακές υπηρεσίες με ασφάλεια.",
            "Ένας οδηγός για την αξιολόγηση των ψηφιακών δεξιοτήτων των εκπαιδευτικών.",
        ],
    ),
    "et": (
        [
            "Programmeerimisringid maakoolides",
            "Digioskused eakatele rahvaraamatukogudes",
            "Internetiturvalisuse tunnid algklasside õpilastele",
        ],
        [
            "Vabatahtlikud ja õpetajad juhendavad iganädalasi ringe, kus lapsed ehitavad mänge ja roboteid.",
            "Raamatukoguhoidjad õpetavad eakatele e-teenuste ja videokõnede turvalist kasutamist.",
            "Juhend õpetajatele tehisintellekti kasutamiseks tundides.",
        ],
    ),
    "fi": (
        [
            "Ohjelmointikerhot maaseudun kouluissa",
            "Digitaidot ikäihmisille yleisissä kirjastoissa",
            "Verkkoturvallisuuden oppitunnit alakoulun oppilaille",
        ],
        [
            "Vapaaehtoiset ja opettajat vetävät viikoittaisia kerhoja, joissa lapset rakentavat pelejä ja robotteja.",
            "Kirjastonhoitajat opettavat ikäihmisiä käyttämään sähköisiä palveluja turvallisesti.",
            "Opas opettajille tekoälyn käytöstä opetuksessa ja arvioinnissa.",
        ],
    ),
    "ga": (
        [
            "Clubanna códála i scoileanna tuaithe",
            "Scileanna digiteacha do dhaoine scothaosta i leabharlanna poiblí",
            "Ceachtanna sábháilteachta ar líne do dhaltaí bunscoile",
        ],
        [
            "Reáchtálann oibrithe deonacha agus múinteoirí clubanna seachtainiúla "
            "ina dtógann páistí cluichí agus róbait.",
            "Múineann leabharlannaithe do dhaoine scothaosta seirbhísí ar líne a úsáid go sábháilte.",
            "Lámhleabhar do mhúinteoirí faoin intleacht shaorga sa seomra ranga.",
        ],
    ),
    "hr": (
        [
            "Klubovi programiranja u seoskim školama",
            "Digitalne vještine za starije osobe u narodnim knjižnicama",
            "Satovi sigurnosti na internetu za učenike osnovnih škola",
        ],
        [
            "Volonteri i učitelji vode tjedne klubove u kojima djeca izrađuju igre i robote.",
            "Knjižničari uče starije osobe sigurno koristiti e-usluge i videopozive.",
            "Priručnik za učitelje o umjetnoj inteligenciji u nastavi.",
        ],
    ),
    "hu": (
        [
            "Programozó szakkörök vidéki iskolákban",
            "Digitális készségek idősek számára a közkönyvtárakban",
            "Online biztonsági órák általános iskolásoknak",
        ],
        [
            "Önkéntesek és tanárok heti szakköröket vezetnek, ahol a gyerekek játékokat és robotokat építenek.",
            "A könyvtárosok megtanítják az időseket az elektronikus ügyintézés biztonságos használatára.",
            "Kézikönyv tanároknak a mesterséges intelligencia tanórai használatáról.",
        ],
    ),
    "lt": (
        [
            "Programavimo būreliai kaimo mokyklose",
            "Skaitmeniniai įgūdžiai senjorams viešosiose bibliotekose",
            "Saugumo internete pamokos pradinių klasių mokiniams",
        ],
        [
            "Savanoriai ir mokytojai veda savaitinius būrelius, kuriuose vaikai kuria žaidimus ir robotus.",
            "Bibliotekininkai moko senjorus saugiai naudotis elektroninėmis paslaugomis.",
            "Švietimo vadovas mokytojams apie dirbtinį intelektą pamokose.",
        ],
    ),
    "mt": (
        [
            "Klabbs tal-ikkowdjar fl-iskejjel rurali",
            "Ħiliet diġitali għall-anzjani fil-libreriji pubbliċi",
            "Lezzjonijiet dwar is-sigurtà online għall-istudenti tal-primarja",
        ],
        [
            "Voluntiera u għalliema jmexxu klabbs kull ġimgħa fejn it-tfal jibnu logħob u robots.",
            "Il-libreriji jgħallmu lill-anzjani jużaw is-servizzi online b'mod sigur.",
            "Manwal għall-għalliema dwar l-intelliġenza artifiċjali fil-klassi.",
        ],
    ),
    "nl": (
        [
            "Programmeerclubs op plattelandsscholen",
            "Digitale vaardigheden voor ouderen in openbare bibliotheken",
            "Lessen over online veiligheid voor leerlingen in het basisonderwijs",
        ],
        [
            "Vrijwilligers en leraren leiden wekelijkse clubs waar kinderen spellen en robots bouwen.",
            "Bibliothecarissen leren ouderen veilig digitale overheidsdiensten en videobellen te gebruiken.",
            "Een handleiding voor coördinatoren over kunstmatige intelligentie in de klas.",
        ],
    ),
    "pt": (
        [
            "Clubes de programação em escolas rurais",
            "Competências digitais para idosos em bibliotecas públicas",
            "Aulas de segurança online para alunos do ensino básico",
        ],
        [
            "Voluntários e professores dinamizam clubes semanais onde as crianças constroem jogos e robôs.",
            "Os bibliotecários ensinam os idosos a usar serviços públicos digitais com segurança.",
            "Um guia de avaliação para professores sobre inteligência artificial na sala de aula.",
        ],
    ),
    "ro": (
        [
            "Cluburi de programare în școlile rurale",
            "Competențe digitale pentru vârstnici în bibliotecile publice",
            "Lecții de siguranță online pentru elevii din ciclul primar",
        ],
        [
            "Voluntarii și profesorii conduc cluburi săptămânale în care copiii construiesc jocuri și roboți.",
            "Bibliotecarii îi învață pe vârstnici să folosească în siguranță serviciile electronice.",
            "Un ghid pentru profesori despre inteligența artificială în învățământul preuniversitar.",
        ],
    ),
    "sk": (
        [
            "Krúžky programovania na vidieckych školách",
            "Digitálne zručnosti pre seniorov vo verejných knižniciach",
            "Hodiny online bezpečnosti pre žiakov základných škôl",
        ],
        [
            "Dobrovoľníci a učitelia vedú týždenné krúžky, v ktorých deti stavajú hry a roboty.",
            "Knihovníci učia seniorov bezpečne používať elektronické služby a videohovory.",
            "Príručka pre učiteľov o umelej inteligencii vo vyučovaní.",
        ],
    ),
    "sl": (
        [
            "Programerski krožki na podeželskih šolah",
            "Digitalne spretnosti za starejše v splošnih knjižnicah",
            "Ure spletne varnosti za učence osnovnih šol",
        ],
        [
            "Prostovoljci in učitelji vodijo tedenske krožke, kjer otroci gradijo igre in robote.",
            "Knjižničarji učijo starejše varno uporabljati e-storitve in videoklice.",
            "Priročnik za učitelje o umetni inteligenci pri pouku.",
        ],
    ),
    "sv": (
        [
            "Programmeringsklubbar på landsbygdens skolor",
            "Digitala färdigheter för äldre på folkbibliotek",
            "Lektioner om säkerhet på nätet för elever i lågstadiet",
        ],
        [
            "Volontärer och lärare leder veckovisa klubbar där barn bygger spel och robotar.",
            "Bibliotekarier lär äldre att använda e-tjänster och videosamtal på ett säkert sätt.",
            "En handbok för lärare om artificiell intelligens i undervisningen.",
        ],
    ),
}

LETTERS = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
NAMES = ["Anna Kowalska", "Jonas Petrauskas", "Marie Dubois", "Giulia Romano", "Eleni Papadopoulou", "Lars Nielsen"]
# Languages a practice is written in first: most in English, German and French, some in every one.
FIRST_LANGUAGE_WEIGHTS = {"en": 20, "de": 8, "fr": 8, "es": 6, "it": 6, "pl": 5, "nl": 4, "pt": 4, "ro": 3}
ORIGINS = ["community", "community", "community", "eu_project", "eu_project", "squad", "salto", "hackathon"]
TOPICS = [theme["topic"] for theme in THEMES] + ["inclusion", "teacher-training", "assessment", "stem", "languages"]
EPOCH = datetime(2019, 1, 1, tzinfo=UTC)


@dataclass
class Language:
    """One language's text: its real titles and summaries, and a vocabulary drawn with Zipf's
    law (the real words first, then made-up words of its own syllables, so that bodies have a
    long tail of rare terms as real text does)."""

    code: str
    titles: list[str]
    summaries: list[str]
    vocabulary: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        real = list(
            dict.fromkeys(word.lower() for text in self.titles + self.summaries for word in LETTERS.findall(text))
        )
        chance = random.Random(f"vocabulary-{self.code}")
        syllables = [word[i : i + 3] for word in real if len(word) >= 4 for i in range(0, len(word) - 1, 2)]
        made_up = {"".join(chance.choices(syllables, k=chance.randint(2, 4))) for _ in range(2000)} - set(real)
        self.vocabulary = real + sorted(made_up)
        self.weights = list(itertools.accumulate(1 / (rank + 2) for rank in range(len(self.vocabulary))))

    def sentence(self, chance: random.Random) -> str:
        words = chance.choices(self.vocabulary, cum_weights=self.weights, k=chance.randint(8, 16))
        return " ".join(words).capitalize() + "."

    def name(self, chance: random.Random) -> str:
        return chance.choice(self.vocabulary[-1500:]).capitalize()


class Library:
    """Practices as the store keeps them, in the 24 official languages, the same for the same
    number: the demo generator's titles and summaries where it has them, MORE_TEXTS elsewhere."""

    def __init__(self) -> None:
        texts: dict[str, tuple[list[str], list[str]]] = {code: ([], []) for code in EU_LANGUAGES}
        for theme in THEMES:
            for code, title in theme["title"].items():
                texts[code][0].append(title)
                texts[code][1].append(theme["summary"][code])
        texts.update(MORE_TEXTS)
        self.languages = {code: Language(code, *texts[code]) for code in EU_LANGUAGES}
        self.codes = list(self.languages)
        self.first_weights = [FIRST_LANGUAGE_WEIGHTS.get(code, 2) for code in self.codes]

    def metadata(self, chance: random.Random, number: int) -> tuple[dict[str, Any], str]:
        first = chance.choices(self.codes, weights=self.first_weights)[0]
        languages = [first]
        if first != "en" and chance.random() < 0.5:
            languages.append("en")
        if chance.random() < 0.3:
            languages.append(chance.choice([code for code in self.codes if code not in languages]))
        theme = chance.randrange(12)
        title, summary = {}, {}
        for code in languages:
            language = self.languages[code]
            project = " ".join(language.name(chance) for _ in range(chance.randint(1, 2)))
            title[code] = f"{language.titles[theme % len(language.titles)]}: {project}"
            sentences = [language.summaries[theme % len(language.summaries)]]
            sentences += [language.sentence(chance) for _ in range(chance.randint(1, 3))]
            summary[code] = " ".join(sentences)
        primary = self.languages[first]
        body = "\n\n".join(
            " ".join(primary.sentence(chance) for _ in range(chance.randint(3, 8))) for _ in range(chance.randint(2, 5))
        )
        country = chance.choice(list(EU_MEMBER_STATES))
        origin_kind = chance.choice(ORIGINS)
        origin = {"kind": origin_kind, "reference": f"2024-1-{country}01-KA220-{number:09d}"}
        metadata = {
            "title": title,
            "summary": summary,
            "languages": languages,
            "countries": sorted({country, *chance.sample(list(EU_MEMBER_STATES), k=chance.randint(0, 2))}),
            "sectors": chance.sample(SECTORS, k=chance.randint(1, 2)),
            "isced_levels": sorted(chance.sample(["1", "2", "3", "4", "5", "6", "7"], k=2)),
            "topics": [TOPICS[theme % len(TOPICS)]],
            "digcomp": [THEMES[theme % len(THEMES)]["digcomp"][0]],
            "digcompedu": [chance.choice(list(DIGCOMPEDU_COMPETENCES))],
            "licence": chance.choice(LICENCES),
            "result_type": chance.choice(RESULT_TYPES),
            "origin": origin if origin_kind != "community" else {"kind": "community"},
        }
        return metadata, body

    def practice(self, number: int) -> dict[str, Any]:
        """A published practice as the store keeps it (what `searchable` reads)."""
        chance = random.Random(f"practice-{number}")
        metadata, body = self.metadata(chance, number)
        published = EPOCH + timedelta(seconds=chance.randrange(8 * 365 * 86400))
        author = f"member-{chance.randrange(30_000)}"
        return {
            "_id": f"library-{number:07d}",
            "status": "published",
            "version": 1,
            "metadata": metadata,
            "body": body,
            "authors": [{"member_id": author, "name": chance.choice([None, *NAMES]), "reference": None}],
            "author_ids": [author],
            "author_names": [],
            "reviewer_id": None,
            "published_at": published,
            "updated_at": published,
            "stale": False,
        }


async def load_library(search: AsyncOpenSearch, index_name: str, library: Library, count: int) -> float:
    """Bulk-load the library into the service's live index (its own definition and document
    shape), two bulk requests in flight, no refresh until the end: this measures search, not
    loading."""
    await search.indices.put_settings(index=index_name, body={"index": {"refresh_interval": "-1"}})
    began = time.perf_counter()
    in_flight: set[asyncio.Task[Any]] = set()

    async def bulk(operations: list[dict[str, Any]]) -> None:
        answer = await search.bulk(body=operations, params={"request_timeout": 300})
        if answer["errors"]:
            failed = next(item["index"] for item in answer["items"] if item["index"].get("error"))
            raise RuntimeError(f"the library's bulk load failed: {failed}")

    try:
        for first in range(0, count, 500):
            operations: list[dict[str, Any]] = []
            for number in range(first, min(count, first + 500)):
                document = library.practice(number)
                operations += [{"index": {"_index": index_name, "_id": document["_id"]}}, searchable(document)]
            if len(in_flight) >= 2:
                done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            in_flight.add(asyncio.create_task(bulk(operations)))
            if first and first % 20_000 == 0:
                progress(f"library: {first:,} of {count:,} sent after {time.perf_counter() - began:.0f} s")
        await asyncio.gather(*in_flight)
    finally:
        await search.indices.put_settings(index=index_name, body={"index": {"refresh_interval": None}})
    await search.indices.refresh(index=index_name)
    return time.perf_counter() - began


@dataclass
class Query:
    """One search of the mix: its HTTP parameters, and the bodies the API builds for them (the
    all-words one, and the any-word one it runs when that finds nothing)."""

    kind: str
    params: dict[str, Any]
    body: dict[str, Any] = field(default_factory=dict)
    fallback: dict[str, Any] | None = None

    def build(self) -> None:
        request = SearchRequest.model_validate(self.params)
        self.body = build_query(request, caller=None)
        # As the API: a first page whose words are not all found is asked again for any of them.
        again = falls_back(request) and not request.cursor
        self.fallback = build_query(request, caller=None, all_words=False) if again else None


KINDS = ["words", "phrase", "facet filter", "date order", "next page"]


def query_mix(library: Library) -> list[Query]:
    """Per language, what people type: two words of a title, a phrase of one, a word with a
    country and sector filter, two words in date order; and second pages in eight languages."""
    chance = random.Random("queries")
    queries = []
    for code, language in library.languages.items():
        titles = [[word for word in LETTERS.findall(title) if len(word) >= 5] for title in language.titles]
        for words in titles[:2]:
            queries.append(Query("words", {"q": " ".join(chance.sample(words, 2))}))
        adjacent = [
            f"{a} {b}"
            for title in language.titles
            for a, b in itertools.pairwise(LETTERS.findall(title))
            if len(a) >= 4 and len(b) >= 4
        ]
        phrase = chance.choice(adjacent)
        queries.append(Query("phrase", {"q": f'"{phrase}"'}))
        countries = chance.sample(list(EU_MEMBER_STATES), 3)
        queries.append(
            Query("facet filter", {"q": chance.choice(titles[1]), "countries": countries, "sectors": ["school"]})
        )
        queries.append(Query("date order", {"q": " ".join(chance.sample(titles[0], 2)), "sort": "date"}))
        if code in ("en", "de", "fr", "es", "it", "pl", "nl", "pt"):
            queries.append(Query("next page", {"q": max(titles[1], key=len)}))
    return queries


async def api_search(client: httpx.AsyncClient, params: dict[str, Any]) -> dict[str, Any]:
    response = await client.get("/search", params=params)
    assert response.status_code == 200, response.text[:500]
    result: dict[str, Any] = response.json()
    return result


async def raw_search(search: AsyncOpenSearch, alias: str, query: Query) -> bool:
    """The API's requests to OpenSearch for this query, with the same bodies (a next page reads
    its point in time, as SearchIndex.page does); whether it fell back to any word."""
    answer = await (
        search.search(body=query.body) if "pit" in query.body else search.search(index=alias, body=query.body)
    )
    if answer["hits"]["total"]["value"] == 0 and query.fallback is not None:
        await search.search(index=alias, body=query.fallback)
        return True
    return False


@dataclass
class Side:
    """What one side (API or raw) measured over every round."""

    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    fell_back: int = 0

    @property
    def all(self) -> list[float]:
        return [latency for kind in self.latencies.values() for latency in kind]


async def burst(queries: list[Query], concurrency: int, one: Callable[[Query], Awaitable[None]], side: Side) -> None:
    """The queries by `concurrency` clients, each sending its next one as soon as it has its answer."""
    work = iter(queries)

    async def client() -> None:
        for query in work:
            began = time.perf_counter()
            await one(query)
            side.latencies[query.kind].append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    side.seconds += time.perf_counter() - began


async def throughput(
    client: httpx.AsyncClient, index: SearchIndex, library: Library, searches: int, concurrency: int, rounds: int
) -> tuple[Side, Side, int]:
    """The query mix through the API and raw, in alternating rounds (API first in even rounds,
    raw first in odd ones) so that the machine's noise hits both. Returns both sides and the
    number of distinct queries."""
    search, alias = index.search, index.alias
    queries = query_mix(library)
    kept: set[str] = set()
    for query in [query for query in queries if query.kind == "next page"]:
        page = await api_search(client, query.params)
        if page["total"] < 40 or not page["next_cursor"]:  # a second page that has more keeps its point in time
            queries.remove(query)
            await close_points_in_time(search, [page])
            continue
        query.params = {**query.params, "cursor": page["next_cursor"]}
        kept.update(pit for pit in [point_in_time_of(page)] if pit)
    for query in queries:
        query.build()
    keep = frozenset(kept)

    api, raw = Side(), Side()

    async def through_api(query: Query) -> None:
        result = await api_search(client, query.params)
        answers.append(result)
        api.fell_back += result["matched"] == "any word"

    async def straight(query: Query) -> None:
        raw.fell_back += await raw_search(search, alias, query)

    # Warm up both paths with every distinct query once.
    answers: list[dict[str, Any]] = []
    await burst(queries, concurrency, through_api, Side())
    await burst(queries, concurrency, straight, Side())
    await close_points_in_time(search, answers, keep)
    api.fell_back = raw.fell_back = 0

    order = random.Random("order")
    sequence = [queries[order.randrange(len(queries))] for _ in range(searches)]
    size = -(-searches // rounds)
    for number, first in enumerate(range(0, searches, size)):
        chunk = sequence[first : first + size]
        answers = []
        sides: list[tuple[Callable[[Query], Awaitable[None]], Side]] = [(through_api, api), (straight, raw)]
        for one, side in sides if number % 2 == 0 else reversed(sides):
            await burst(chunk, concurrency, one, side)
        await close_points_in_time(search, answers, keep)
    await close_points_in_time(
        search, [{"next_cursor": query.params["cursor"]} for query in queries if query.kind == "next page"]
    )
    return api, raw, len(queries)


async def approve(servers: ServerAddresses, *member_ids: str) -> None:
    """Membership's news that these people are active members (only they submit and review)."""
    producer = AIOKafkaProducer(**servers.kafka_options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for member_id in member_ids:
            person = MemberPerson(
                member_id=member_id,
                reference=REFERENCE_PREFIX + secrets.token_hex(12),
                status="active",
                country="BE",
                sectors=["school"],
                updated_at=datetime.now(UTC),
            )
            event = new_event(person, source="/deh/membership").model_copy(update={"sequence": sequence_text(1)})
            record = to_kafka(event)
            await producer.send_and_wait(record.topic, record.value, key=record.key, headers=record.headers)
    finally:
        await producer.stop()


async def publish_to_searchable(
    client: httpx.AsyncClient, settings: PracticesSettings, library: Library, author: str, reviewer: str, count: int
) -> tuple[list[float], int]:
    """Submit, assign and publish practices over HTTP, one after another at random moments; for
    each, the time from the review's answer until a search for a word of its own finds it
    (polled every 20 ms, for at most 30 s). Returns the times and how many were never found."""

    def caller(member_id: str, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(settings, member_id, list(roles))}"}

    as_author, as_moderator = caller(author, "member"), caller("bench-moderator", "moderator")
    as_reviewer = caller(reviewer, "member", "reviewer")
    scores = dict.fromkeys(CRITERIA, 4)
    times, missed = [], 0
    pauses = random.Random("pauses")
    for number in range(count):
        # Found right after a refresh, the next practice would be published right after one too
        # and always wait a whole refresh interval (1 s): publish at a random moment instead.
        await asyncio.sleep(pauses.uniform(0, 1))
        metadata, body = library.metadata(random.Random(f"published-{number}"), number)
        word = f"bq{uuid.uuid4().hex[:12]}"
        first = metadata["languages"][0]
        metadata["title"][first] = f"{metadata['title'][first]} {word}"
        metadata["origin"] = {"kind": "community"}
        submitted = await client.post("/practices", json={"metadata": metadata, "body": body}, headers=as_author)
        assert submitted.status_code == 201, submitted.text[:500]
        practice_id = submitted.json()["id"]
        assigned = await client.post(
            f"/practices/{practice_id}/reviewer", json={"reviewer_id": reviewer}, headers=as_moderator
        )
        assert assigned.status_code == 200, assigned.text[:500]
        reviewed = await client.post(
            f"/practices/{practice_id}/reviews", json={"scores": scores, "decision": "publish"}, headers=as_reviewer
        )
        answered = time.perf_counter()
        assert reviewed.status_code == 200, reviewed.text[:500]
        assert reviewed.json()["status"] == "published", reviewed.text[:500]
        while True:
            result = await api_search(client, {"q": word})
            if any(hit["id"] == practice_id for hit in result["hits"]):
                times.append(time.perf_counter() - answered)
                break
            if time.perf_counter() - answered > 30:
                missed += 1
                break
            await asyncio.sleep(0.02)
    return times, missed


def seconds(samples: list[float]) -> str:
    if len(samples) < 2:
        return "too few samples"
    cuts = statistics.quantiles(samples, n=100)
    return f"p50 {cuts[49]:5.2f} s  p95 {cuts[94]:5.2f} s  max {max(samples):5.2f} s"


async def run(servers: ServerAddresses, args: argparse.Namespace) -> None:
    isolated = uuid.uuid4().hex[:8]
    database = f"bench-{isolated}"
    settings = PracticesSettings.model_validate(
        {
            **servers.kafka_fields("practices"),
            "mongo_url": servers.mongo_url,
            "opensearch_url": servers.opensearch_url,
            "mongo_database": database,
            "consumer_group": f"practices-{database}",
            "search_alias": database,
            "auth_secret": secrets.token_urlsafe(48),  # the benchmark's own: it signs the tokens of part 3
            "log_level": "WARNING",  # at INFO, every OpenSearch request is a log line on stdout
        }
    )
    author, reviewer = f"bench-author-{isolated}", f"bench-reviewer-{isolated}"
    app = create_app(settings)
    try:
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
            store, index = app.state.store, app.state.index
            try:
                await approve(servers, author, reviewer)  # learnt by the service while parts 1 and 2 run
                lines = [f"servers from {servers.origin}"]
                lines += await indexer_and_single_searches(app, settings, args.practices, args.queries, args.existing)

                library = Library()
                progress(f"loading a library of {args.library:,} practices")
                load_seconds = await load_library(index.search, await index.live_index(), library, args.library)
                stored = (await index.search.count(index=index.alias))["count"]
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://practices", timeout=60) as client:
                    progress(f"{args.searches:,} searches each way, {args.concurrency} at a time")
                    api, raw, distinct = await throughput(
                        client, index, library, args.searches, args.concurrency, args.rounds
                    )

                    async def known() -> bool:
                        return all([await store.member_status(member) == "active" for member in (author, reviewer)])

                    await eventually(known, within=120, interval=0.2)
                    progress(f"publishing {args.publish} practices")
                    published, missed = await publish_to_searchable(
                        client, settings, library, author, reviewer, args.publish
                    )
            finally:
                # Leave the shared servers as found: the practices' index and template, and their
                # database (below).
                await index.search.indices.delete(index=f"{index.alias}-v*", ignore_unavailable=True)
                await index.search.indices.delete_index_template(name=f"{index.alias}-template", ignore=404)
    finally:
        # Once the service has stopped: its last writes (releasing its leases) would create the
        # database again.
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(servers.mongo_url)
        await mongo.drop_database(database)
        await mongo.close()

    api_rate, raw_rate = args.searches / api.seconds, args.searches / raw.seconds
    lines += [
        f"\nlibrary: {args.library:,} generated practices in {len(EU_LANGUAGES)} languages bulk-loaded in "
        f"{load_seconds:.1f} s ({args.library / load_seconds:.0f} practices/s); {stored:,} in the index",
        f"{args.searches:,} searches each way, {args.concurrency} clients at a time, {args.rounds} alternating rounds, "
        f"{distinct} distinct queries ({', '.join(KINDS)})\n",
        f"{'search API (FastAPI in process)':<36} {api_rate:7.1f} queries/s   {percentiles(api.all)}",
        f"{'raw opensearch-py, same bodies':<36} {raw_rate:7.1f} queries/s   {percentiles(raw.all)}",
    ]
    for kind in KINDS:
        if api.latencies[kind]:
            api_median, raw_median = statistics.median(api.latencies[kind]), statistics.median(raw.latencies[kind])
            lines.append(
                f"  {kind:<14} p50  API {api_median * 1000:6.1f} ms  raw {raw_median * 1000:6.1f} ms   "
                f"({len(api.latencies[kind])} each)"
            )
    lines += [
        f"fell back to any word: API {api.fell_back}, raw {raw.fell_back}",
        f"\nsearch API / raw throughput:  {api_rate / raw_rate:.2f}   (goal 0.85)",
        f"\npublish to searchable ({len(published)} practices, from the review's answer, polled every 20 ms): "
        f"{seconds(published)}" + (f"   ({missed} not found within 30 s)" if missed else ""),
        f"peak memory (RSS) of this process:  {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB",
    ]
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--practices", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--existing", type=int, default=100_000, help="practices added before the second indexing")
    parser.add_argument("--library", type=int, default=2000, help="generated practices loaded for part 2")
    parser.add_argument("--searches", type=int, default=2000, help="searches each way (API, raw) in part 2")
    parser.add_argument("--concurrency", type=int, default=8, help="clients searching at a time")
    parser.add_argument("--rounds", type=int, default=10, help="alternating rounds the searches are split into")
    parser.add_argument("--publish", type=int, default=50, help="practices published in part 3")
    args = parser.parse_args()
    with provide_servers() as servers:
        asyncio.run(run(servers, args))


if __name__ == "__main__":
    main()
