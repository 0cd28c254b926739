"""A published practice as harvesting repositories read it: schema.org LearningResource with
LRMI properties (JSON-LD) and simple Dublin Core in the oai_dc container; nothing of a practice
that is not published."""

from __future__ import annotations

import uuid
from xml.etree import ElementTree

import pytest
from hub_testing import ServiceUnderTest
from practice_steps import metadata, publish, submit

pytestmark = pytest.mark.e2e

DC = "{http://purl.org/dc/elements/1.1/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


async def test_a_published_practice_is_a_learning_resource_and_a_dublin_core_record(
    practices: ServiceUnderTest,
) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    practice_id = await submit(practices, "author-5", metadata(tag, target_groups=["teacher"]))
    draft = await practices.client.get(f"/practices/{practice_id}/lrmi")
    assert draft.status_code == 404, "not before it is published"
    await publish(practices, practice_id)

    lrmi = await practices.client.get(f"/practices/{practice_id}/lrmi")
    assert lrmi.headers["content-type"] == "application/ld+json"
    resource = lrmi.json()
    assert (resource["@context"], resource["@type"]) == ("https://schema.org/", "LearningResource")
    assert resource["@id"].endswith(f"/practices/{practice_id}")
    assert {"@language": "de", "@value": "Programmierclubs an ländlichen Schulen"} in resource["name"]
    assert resource["inLanguage"] == ["en", "de", "pl"]
    assert resource["license"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert [level["termCode"] for level in resource["educationalLevel"]] == ["1", "2"]
    assert resource["teaches"][0] | {"termCode": "3.4", "inDefinedTermSet": "DigComp 2.2"} == resource["teaches"][0]
    assert resource["audience"] == [{"@type": "EducationalAudience", "educationalRole": "teacher"}]
    assert resource["learningResourceType"] == "handbook"
    assert "datePublished" in resource

    dc = await practices.client.get(f"/practices/{practice_id}/dc")
    record = ElementTree.fromstring(dc.text)
    assert record.tag == "{http://www.openarchives.org/OAI/2.0/oai_dc/}dc"
    titles = {element.get(XML_LANG): element.text for element in record.findall(f"{DC}title")}
    assert titles["pl"] == "Kluby programowania w szkołach wiejskich"
    assert [element.text for element in record.findall(f"{DC}language")] == ["en", "de", "pl"]
    assert record.findtext(f"{DC}identifier") == resource["url"]
    assert record.findtext(f"{DC}rights") == resource["license"]
    assert {element.text for element in record.findall(f"{DC}coverage")} == {"Poland", "Germany"}
    assert (await practices.client.get("/practices/no-such-practice/dc")).status_code == 404
