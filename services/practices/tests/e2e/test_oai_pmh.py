"""OAI-PMH 2.0 on the real servers: a harvest in pages of resumption tokens returns every
published practice exactly once, archived ones as deleted records, never a draft; sets,
`from`, GetRecord and the protocol's errors. Every answer is checked against the OAI-PMH 2.0
schema and every record against oai_dc's."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from xml.etree import ElementTree

import pytest
from hub_testing import ServiceUnderTest, active_in_practices, isolated_settings, running
from oai_schemas import assert_valid_oai
from practice_steps import metadata, publish, submit
from rdflib import Graph
from rdflib.compare import isomorphic

from deh_practices.app import create_app
from deh_practices.domain.open_metadata import LINK_PROPERTIES as LINKS
from deh_practices.settings import PracticesSettings
from deh_stack.testing import ServerAddresses

pytestmark = pytest.mark.e2e

OAI = "{http://www.openarchives.org/OAI/2.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
PAGE = 3


@pytest.fixture(scope="module")
async def repository(servers: ServerAddresses) -> AsyncIterator[ServiceUnderTest]:
    """A library of its own, harvested in pages of three."""
    settings = isolated_settings(PracticesSettings, servers, oai_page_size=PAGE, search_upgrade_check_seconds=0)
    async with running(create_app(settings)) as service:
        await active_in_practices(service, servers, "author-1", "reviewer-1")
        yield service


async def oai(hub: ServiceUnderTest, **arguments: str) -> ElementTree.Element:
    """An answer of the repository, valid against the OAI-PMH and oai_dc schemas (every one)."""
    response = await hub.client.get("/oai", params=arguments)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert_valid_oai(response.content)
    return ElementTree.fromstring(response.content)


def error_code(answer: ElementTree.Element) -> str | None:
    error = answer.find(f"{OAI}error")
    return None if error is None else error.get("code")


async def harvest(hub: ServiceUnderTest, verb: str, **arguments: str) -> list[ElementTree.Element]:
    """Every header of a list, following its resumption tokens; checks the tokens' counts."""
    answer = await oai(hub, verb=verb, metadataPrefix="oai_dc", **arguments)
    headers: list[ElementTree.Element] = []
    while True:
        assert error_code(answer) is None, ElementTree.tostring(answer)
        listed = answer.find(f"{OAI}{verb}")
        assert listed is not None
        headers += listed.iter(f"{OAI}header")
        token = listed.find(f"{OAI}resumptionToken")
        if token is None or not token.text:
            if token is not None:
                assert int(token.get("completeListSize", "-1")) == len(headers)
            return headers
        answer = await oai(hub, verb=verb, resumptionToken=token.text)


async def test_a_harvest_returns_every_published_practice_once_and_archived_ones_as_deleted(
    repository: ServiceUnderTest,
) -> None:
    hub = repository
    tag = f"t{uuid.uuid4().hex[:8]}"

    async def published(countries: list[str], title: str = "Coding clubs") -> str:
        practice_id = await submit(hub, "author-1", metadata(tag, countries=countries, title={"en": title}))
        await publish(hub, practice_id)
        return practice_id

    latvian = [await published(["LV"]) for _ in range(2)]
    others = [await published(["DE"]) for _ in range(5)]
    draft = await submit(hub, "author-1", metadata(tag), submit=False)
    archived = others[0]
    answer = await hub.client.post(
        f"/practices/{archived}/archive", json={"reason": "Outdated."}, headers=hub.caller("author-1")
    )
    assert answer.status_code == 200, answer.text
    edited = others[1]
    changed = await hub.client.put(
        f"/practices/{edited}",
        json={"metadata": metadata(tag, countries=["DE"], title={"en": "Not yet reviewed"}), "body": "New."},
        headers=hub.caller("author-1"),
    )
    assert changed.status_code == 200, changed.text

    headers = await harvest(hub, "ListIdentifiers")
    identifiers = [header.findtext(f"{OAI}identifier") or "" for header in headers]
    assert len(identifiers) == len(set(identifiers)), "each record once"
    assert {identifier.rsplit(":", 1)[1] for identifier in identifiers} == {*latvian, *others}, "never a draft"
    assert draft not in "".join(identifiers)
    deleted = {header.findtext(f"{OAI}identifier") for header in headers if header.get("status") == "deleted"}
    assert deleted == {f"oai:hub.localhost:{archived}"}

    in_latvia = await harvest(hub, "ListRecords", set="country:LV")
    assert {header.findtext(f"{OAI}identifier", "").rsplit(":", 1)[1] for header in in_latvia} == set(latvian)

    record = await oai(hub, verb="GetRecord", identifier=f"oai:hub.localhost:{edited}", metadataPrefix="oai_dc")
    assert record.findtext(f".//{DC}title") == "Coding clubs", "the version published, not the one in review"
    gone = await oai(hub, verb="GetRecord", identifier=f"oai:hub.localhost:{archived}", metadataPrefix="oai_dc")
    assert gone.find(f".//{OAI}header").get("status") == "deleted"  # type: ignore[union-attr]
    assert gone.find(f".//{OAI}metadata") is None


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"verb": "Harvest"}, "badVerb"),
        ({"verb": "ListRecords"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "marc21"}, "cannotDisseminateFormat"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2999-01-01"}, "noRecordsMatch"),
        ({"verb": "ListRecords", "resumptionToken": "forged"}, "badResumptionToken"),
        ({"verb": "GetRecord", "identifier": "oai:hub.localhost:nope", "metadataPrefix": "oai_dc"}, "idDoesNotExist"),
        # Arguments not of the protocol's form; none is repeated in the answer, which stays valid.
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "garbage"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "no such set"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "a b"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "sector:\x01"}, "badArgument"),
        ({"verb": "GetRecord", "identifier": "oai:hub.localhost:\x00", "metadataPrefix": "oai_dc"}, "badArgument"),
        ({"verb": "ListRecords", "resumptionToken": "\x01"}, "badResumptionToken"),
    ],
)
async def test_the_protocols_errors(repository: ServiceUnderTest, arguments: dict[str, Any], code: str) -> None:
    assert error_code(await oai(repository, **arguments)) == code


async def test_identify_says_how_the_repository_keeps_deleted_records(repository: ServiceUnderTest) -> None:
    identify = (await oai(repository, verb="Identify")).find(f"{OAI}Identify")
    assert identify is not None
    assert identify.findtext(f"{OAI}deletedRecord") == "persistent"
    assert identify.findtext(f"{OAI}granularity") == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.findtext(f"{OAI}protocolVersion") == "2.0"


async def test_a_record_in_lrmi_is_the_same_graph_as_the_practices_json_ld(repository: ServiceUnderTest) -> None:
    formats = await oai(repository, verb="ListMetadataFormats")
    assert [prefix.text for prefix in formats.iter(f"{OAI}metadataPrefix")] == ["oai_dc", "lrmi"]
    tag = f"t{uuid.uuid4().hex[:8]}"
    described = metadata(tag, target_groups=["teacher"], accessibility_features=["captions"], isced_levels=["2"])
    practice_id = await submit(repository, "author-1", described)
    await publish(repository, practice_id)

    answer = await oai(
        repository, verb="GetRecord", identifier=f"oai:hub.localhost:{practice_id}", metadataPrefix="lrmi"
    )
    rdf_xml = answer.find(f"{OAI}GetRecord/{OAI}record/{OAI}metadata/{RDF}RDF")
    assert rdf_xml is not None
    from_oai = Graph().parse(data=ElementTree.tostring(rdf_xml), format="xml")
    json_ld = (await repository.client.get(f"/practices/{practice_id}/lrmi")).json()
    # schema.org's own context is on the web, out of reach: this one reads its terms and takes the
    # addresses as links, as that one does; it may also type some values (dates), which this does not.
    json_ld["@context"] = {"@vocab": "https://schema.org/", **{name: {"@type": "@id"} for name in LINKS}}
    from_json_ld = Graph().parse(data=json.dumps(json_ld), format="json-ld")
    assert len(from_oai) > 20
    assert isomorphic(from_oai, from_json_ld), from_oai.serialize(format="turtle")


async def test_a_harvester_may_post_its_arguments_as_a_form(repository: ServiceUnderTest) -> None:
    form = {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": "country:LV"}
    posted = await repository.client.post("/oai", data=form)
    assert posted.status_code == 200, posted.text
    assert_valid_oai(posted.content)
    fetched = await oai(repository, **form)
    identifiers = [element.text for element in ElementTree.fromstring(posted.content).iter(f"{OAI}identifier")]
    assert identifiers
    assert identifiers == [element.text for element in fetched.iter(f"{OAI}identifier")]
    refused = await repository.client.post("/oai", content=b"verb=%FF", headers={"content-type": FORM})
    assert refused.status_code == 422


FORM = "application/x-www-form-urlencoded"
