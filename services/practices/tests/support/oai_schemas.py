"""OAI-PMH answers checked against XML Schemas (lxml): the OAI-PMH 2.0 response schema, and each
oai_dc record against unqualified Dublin Core (see schemas/ for where each file comes from)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

SCHEMAS = Path(__file__).parent / "schemas"
OAI_DC = "{http://www.openarchives.org/OAI/2.0/oai_dc/}dc"


@cache
def _schema(name: str) -> etree.XMLSchema:
    # No network: every import is a file beside the schema.
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name), parser))


def assert_valid_oai(answer: bytes) -> None:
    """The whole answer against OAI-PMH.xsd, then every oai_dc record in it against oai_dc.xsd."""
    document = etree.fromstring(answer, etree.XMLParser(no_network=True, resolve_entities=False))
    for schema, element in [("OAI-PMH.xsd", document), *(("oai_dc.xsd", dc) for dc in document.iter(OAI_DC))]:
        if not _schema(schema).validate(element):
            problems = "; ".join(f"line {e.line}: {e.message}" for e in _schema(schema).error_log)
            raise AssertionError(f"not valid against {schema}: {problems}")
