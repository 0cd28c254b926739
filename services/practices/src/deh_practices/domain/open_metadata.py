"""A published practice as repositories that harvest describe learning resources: schema.org
`LearningResource` with the LRMI properties (JSON-LD, and the same graph in RDF/XML for OAI-PMH,
which carries XML) and simple Dublin Core (`oai_dc`, the format every OAI-PMH repository offers).
Data only: the routes and the OAI-PMH endpoint serve them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree

from deh_contracts.vocabulary import (
    DIGCOMP_COMPETENCES,
    DIGCOMPEDU_COMPETENCES,
    ERASMUS_ASSOCIATED_COUNTRIES,
    EU_MEMBER_STATES,
    ISCED_LEVELS,
)

PUBLISHER = "European Digital Education Hub"
SCHEMA_ORG = "https://schema.org/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"
# The properties whose values are web addresses (resources), not texts.
LINK_PROPERTIES = {"url", "sameAs", "license"}
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
COUNTRIES = {**EU_MEMBER_STATES, **ERASMUS_ASSOCIATED_COUNTRIES}
# A licence id links to its text in the SPDX License List (the ids are SPDX's).
SPDX_LICENCE_PAGE = "https://spdx.org/licenses/{}.html"
# schema.org's LearningResource types for the hub's result types.
LEARNING_RESOURCE_TYPES = {
    "handbook": "handbook",
    "curriculum": "curriculum",
    "course": "course",
    "policy_recommendation": "policy recommendation",
    "dataset": "dataset",
    "tool": "tool",
    "report": "report",
    "white_paper": "white paper",
    "case_study": "case study",
    "other": "learning resource",
}


def _texts(localized: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"@language": language, "@value": text} for language, text in sorted(localized.items())]


def _licence_url(licence: str) -> str | None:
    """The licence's page, for an SPDX id (not NOASSERTION, not a LicenseRef of someone's)."""
    if licence == "NOASSERTION" or licence.startswith("LicenseRef-"):
        return None
    return SPDX_LICENCE_PAGE.format(licence)


def _competences(metadata: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {"@type": "DefinedTerm", "termCode": code, "name": labels[code], "inDefinedTermSet": framework}
        for field, framework, labels in (
            ("digcomp", "DigComp 2.2", DIGCOMP_COMPETENCES),
            ("digcompedu", "DigCompEdu", DIGCOMPEDU_COMPETENCES),
        )
        for code in metadata.get(field, [])
        if code in labels
    ]


def learning_resource(practice: Mapping[str, Any], url: str) -> dict[str, Any]:
    """The practice (its public view) as a schema.org LearningResource in JSON-LD."""
    metadata = practice["metadata"]
    licence = _licence_url(metadata["licence"])
    names = [author["name"] for author in practice.get("authors", []) if author.get("name")]
    names += practice.get("author_names", [])
    resource: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "LearningResource",
        "@id": url,
        "url": url,
        "identifier": practice["_id"],
        "name": _texts(metadata["title"]),
        "description": _texts(metadata["summary"]),
        "inLanguage": list(metadata["languages"]),
        "learningResourceType": LEARNING_RESOURCE_TYPES.get(metadata["result_type"], "learning resource"),
        "educationalLevel": [
            {"@type": "DefinedTerm", "termCode": level, "name": ISCED_LEVELS[level], "inDefinedTermSet": "ISCED 2011"}
            for level in metadata.get("isced_levels", [])
            if level in ISCED_LEVELS
        ],
        "teaches": _competences(metadata),
        "keywords": list(metadata.get("topics", [])),
        "audience": [
            {"@type": "EducationalAudience", "educationalRole": group} for group in metadata.get("target_groups", [])
        ],
        "accessibilityFeature": list(metadata.get("accessibility_features", [])),
        "spatialCoverage": [
            {"@type": "Country", "identifier": code, "name": COUNTRIES.get(code, code)}
            for code in metadata.get("countries", [])
        ],
        "author": [{"@type": "Person", "name": name} for name in names],
        "publisher": {"@type": "Organization", "name": PUBLISHER},
        "version": practice["version"],
        "sameAs": list(metadata.get("links", [])),
    }
    if licence:
        resource["license"] = licence
    else:
        resource["conditionsOfAccess"] = metadata["licence"]
    if practice.get("published_at"):
        resource["datePublished"] = practice["published_at"].isoformat()
    return {name: value for name, value in resource.items() if value not in ([], None)}


# XML 1.0 carries no control character but tab and line ends: a text that holds one (a partner
# may have sent it) shows U+FFFD there rather than breaking the document.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_document(root: ElementTree.Element) -> str:
    """The element as an XML document, every text and attribute made of characters XML allows."""
    for element in root.iter():
        element.text = _NOT_XML.sub("\ufffd", element.text) if element.text else element.text
        element.tail = _NOT_XML.sub("\ufffd", element.tail) if element.tail else element.tail
        for name, value in element.attrib.items():
            element.set(name, _NOT_XML.sub("\ufffd", value))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode")


def as_rdf_xml(resource: Mapping[str, Any]) -> ElementTree.Element:
    """A LearningResource of `learning_resource` as RDF/XML: the same graph (schema.org terms,
    texts with their language, addresses as resources, nested things as blank nodes)."""
    ElementTree.register_namespace("rdf", RDF)
    ElementTree.register_namespace("schema", SCHEMA_ORG)
    root = ElementTree.Element(f"{{{RDF}}}RDF")
    _rdf_node(root, resource)
    return root


def _rdf_node(parent: ElementTree.Element, node: Mapping[str, Any]) -> None:
    element = ElementTree.SubElement(parent, f"{{{SCHEMA_ORG}}}{node['@type']}")
    if "@id" in node:
        element.set(f"{{{RDF}}}about", node["@id"])
    for name, value in node.items():
        if name.startswith("@"):
            continue
        for item in value if isinstance(value, list) else [value]:
            prop = ElementTree.SubElement(element, f"{{{SCHEMA_ORG}}}{name}")
            if isinstance(item, Mapping) and "@type" in item:
                _rdf_node(prop, item)
            elif isinstance(item, Mapping):  # a text in a language
                prop.text = item["@value"]
                prop.set(XML_LANG, item["@language"])
            elif name in LINK_PROPERTIES:
                prop.set(f"{{{RDF}}}resource", str(item))
            else:
                prop.text = str(item)
                if isinstance(item, int):
                    prop.set(f"{{{RDF}}}datatype", XSD_INTEGER)


def dublin_core(practice: Mapping[str, Any], url: str) -> ElementTree.Element:
    """The practice (its public view) as simple Dublin Core in the `oai_dc` container."""
    ElementTree.register_namespace("oai_dc", OAI_DC)
    ElementTree.register_namespace("dc", DC)
    root = ElementTree.Element(f"{{{OAI_DC}}}dc")
    metadata = practice["metadata"]

    def add(name: str, text: str, language: str | None = None) -> None:
        element = ElementTree.SubElement(root, f"{{{DC}}}{name}")
        element.text = text
        if language:
            element.set(XML_LANG, language)

    for language, title in sorted(metadata["title"].items()):
        add("title", title, language)
    for name in [author["name"] for author in practice.get("authors", []) if author.get("name")]:
        add("creator", name)
    for name in practice.get("author_names", []):
        add("creator", name)
    for topic in metadata.get("topics", []):
        add("subject", topic)
    for competence in _competences(metadata):
        add("subject", f"{competence['inDefinedTermSet']} {competence['termCode']} {competence['name']}")
    for language, summary in sorted(metadata["summary"].items()):
        add("description", summary, language)
    add("publisher", PUBLISHER)
    if practice.get("published_at"):
        add("date", practice["published_at"].date().isoformat())
    add("type", LEARNING_RESOURCE_TYPES.get(metadata["result_type"], "learning resource"))
    add("identifier", url)
    for language in metadata["languages"]:
        add("language", language)
    for code in metadata.get("countries", []):
        add("coverage", COUNTRIES.get(code, code))
    add("rights", _licence_url(metadata["licence"]) or metadata["licence"])
    return root
