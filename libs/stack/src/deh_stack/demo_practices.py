"""Realistic multilingual demo practices for the local hub and the benchmarks (no I/O).

Titles and summaries are real sentences in each language, with the inflected forms that make
stemming matter (Schulen/Schule, szkołach/szkoła, prasmes/prasme)."""

from __future__ import annotations

import random
from typing import Any

THEMES: list[dict[str, Any]] = [
    {
        "topic": "coding",
        "digcomp": ["3.4"],
        "title": {
            "en": "Coding clubs in rural schools",
            "de": "Programmier-AGs an ländlichen Schulen",
            "fr": "Clubs de programmation dans les écoles rurales",
            "es": "Clubes de programación en escuelas rurales",
            "it": "Club di programmazione nelle scuole rurali",
            "pl": "Kluby programowania w szkołach wiejskich",
            "lv": "Programmēšanas pulciņi lauku skolās",
        },
        "summary": {
            "en": "Volunteers and teachers run weekly coding clubs where children build games and robots.",
            "de": "Freiwillige und Lehrkräfte leiten wöchentliche Programmier-AGs, in denen Kinder Spiele und Roboter bauen.",
            "fr": "Des bénévoles et des enseignants animent des clubs où les enfants créent des jeux et des robots.",
            "es": "Voluntarios y docentes dirigen clubes semanales donde los niños crean juegos y robots.",
            "it": "Volontari e insegnanti guidano club settimanali in cui i bambini costruiscono giochi e robot.",
            "pl": "Wolontariusze i nauczyciele prowadzą cotygodniowe kluby, w których dzieci budują gry i roboty.",
            "lv": "Brīvprātīgie un skolotāji vada nodarbības, kurās bērni veido spēles un robotus.",
        },
    },
    {
        "topic": "ai-in-education",
        "digcomp": ["1.2", "2.6"],
        "title": {
            "en": "Teaching with generative AI: a handbook for teachers",
            "de": "Unterrichten mit generativer KI: ein Handbuch für Lehrkräfte",
            "fr": "Enseigner avec l'IA générative : un guide pour les enseignants",
            "es": "Enseñar con IA generativa: un manual para docentes",
            "it": "Insegnare con l'IA generativa: un manuale per gli insegnanti",
            "pl": "Nauczanie z generatywną sztuczną inteligencją: poradnik dla nauczycieli",
            "lv": "Mācīšana ar ģeneratīvo mākslīgo intelektu: rokasgrāmata skolotājiem",
        },
        "summary": {
            "en": "Lesson plans, classroom rules and assessment ideas for using AI assistants responsibly.",
            "de": "Unterrichtsentwürfe, Klassenregeln und Prüfungsideen für den verantwortungsvollen Einsatz von KI-Assistenten.",
            "fr": "Des séquences, des règles de classe et des idées d'évaluation pour utiliser les assistants d'IA.",
            "es": "Planes de clase, normas y propuestas de evaluación para usar asistentes de IA con responsabilidad.",
            "it": "Piani di lezione, regole di classe e idee di valutazione per usare gli assistenti di IA.",
            "pl": "Scenariusze lekcji, zasady w klasie i pomysły na ocenianie przy korzystaniu z asystentów AI.",
            "lv": "Stundu plāni, klases noteikumi un vērtēšanas idejas atbildīgai mākslīgā intelekta izmantošanai.",
        },
    },
    {
        "topic": "digital-inclusion",
        "digcomp": ["1.1", "2.1"],
        "title": {
            "en": "Digital skills for older adults in public libraries",
            "de": "Digitale Kompetenzen für ältere Menschen in öffentlichen Bibliotheken",
            "fr": "Compétences numériques pour les seniors dans les bibliothèques publiques",
            "es": "Competencias digitales para personas mayores en bibliotecas públicas",
            "it": "Competenze digitali per gli anziani nelle biblioteche pubbliche",
            "pl": "Umiejętności cyfrowe dla seniorów w bibliotekach publicznych",
            "lv": "Digitālās prasmes senioriem publiskajās bibliotēkās",
        },
        "summary": {
            "en": "Librarians teach seniors to use e-government services, video calls and online banking safely.",
            "de": "Bibliothekare zeigen Senioren, wie sie Behördendienste, Videoanrufe und Online-Banking sicher nutzen.",
            "fr": "Les bibliothécaires apprennent aux seniors à utiliser les services publics en ligne et la banque en ligne.",
            "es": "El personal bibliotecario enseña a las personas mayores a usar servicios públicos y banca en línea.",
            "it": "I bibliotecari insegnano agli anziani a usare i servizi pubblici digitali e la banca online.",
            "pl": "Bibliotekarze uczą seniorów korzystania z e-usług, rozmów wideo i bankowości internetowej.",
            "lv": "Bibliotekāri māca senioriem droši lietot e-pakalpojumus, videozvanus un internetbanku.",
        },
    },
    {
        "topic": "micro-credentials",
        "digcomp": ["5.4"],
        "title": {
            "en": "Micro-credentials for vocational teachers",
            "de": "Microcredentials für Lehrkräfte an Berufsschulen",
            "fr": "Micro-certifications pour les enseignants de la formation professionnelle",
            "es": "Microcredenciales para docentes de formación profesional",
            "it": "Micro-credenziali per i docenti dell'istruzione professionale",
            "pl": "Mikropoświadczenia dla nauczycieli szkół zawodowych",
            "lv": "Mikrokvalifikācijas profesionālās izglītības skolotājiem",
        },
        "summary": {
            "en": "Short certified courses on digital teaching that count towards professional development.",
            "de": "Kurze zertifizierte Kurse zum digitalen Unterrichten, die für die Fortbildung anerkannt werden.",
            "fr": "Des formations courtes et certifiées sur l'enseignement numérique, reconnues pour le développement professionnel.",
            "es": "Cursos breves certificados sobre docencia digital que cuentan para el desarrollo profesional.",
            "it": "Brevi corsi certificati sulla didattica digitale riconosciuti per lo sviluppo professionale.",
            "pl": "Krótkie certyfikowane kursy nauczania cyfrowego uznawane w rozwoju zawodowym.",
            "lv": "Īsi sertificēti kursi par digitālo mācīšanu, kas tiek ieskaitīti profesionālajā pilnveidē.",
        },
    },
    {
        "topic": "online-safety",
        "digcomp": ["4.2", "4.3"],
        "title": {
            "en": "Online safety lessons for primary pupils",
            "de": "Unterrichtsstunden zur Online-Sicherheit für Grundschüler",
            "fr": "Des leçons de sécurité en ligne pour les élèves du primaire",
            "es": "Lecciones de seguridad en línea para alumnos de primaria",
            "it": "Lezioni di sicurezza online per gli alunni della scuola primaria",
            "pl": "Lekcje bezpieczeństwa w sieci dla uczniów szkół podstawowych",
            "lv": "Drošības internetā nodarbības sākumskolas skolēniem",
        },
        "summary": {
            "en": "Playful lessons about passwords, privacy and kindness online, with material for parents.",
            "de": "Spielerische Stunden über Passwörter, Privatsphäre und Freundlichkeit im Netz, mit Material für Eltern.",
            "fr": "Des leçons ludiques sur les mots de passe, la vie privée et la bienveillance en ligne.",
            "es": "Lecciones lúdicas sobre contraseñas, privacidad y amabilidad en internet, con material para familias.",
            "it": "Lezioni giocose su password, privacy e gentilezza in rete, con materiali per i genitori.",
            "pl": "Zabawne lekcje o hasłach, prywatności i życzliwości w sieci, z materiałami dla rodziców.",
            "lv": "Rotaļīgas nodarbības par parolēm, privātumu un laipnību internetā, ar materiāliem vecākiem.",
        },
    },
]
COUNTRIES = ["AT", "BE", "DE", "EE", "ES", "FR", "IT", "LV", "LT", "PL", "PT", "SE", "FI", "IE", "NL"]
SECTORS = ["school", "vet", "higher_education", "adult_learning", "youth", "early_childhood"]
RESULT_TYPES = ["handbook", "curriculum", "course", "tool", "case_study", "policy_recommendation"]
LICENCES = ["CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0"]


def demo_practices(count: int, seed: int = 2026) -> list[dict[str, Any]]:
    """`count` practice submissions ({"metadata": ..., "body": ...}), the same for the same seed."""
    chance = random.Random(seed)
    practices = []
    for number in range(count):
        theme = THEMES[number % len(THEMES)]
        others = chance.sample([language for language in theme["title"] if language != "en"], k=chance.randint(1, 2))
        languages = ["en", *others]
        european_project = chance.random() < 0.4
        country = chance.choice(COUNTRIES)
        origin = (
            {"kind": "eu_project", "reference": f"2024-1-{country}01-KA220-SCH-{100000 + number:09d}"}
            if european_project
            else {"kind": "community"}
        )
        metadata = {
            "title": {language: theme["title"][language] for language in languages},
            "summary": {language: theme["summary"][language] for language in languages},
            "languages": languages,
            "countries": sorted({country, chance.choice(COUNTRIES)}),
            "sectors": chance.sample(SECTORS, k=chance.randint(1, 2)),
            "isced_levels": sorted(chance.sample(["1", "2", "3", "4", "5", "6"], k=2)),
            "topics": [theme["topic"]],
            "digcomp": theme["digcomp"],
            "digcompedu": [chance.choice(["2.1", "3.1", "3.3", "5.1", "6.1"])],
            "target_groups": [chance.choice(["teacher", "student", "mentor", "administrator", "parent"])],
            "accessibility_features": chance.sample(["captions", "transcript", "alternativeText", "ARIA"], k=1),
            "licence": chance.choice(LICENCES),
            "result_type": chance.choice(RESULT_TYPES),
            "origin": origin,
        }
        body = f"{theme['summary']['en']} Tried in {country} with {chance.randint(3, 40)} groups since {chance.randint(2019, 2025)}."
        practices.append({"metadata": metadata, "body": body})
    return practices
