"""OAI-PMH 2.0 for repositories that harvest the library: the protocol's requests, arguments,
errors and resumption tokens, and the XML of its answers, as data and pure functions (the
route in adapters/http.py reads the store and writes the answer).

Records are published practices in their public view, and archived ones as deleted records
(`deletedRecord: persistent`); drafts and practices in their first review are never listed.
Datestamps are the practice's last change (seconds, UTC). Sets: `sector:<sector>` and
`country:<code>`. Metadata formats: `oai_dc` (simple Dublin Core, domain/open_metadata).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree
from xml.etree.ElementTree import Element

from deh_contracts.vocabulary import ERASMUS_ASSOCIATED_COUNTRIES, EU_MEMBER_STATES, SECTORS
from deh_practices.domain.open_metadata import OAI_DC, PUBLISHER, SCHEMA_ORG

OAI = "http://www.openarchives.org/OAI/2.0/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
# LRMI (schema.org LearningResource) as RDF/XML: RDF/XML has a grammar, not an XML Schema, so
# the format names the grammar's specification.
RDF_XML_SYNTAX = "https://www.w3.org/TR/rdf-syntax-grammar/"
EARLIEST = datetime(2024, 1, 1, tzinfo=UTC)  # before the first practice of the hub
METADATA_FORMATS = {"oai_dc": (OAI_DC_SCHEMA, OAI_DC), "lrmi": (RDF_XML_SYNTAX, SCHEMA_ORG)}
SETS = {
    **{f"sector:{sector}": f"Sector: {sector.replace('_', ' ')}" for sector in SECTORS},
    **{
        f"country:{code}": f"Country: {name}"
        for code, name in {**EU_MEMBER_STATES, **ERASMUS_ASSOCIATED_COUNTRIES}.items()
    },
}
# The forms the protocol's schema gives arguments that an answer repeats (OAI-PMH.xsd).
_PRINTABLE = r"[A-Za-z0-9\-_.!~*'()]+"
SHAPES = {
    "metadataPrefix": re.compile(_PRINTABLE),
    "set": re.compile(f"{_PRINTABLE}(:{_PRINTABLE})*"),
    "identifier": re.compile(r"[^\s\x00-\x1f<>\"]{1,300}"),
}
VERBS = {
    "Identify": (set(), set()),
    "ListMetadataFormats": (set(), {"identifier"}),
    "ListSets": (set(), {"resumptionToken"}),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
    "GetRecord": ({"identifier", "metadataPrefix"}, set()),
}


@dataclass(frozen=True)
class Repository:
    """This repository as harvesters see it: where it answers, the part of record identifiers
    that names it, whom to write to, and how many records a page of a list has."""

    base_url: str
    name: str
    admin_email: str
    page_size: int

    def identifier(self, practice_id: str) -> str:
        return f"oai:{self.name}:{practice_id}"


class OaiError(Exception):
    """An OAI-PMH error: answered with HTTP 200 and an `error` element, as the protocol says."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Selection:
    """Which records a list request asks for, and where its next page starts."""

    prefix: str
    since: datetime | None = None
    until: datetime | None = None
    set_spec: str | None = None
    after: tuple[str, str] | None = None  # the last record's datestamp and id

    def token(self, last: tuple[str, str]) -> str:
        values = [self.prefix, _text(self.since), _text(self.until), self.set_spec, *last]
        return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def request_of(arguments: Mapping[str, list[str]]) -> tuple[str, dict[str, str]]:
    """The verb and its arguments, checked against the protocol: each argument once, the
    required ones there, no other (a resumption token stands alone)."""
    verbs = arguments.get("verb", [])
    if len(verbs) != 1 or verbs[0] not in VERBS:
        raise OaiError("badVerb", "the verb is missing, repeated or not an OAI-PMH verb")
    verb = verbs[0]
    required, optional = VERBS[verb]
    given = {name: values for name, values in arguments.items() if name != "verb"}
    if any(len(values) != 1 for values in given.values()):
        raise OaiError("badArgument", "an argument is repeated")
    unknown = set(given) - required - optional
    if unknown:
        raise OaiError("badArgument", f"{verb} takes no {', '.join(sorted(unknown))}")
    single = {name: values[0] for name, values in given.items()}
    for name, value in single.items():
        if name in SHAPES and not SHAPES[name].fullmatch(value):
            raise OaiError("badArgument", f"{name} is not of the protocol's form")
    if "resumptionToken" in single:
        if len(single) > 1:
            raise OaiError("badArgument", "a resumptionToken is the only argument besides the verb")
        return verb, single
    missing = required - set(single)
    if missing:
        raise OaiError("badArgument", f"{verb} needs {', '.join(sorted(missing))}")
    return verb, single


def disseminated(prefix: str) -> str:
    if prefix not in METADATA_FORMATS:
        raise OaiError("cannotDisseminateFormat", f"no metadata format {prefix}; see ListMetadataFormats")
    return prefix


def selection_of(arguments: Mapping[str, str]) -> Selection:
    if "resumptionToken" in arguments:
        return _resumed(arguments["resumptionToken"])
    prefix = disseminated(arguments["metadataPrefix"])
    set_spec = arguments.get("set")
    if set_spec is not None and set_spec not in SETS:
        raise OaiError("badArgument", f"no set {set_spec}; see ListSets")
    since, until = _datestamp(arguments.get("from")), _datestamp(arguments.get("until"), end_of_day=True)
    if arguments.get("from") and arguments.get("until") and len(arguments["from"]) != len(arguments["until"]):
        raise OaiError("badArgument", "from and until must have the same granularity")
    if since and until and since > until:
        raise OaiError("badArgument", "from is after until")
    return Selection(prefix, since, until, set_spec)


def _resumed(token: str) -> Selection:
    try:
        prefix, since, until, set_spec, stamp, last_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return Selection(prefix, _parsed(since), _parsed(until), set_spec, (str(stamp), str(last_id)))
    except (ValueError, TypeError) as error:
        raise OaiError("badResumptionToken", "the resumptionToken is not one this repository gave") from error


def _parsed(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _text(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _datestamp(value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """A datestamp as the protocol writes them: a day, or a UTC second."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
            return day.replace(hour=23, minute=59, second=59, microsecond=999_999) if end_of_day else day
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as error:
        raise OaiError("badArgument", f"{value} is not a datestamp (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)") from error


def datestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sets_of(practice: Mapping[str, Any]) -> list[str]:
    metadata = practice["metadata"]
    return [f"sector:{sector}" for sector in metadata.get("sectors", [])] + [
        f"country:{code}" for code in metadata.get("countries", [])
    ]


# The answer ------------------------------------------------------------------------------------


def envelope(base_url: str, verb: str | None, arguments: Mapping[str, str]) -> Element:
    """The OAI-PMH root with its response date and request; the answer (`answer_of`) or the error
    (`error`) follows."""
    ElementTree.register_namespace("", OAI)
    ElementTree.register_namespace("xsi", XSI)
    root = ElementTree.Element(f"{{{OAI}}}OAI-PMH", {f"{{{XSI}}}schemaLocation": f"{OAI} {OAI_SCHEMA}"})
    _sub(root, "responseDate", datestamp(datetime.now(UTC)))
    request = _sub(root, "request", base_url)
    if verb is not None:
        request.set("verb", verb)
        for name, value in arguments.items():
            request.set(name, value)
    return root


def answer_of(root: Element, verb: str) -> Element:
    """The element an answer to `verb` goes in (none with an error: the schema allows either)."""
    return _sub(root, verb)


def error(root: Element, problem: OaiError) -> None:
    _sub(root, "error", problem.message).set("code", problem.code)


def identify(parent: Element, base_url: str, admin_email: str, earliest: datetime) -> None:
    for name, text in (
        ("repositoryName", f"{PUBLISHER}: practices"),
        ("baseURL", base_url),
        ("protocolVersion", "2.0"),
        ("adminEmail", admin_email),
        ("earliestDatestamp", datestamp(earliest)),
        ("deletedRecord", "persistent"),
        ("granularity", "YYYY-MM-DDThh:mm:ssZ"),
    ):
        _sub(parent, name, text)


def metadata_formats(parent: Element) -> None:
    for prefix, (schema, namespace) in METADATA_FORMATS.items():
        entry = _sub(parent, "metadataFormat")
        _sub(entry, "metadataPrefix", prefix)
        _sub(entry, "schema", schema)
        _sub(entry, "metadataNamespace", namespace)


def list_sets(parent: Element) -> None:
    for spec, name in SETS.items():
        entry = _sub(parent, "set")
        _sub(entry, "setSpec", spec)
        _sub(entry, "setName", name)


def header(parent: Element, identifier: str, practice: Mapping[str, Any], deleted: bool) -> None:
    element = _sub(parent, "header")
    if deleted:
        element.set("status", "deleted")
    _sub(element, "identifier", identifier)
    _sub(element, "datestamp", datestamp(practice["updated_at"]))
    for spec in sets_of(practice):
        _sub(element, "setSpec", spec)


def record(
    parent: Element,
    identifier: str,
    practice: Mapping[str, Any],
    deleted: bool,
    metadata: Element,
) -> None:
    element = _sub(parent, "record")
    header(element, identifier, practice, deleted)
    if not deleted:
        _sub(element, "metadata").append(metadata)


def resumption(parent: Element, token: str | None, complete: int) -> None:
    element = _sub(parent, "resumptionToken", token)
    element.set("completeListSize", str(complete))


def _sub(parent: Element, name: str, text: str | None = None) -> Element:
    element = ElementTree.SubElement(parent, f"{{{OAI}}}{name}")
    if text is not None:
        element.text = text
    return element


def with_schema(metadata: Element) -> Element:
    """A Dublin Core record naming its schema, as OAI-PMH metadata does."""
    metadata.set(f"{{{XSI}}}schemaLocation", f"{OAI_DC} {OAI_DC_SCHEMA}")
    return metadata
