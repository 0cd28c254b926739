"""OAI-PMH requests as the protocol defines them: verbs, arguments, datestamps, tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest

from deh_practices.domain.oai import OaiError, Selection, datestamp, request_of, selection_of
from deh_practices.domain.open_metadata import xml_document


def read(arguments: dict[str, list[str]]) -> Selection | None:
    verb, given = request_of(arguments)
    return selection_of(given) if verb.startswith("List") and verb != "ListSets" else None


def code_of(arguments: dict[str, list[str]]) -> str:
    with pytest.raises(OaiError) as refused:
        read(arguments)
    return refused.value.code


def test_verbs_and_their_arguments_are_the_protocols() -> None:
    assert request_of({"verb": ["Identify"]}) == ("Identify", {})
    assert request_of({"verb": ["ListRecords"], "metadataPrefix": ["oai_dc"], "set": ["sector:school"]})[1] == {
        "metadataPrefix": "oai_dc",
        "set": "sector:school",
    }
    assert code_of({}) == "badVerb"
    assert code_of({"verb": ["Harvest"]}) == "badVerb"
    assert code_of({"verb": ["Identify", "Identify"]}) == "badVerb"
    assert code_of({"verb": ["ListRecords"]}) == "badArgument", "metadataPrefix is required"
    assert code_of({"verb": ["Identify"], "metadataPrefix": ["oai_dc"]}) == "badArgument"
    assert code_of({"verb": ["ListRecords"], "resumptionToken": ["x"], "metadataPrefix": ["oai_dc"]}) == "badArgument"
    assert code_of({"verb": ["ListRecords"], "metadataPrefix": ["marc21"]}) == "cannotDisseminateFormat"
    assert code_of({"verb": ["ListRecords"], "metadataPrefix": ["oai_dc"], "set": ["planet:mars"]}) == "badArgument"


def test_datestamps_are_days_or_utc_seconds_of_one_granularity() -> None:
    arguments = {"metadataPrefix": "oai_dc", "from": "2026-01-01", "until": "2026-01-31"}
    selection = selection_of(arguments)
    assert selection.since == datetime(2026, 1, 1, tzinfo=UTC)
    assert selection.until == datetime(2026, 1, 31, 23, 59, 59, 999_999, tzinfo=UTC), "the whole last day"
    assert code_of({"verb": ["ListRecords"], "metadataPrefix": ["oai_dc"], "from": ["yesterday"]}) == "badArgument"
    mixed = {
        "verb": ["ListRecords"],
        "metadataPrefix": ["oai_dc"],
        "from": ["2026-01-01"],
        "until": ["2026-01-31T00:00:00Z"],
    }
    assert code_of(mixed) == "badArgument"
    backwards = {"verb": ["ListRecords"], "metadataPrefix": ["oai_dc"], "from": ["2026-02-01"], "until": ["2026-01-01"]}
    assert code_of(backwards) == "badArgument"
    assert datestamp(datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC)) == "2026-03-04T05:06:07Z"


def test_a_resumption_token_carries_the_selection_and_where_it_stopped() -> None:
    selection = Selection("oai_dc", datetime(2026, 1, 1, tzinfo=UTC), None, "country:LV")
    token = selection.token(("2026-02-03T04:05:06.789000+00:00", "p-1"))

    resumed = selection_of({"resumptionToken": token})

    assert resumed == Selection(
        "oai_dc", selection.since, None, "country:LV", ("2026-02-03T04:05:06.789000+00:00", "p-1")
    )
    assert code_of({"verb": ["ListRecords"], "resumptionToken": ["not-a-token"]}) == "badResumptionToken"


def test_a_text_with_a_character_xml_cannot_carry_shows_a_replacement_and_the_document_stays_xml() -> None:
    root = ElementTree.Element("record", {"title": "bell \x07"})
    ElementTree.SubElement(root, "title").text = "Coding\x01clubs \U0001f600"
    document = xml_document(root)
    parsed = ElementTree.fromstring(document.split("\n", 1)[1])
    assert parsed.findtext("title") == "Coding\ufffdclubs \U0001f600"
    assert parsed.get("title") == "bell \ufffd"
