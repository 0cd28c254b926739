"""The hub's reference vocabularies (from reference/taxonomies.json) and the contracts' other
closed lists, as validated string types.

Each type is a plain string for producers in any language, with its allowed values listed in the
JSON Schema (`enum`). Adding a value is an additive change; removing one breaks the contract.
Writers (HTTP input, new events) must use a listed value. A reader of another service's events is
tolerant: a value that a newer producer added is accepted as it is and reported in the list that
`tolerant_reading` puts in the validation context, so services can be deployed one by one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import date
from importlib import resources
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict, ValidationInfo, WithJsonSchema

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
SPDX_LICENCES: list[str] = TAXONOMIES["spdx_licences"]
AUDIENCE_ROLES: list[str] = TAXONOMIES["educational_audience_roles"]
ACCESSIBILITY_FEATURES: list[str] = TAXONOMIES["accessibility_features"]


UNKNOWN_VALUES = "deh_unknown_values"


def tolerant_reading(unknown_values: list[str]) -> dict[str, list[str]]:
    """The validation context of a tolerant reader: unknown values are accepted into this list."""
    return {UNKNOWN_VALUES: unknown_values}


def one_of(what: str, allowed: Iterable[str]) -> Callable[[str, ValidationInfo], str]:
    """The validator of a closed list of values (see the module's docstring for tolerance)."""
    values = frozenset(allowed)

    def check(value: str, info: ValidationInfo) -> str:
        if value in values:
            return value
        context = info.context
        if isinstance(context, dict) and isinstance(context.get(UNKNOWN_VALUES), list):
            context[UNKNOWN_VALUES].append(f"{what} {value!r}")
            return value
        raise ValueError(f"unknown {what} {value!r}")

    return check


def enum_schema(values: Iterable[str]) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": list(values)})


MemberState = Annotated[str, AfterValidator(one_of("EU member state", EU_MEMBER_STATES)), enum_schema(EU_MEMBER_STATES)]
_COUNTRIES = [*EU_MEMBER_STATES, *ERASMUS_ASSOCIATED_COUNTRIES]
Country = Annotated[str, AfterValidator(one_of("country", _COUNTRIES)), enum_schema(_COUNTRIES)]
"""An EU member state or an Erasmus+ associated country (ISO 3166-1 alpha-2)."""
Language = Annotated[str, AfterValidator(one_of("EU official language", EU_LANGUAGES)), enum_schema(EU_LANGUAGES)]
IscedLevel = Annotated[str, AfterValidator(one_of("ISCED 2011 level", ISCED_LEVELS)), enum_schema(ISCED_LEVELS)]
DigCompCompetence = Annotated[
    str, AfterValidator(one_of("DigComp 2.2 competence", DIGCOMP_COMPETENCES)), enum_schema(DIGCOMP_COMPETENCES)
]
DigCompEduCompetence = Annotated[
    str, AfterValidator(one_of("DigCompEdu competence", DIGCOMPEDU_COMPETENCES)), enum_schema(DIGCOMPEDU_COMPETENCES)
]
Sector = Annotated[str, AfterValidator(one_of("sector", SECTORS)), enum_schema(SECTORS)]
OrganisationType = Annotated[
    str, AfterValidator(one_of("organisation type", ORGANISATION_TYPES)), enum_schema(ORGANISATION_TYPES)
]
EventKind = Annotated[str, AfterValidator(one_of("event kind", EVENT_KINDS)), enum_schema(EVENT_KINDS)]
AudienceRole = Annotated[
    str, AfterValidator(one_of("educational audience role (LRMI)", AUDIENCE_ROLES)), enum_schema(AUDIENCE_ROLES)
]
AccessibilityFeature = Annotated[
    str,
    AfterValidator(one_of("accessibility feature (schema.org)", ACCESSIBILITY_FEATURES)),
    enum_schema(ACCESSIBILITY_FEATURES),
]
EuLevelTarget = Annotated[
    str, AfterValidator(one_of("EU-level target", EU_LEVEL_TARGETS)), enum_schema(EU_LEVEL_TARGETS)
]

LICENCE_REF_PATTERN = r"^LicenseRef-[A-Za-z0-9.-]{1,80}$"
_spdx_licence = one_of("SPDX licence id", SPDX_LICENCES)


def _licence(value: str, info: ValidationInfo) -> str:
    return value if re.fullmatch(LICENCE_REF_PATTERN, value) else _spdx_licence(value, info)


SpdxLicence = Annotated[
    str,
    AfterValidator(_licence),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "enum": SPDX_LICENCES},
                {"type": "string", "pattern": LICENCE_REF_PATTERN, "maxLength": 91},
            ]
        }
    ),
]
"""An SPDX licence id (`CC-BY-4.0`), `NOASSERTION` while none is chosen, or `LicenseRef-...`."""

# The id of a member, practice, event or any other resource, as a request or a token names it:
# letters, digits, "_" and "-", so that no id can become a MongoDB operator or field path.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$"
Identifier = Annotated[str, Field(min_length=1, max_length=200, pattern=IDENTIFIER_PATTERN)]


def _written_as_text(value: Any) -> Any:
    if not isinstance(value, str | date):
        raise ValueError("a date is written as text, YYYY-MM-DD")
    return value


# What people send is taken as it is written: 197.0 is not a number of places and 0 is not a day
# (pydantic's lax mode would read them as 197 and 1970-01-01).
WholeNumber = Annotated[int, Strict()]
Day = Annotated[date, BeforeValidator(_written_as_text)]
