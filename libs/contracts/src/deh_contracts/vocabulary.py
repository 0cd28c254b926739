"""The hub's reference vocabularies (from reference/taxonomies.json) as validated string types.

Each type is a plain string for producers in any language, with its allowed values listed in the
JSON Schema (`enum`). Adding a value is an additive change; removing one breaks the contract.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema

TAXONOMIES: dict[str, Any] = json.loads(resources.files(__package__).joinpath("reference/taxonomies.json").read_text())

EU_MEMBER_STATES: dict[str, str] = TAXONOMIES["eu_member_states"]
ERASMUS_ASSOCIATED_COUNTRIES: dict[str, str] = TAXONOMIES["erasmus_associated_countries"]
EU_LANGUAGES: dict[str, str] = {code: entry["name"] for code, entry in TAXONOMIES["eu_official_languages"].items()}
ISCED_LEVELS: dict[str, str] = TAXONOMIES["isced_2011_levels"]
DIGCOMP_COMPETENCES: dict[str, str] = {
    code: name for area in TAXONOMIES["digcomp_2_2"].values() for code, name in area["competences"].items()
}
DIGCOMPEDU_COMPETENCES: dict[str, str] = {
    code: name for area in TAXONOMIES["digcompedu"].values() for code, name in area["competences"].items()
}
SECTORS: list[str] = TAXONOMIES["sectors"]
ORGANISATION_TYPES: list[str] = TAXONOMIES["organisation_types"]
EVENT_KINDS: list[str] = TAXONOMIES["event_kinds"]
EU_LEVEL_TARGETS: dict[str, str] = {target["id"]: target["text"] for target in TAXONOMIES["eu_level_targets"]}


def _one_of(what: str, allowed: Iterable[str]) -> Callable[[str], str]:
    values = frozenset(allowed)

    def check(value: str) -> str:
        if value not in values:
            raise ValueError(f"unknown {what} {value!r}")
        return value

    return check


def _enum(values: Iterable[str]) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": list(values)})


MemberState = Annotated[str, AfterValidator(_one_of("EU member state", EU_MEMBER_STATES)), _enum(EU_MEMBER_STATES)]
_COUNTRIES = [*EU_MEMBER_STATES, *ERASMUS_ASSOCIATED_COUNTRIES]
Country = Annotated[str, AfterValidator(_one_of("country", _COUNTRIES)), _enum(_COUNTRIES)]
"""An EU member state or an Erasmus+ associated country (ISO 3166-1 alpha-2)."""
Language = Annotated[str, AfterValidator(_one_of("EU official language", EU_LANGUAGES)), _enum(EU_LANGUAGES)]
IscedLevel = Annotated[str, AfterValidator(_one_of("ISCED 2011 level", ISCED_LEVELS)), _enum(ISCED_LEVELS)]
DigCompCompetence = Annotated[
    str, AfterValidator(_one_of("DigComp 2.2 competence", DIGCOMP_COMPETENCES)), _enum(DIGCOMP_COMPETENCES)
]
DigCompEduCompetence = Annotated[
    str, AfterValidator(_one_of("DigCompEdu competence", DIGCOMPEDU_COMPETENCES)), _enum(DIGCOMPEDU_COMPETENCES)
]
Sector = Annotated[str, AfterValidator(_one_of("sector", SECTORS)), _enum(SECTORS)]
OrganisationType = Annotated[
    str, AfterValidator(_one_of("organisation type", ORGANISATION_TYPES)), _enum(ORGANISATION_TYPES)
]
EventKind = Annotated[str, AfterValidator(_one_of("event kind", EVENT_KINDS)), _enum(EVENT_KINDS)]
EuLevelTarget = Annotated[str, AfterValidator(_one_of("EU-level target", EU_LEVEL_TARGETS)), _enum(EU_LEVEL_TARGETS)]
