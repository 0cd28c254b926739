"""Partners' observations: checked, recorded, answered with an outcome, and shown as progress
towards the EU-level targets; a correction replaces the value, a bad one is rejected with the
field and the reason."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hub_testing import Partner, ServiceUnderTest, events_on, onboarded

from deh_contracts import new_event, to_kafka
from deh_contracts.catalogue.inbound import ObservationSubmitted
from deh_contracts.catalogue.monitoring import ObservationValue
from deh_contracts.envelope import KafkaRecord
from deh_contracts.registry import MONITORING, OBSERVATIONS
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.e2e
EUROSTAT = "eurostat-importer"


@pytest.fixture(scope="module")
async def eurostat(servers: ServerAddresses) -> Partner:
    """The partner that sends observations, onboarded with its own Kafka user and topics."""
    return await onboarded(servers, EUROSTAT)


def submission(external_id: str, value: float, **changes: Any) -> KafkaRecord:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "indicator": "adults_at_least_basic_digital_skills",
        "target": "adults_basic_digital_skills",
        "period_start": now - timedelta(days=365),
        "period_end": now,
        "value": value,
        "unit": "percent",
        "source": "Eurostat isoc_sk_dskl_i21",
    }
    observation = ObservationValue(**{**fields, **changes})
    submitted = ObservationSubmitted(partner=EUROSTAT, external_id=external_id, observation=observation)
    return to_kafka(new_event(submitted, source=f"/partners/{EUROSTAT}"))


async def outcome_of(eurostat: Partner, record: KafkaRecord) -> dict[str, Any]:
    request_id = dict(record.headers)["ce_id"].decode()

    async def answered() -> dict[str, Any] | None:
        found = [e for e in await eurostat.outcomes() if e.data.get("request_id") == request_id]
        return {"type": found[0].type, **found[0].data} if found else None

    return await eventually(answered, within=30, interval=0.5)


async def latest(monitoring: ServiceUnderTest) -> dict[str, Any]:
    targets = (await monitoring.client.get("/targets")).json()
    found: dict[str, Any] = next(t for t in targets if t["target"]["id"] == "adults_basic_digital_skills")
    return found


async def test_an_observation_is_recorded_answered_and_shown_as_progress_and_a_correction_replaces_it(
    monitoring: ServiceUnderTest, servers: ServerAddresses, eurostat: Partner
) -> None:
    external_id = f"dsk-{uuid.uuid4().hex[:8]}"
    first = submission(external_id, 55.6)
    await eurostat.send(first)
    accepted = await outcome_of(eurostat, first)
    assert accepted["type"].endswith("submission.accepted.v1")
    assert accepted["kind"] == "observation"
    recorded = [e for e in await events_on(servers, MONITORING) if e.data["observation_id"] == accepted["accepted_id"]]
    assert recorded
    assert recorded[0].data["observation"]["value"] == 55.6

    async def shown(value: float) -> dict[str, Any] | None:
        found = await latest(monitoring)
        return found if found["latest"] and found["latest"]["value"] == value else None

    progress = await eventually(lambda: shown(55.6), within=60, interval=0.5)
    assert progress["progress"] == round((55.6 - 53.9) / (80.0 - 53.9), 3)
    assert progress["reached"] is False
    assert progress["target"]["baseline"]["year"] == 2021

    correction = submission(external_id, 56.0)
    await eurostat.send(correction)
    assert (await outcome_of(eurostat, correction))["accepted_id"] == accepted["accepted_id"]
    await eventually(lambda: shown(56.0), within=60, interval=0.5)


@pytest.mark.parametrize(
    ("changes", "location"),
    [
        ({"value": 120.0}, "observation.value"),
        ({"unit": "persons"}, "observation.unit"),
        ({"indicator": "something_else"}, "observation.indicator"),
    ],
)
async def test_an_observation_that_cannot_be_true_is_rejected_with_the_field(
    monitoring: ServiceUnderTest, eurostat: Partner, changes: dict[str, Any], location: str
) -> None:
    value = changes.pop("value", 50.0)
    record = submission(f"bad-{uuid.uuid4().hex[:8]}", value, **changes)
    await eurostat.send(record)
    rejected = await outcome_of(eurostat, record)
    assert rejected["type"].endswith("submission.rejected.v1")
    assert [reason["location"] for reason in rejected["reasons"]] == [location]


async def test_a_message_that_breaks_the_contract_is_rejected_not_dropped(
    monitoring: ServiceUnderTest, eurostat: Partner
) -> None:
    good = submission(f"broken-{uuid.uuid4().hex[:8]}", 50.0)
    broken = KafkaRecord(
        OBSERVATIONS.of_partner(EUROSTAT),
        good.key,
        b'{"partner": "eurostat-importer", "external_id": "x"}',
        good.headers,
    )
    await eurostat.send(broken)
    rejected = await outcome_of(eurostat, broken)
    assert rejected["type"].endswith("submission.rejected.v1")
    assert rejected["partner"] == "eurostat-importer"
    assert "data.observation" in {reason["location"] for reason in rejected["reasons"]}


async def test_the_overview_page_shows_progress_towards_the_targets_and_escapes_what_partners_send(
    monitoring: ServiceUnderTest, eurostat: Partner
) -> None:
    record = submission(f"page-{uuid.uuid4().hex[:8]}", 57.5, source="<script>alert(1)</script>")
    await eurostat.send(record)
    await outcome_of(eurostat, record)

    async def shown() -> str | None:
        response = await monitoring.client.get("/overview")
        assert response.status_code == 200
        return response.text if "latest 57.5 percent (" in response.text else None

    page = await eventually(shown, within=60, interval=0.5)
    assert response_has_every_section(page)
    assert "progress 14%" in page  # (57.5 - 53.9) / (80 - 53.9)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the partner's text, shown as text


def response_has_every_section(page: str) -> bool:
    return all(f'<section id="{name}">' in page for name in ("targets", "trends", "knowledge-map"))


async def test_two_partners_with_the_same_ids_record_two_observations(
    monitoring: ServiceUnderTest, servers: ServerAddresses, eurostat: Partner
) -> None:
    other = await onboarded(servers)
    external_id, message_id = f"shared-{uuid.uuid4().hex[:8]}", f"message-{uuid.uuid4().hex[:8]}"
    theirs = ObservationSubmitted.model_validate_json(submission(external_id, 51.0).value)
    sent = [
        (eurostat, eurostat.record(theirs, event_id=message_id)),
        (other, other.record(theirs.model_copy(update={"partner": other.name}), event_id=message_id)),
    ]
    for partner, record in sent:
        await partner.send(record)

    accepted = {(await outcome_of(partner, record))["accepted_id"] for partner, record in sent}
    assert len(accepted) == 2, "one observation each"

    async def both_recorded() -> list[Any] | None:
        found = [e for e in await events_on(servers, MONITORING) if e.data["observation_id"] in accepted]
        # A redelivery (the new partner's topic makes the group rebalance) publishes a recording
        # again, with the same id: what counts are the distinct ones.
        return found if {event.data["observation_id"] for event in found} == accepted else None

    recorded = await eventually(both_recorded, within=30, interval=0.5)
    assert len({event.headers["ce_id"] for event in recorded}) == 2, "two recordings, not one deduplicated"
