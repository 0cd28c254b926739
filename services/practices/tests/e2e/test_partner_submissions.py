"""Partner systems submit and revise practices over Kafka as themselves (decisions 0017, 0018,
0019): each partner is onboarded with its own SASL/SCRAM user and topics, writes only its own
inbound topic, reads only its own outcomes, and is known by the topic it wrote to. Every
message gets one outcome; a replay the same one."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError
from hub_testing import Partner, ServiceUnderTest, onboarded, published_events, validate_against_committed_schema
from practice_steps import MODERATOR, SCORES, metadata

from deh_contracts import CloudEvent, new_event, to_kafka
from deh_contracts.catalogue.inbound import PracticeSubmissionRequested, PracticeSubmissionRevised, SubmissionAccepted
from deh_contracts.catalogue.practices import PracticeMetadata
from deh_contracts.envelope import MAX_INBOUND_BYTES, KafkaRecord
from deh_contracts.registry import OUTCOMES, PRACTICE_SUBMISSIONS, PRACTICES
from deh_platform.idempotency import derived_id
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.e2e
REFUSAL_WAIT = 20  # seconds a broker's refusal may take


@pytest.fixture
async def salto(servers: ServerAddresses) -> Partner:
    return await onboarded(servers)


def request(partner: Partner, external_id: str, tag: str, **overrides: Any) -> PracticeSubmissionRequested:
    body = metadata(tag, origin={"kind": "salto", "partner": partner.name}, **overrides)
    return PracticeSubmissionRequested(
        partner=partner.name,
        external_id=external_id,
        metadata=PracticeMetadata.model_validate(body),
        author_names=["SALTO Inclusion team"],
    )


def _first_kind(event: Any) -> str | None:
    reasons = event.data.get("reasons") or [{}]
    kind: str | None = reasons[0].get("kind")
    return kind


async def test_every_partner_message_gets_one_outcome_and_a_replay_the_same_one(
    practices: ServiceUnderTest, salto: Partner
) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    good, bad_language, broken, foreign = (f"salto-{tag}-{n}" for n in range(4))
    first = new_event(request(salto, good, tag), source="/partners/salto")
    valid = to_kafka(first)
    wrong = salto.record(request(salto, bad_language, tag, title={"fr": "Clubs"}))
    another = new_event(request(salto, good, tag), source="/partners/salto")
    changed = request(salto, good, tag, title={"en": "Something else"})
    conflicting = salto.record(changed, event_id=first.id)
    record = salto.record(request(salto, broken, tag))
    malformed = KafkaRecord(
        record.topic,
        record.key,
        b'{"partner": "' + salto.name.encode() + b'", "external_id": "' + broken.encode() + b'", "metadata": {}}',
        record.headers,
    )
    outcome = SubmissionAccepted(
        partner=salto.name,
        external_id=foreign,
        request_id="r",
        kind="practice",
        accepted_id="a",
        accepted_at=datetime.now(UTC),
    )
    elsewhere = salto.record(outcome)
    misplaced = KafkaRecord(record.topic, elsewhere.key, elsewhere.value, elsewhere.headers)  # an outcome, sent inbound

    await salto.send(valid, valid, wrong, to_kafka(another), conflicting, malformed, misplaced)

    outcomes: dict[str, Any] = {}
    for event in await salto.answers([good, bad_language, broken, foreign], at_least=7):
        outcomes.setdefault(event.subject, event)  # the first answer to each external id
    accepted = outcomes[good]
    assert accepted.type == "eu.deh.inbound.submission.accepted.v1"
    assert accepted.data["accepted_id"] == derived_id("partner", salto.name, good)
    assert outcomes[bad_language].type == "eu.deh.inbound.submission.rejected.v1"
    assert outcomes[bad_language].data["reasons"][0]["location"] == "metadata.title.fr"
    rejected_broken = outcomes[broken].data["reasons"]
    assert {reason["location"] for reason in rejected_broken} >= {
        "data.metadata.title",
        "data.metadata.summary",
        "data.metadata.languages",
    }
    assert outcomes[foreign].data["reasons"][0]["location"] == "ce_type", "a foreign type is answered, not skipped"
    answers_to_good = [event for event in await salto.answers([good], at_least=4) if event.subject == good]
    # Answers given at once and those that leave with the practice's outbox may interleave.
    answered = sorted(
        (event.data["request_id"], event.type.split(".")[-2], event.headers["ce_id"], _first_kind(event))
        for event in answers_to_good
    )
    to_first = [answer for answer in answered if answer[0] == first.id]
    accepted_ids = {answer[2] for answer in to_first if answer[1] == "accepted"}
    assert [answer[1] for answer in to_first].count("accepted") == 2, "a replay gets the same answer again"
    assert len(accepted_ids) == 1, "with the same id: partners deduplicate on it"
    assert [answer[3] for answer in to_first if answer[1] == "rejected"] == ["conflict"], "other content, same id"
    assert [answer[3] for answer in answered if answer[0] == another.id] == ["duplicate"], "another message for it"
    for event in answers_to_good:
        validate_against_committed_schema(event)

    stored = await practices.client.get(
        f"/practices/{accepted.data['accepted_id']}", headers=practices.caller(*MODERATOR)
    )
    assert stored.json()["status"] == "submitted"
    assert stored.json()["metadata"]["title"]["en"] != "Something else"
    assert stored.json()["author_names"] == ["SALTO Inclusion team"]


async def test_partner_messages_are_held_to_the_contract_before_anything_is_stored(
    practices: ServiceUnderTest, salto: Partner
) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    invented, oversized, misnamed, impostor = (f"salto-{tag}-{n}" for n in range(4))
    record = salto.record(request(salto, invented, tag))
    with_invented = KafkaRecord(
        record.topic, record.key, record.value.replace(b'"metadata":{', b'"metadata":{"$where":"1",'), record.headers
    )
    huge = salto.record(request(salto, oversized, tag))
    huge = KafkaRecord(
        huge.topic, huge.key, huge.value[:-1] + b', "pad": "' + b"x" * MAX_INBOUND_BYTES + b'"}', huge.headers
    )

    def naming(external_id: str, partner: bytes) -> KafkaRecord:
        own = salto.record(request(salto, external_id, tag))
        value = own.value.replace(b'"partner":"' + salto.name.encode() + b'"', b'"partner":"' + partner + b'"')
        return KafkaRecord(own.topic, own.key, value, own.headers)

    named = naming(misnamed, b"SALTO Team")
    claimed = naming(impostor, b"eun")  # another partner's name on salto's topic: the topic says who wrote it

    rekeyed = salto.record(request(salto, f"salto-{tag}-9", tag))
    wrong_key = f"salto-{tag}-other"
    rekeyed = KafkaRecord(rekeyed.topic, wrong_key.encode(), rekeyed.value, rekeyed.headers)

    await salto.send(with_invented, huge, named, claimed, rekeyed)

    answers = await salto.answers([invented, oversized, misnamed, impostor, wrong_key], at_least=5)
    reasons = {event.subject: event.data["reasons"] for event in answers}
    assert [reason["location"] for reason in reasons[wrong_key]] == ["(key)"], "keyed by its external_id"
    assert [reason["location"] for reason in reasons[invented]] == ["data.metadata.$where"]
    assert [reason["kind"] for reason in reasons[oversized]] == ["too_large"]
    assert [reason["location"] for reason in reasons[misnamed]] == ["data.partner"]
    assert [(reason["location"], reason["kind"]) for reason in reasons[impostor]] == [("partner", "mismatch")]
    assert {event.data["partner"] for event in answers} == {salto.name}, "answered to the partner who wrote"
    stored = await practices.runtime.db.practices.count_documents({"metadata.topics": tag})
    assert stored == 0


async def test_a_partner_revises_its_submission_with_the_same_outcome_rules(
    practices: ServiceUnderTest, servers: ServerAddresses, salto: Partner
) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    submitted, never = f"salto-{tag}-0", f"salto-{tag}-1"
    await salto.send(salto.record(request(salto, submitted, tag)))
    practice_id = derived_id("partner", salto.name, submitted)
    await salto.answers([submitted])

    def revision(external_id: str, title: str) -> CloudEvent[PracticeSubmissionRevised]:
        revised = request(salto, external_id, tag, title={"en": title})
        return new_event(PracticeSubmissionRevised(**dict(revised)), source="/partners/salto")

    first = revision(submitted, "Coding clubs, revised")
    await salto.send(to_kafka(first), to_kafka(first), to_kafka(revision(never, "Nothing to revise")))
    answers = {
        (event.subject, event.headers["ce_id"]): event for event in await salto.answers([submitted, never], at_least=4)
    }
    to_first = [event for event in answers.values() if event.data["request_id"] == first.id]
    assert [event.type.split(".")[-2] for event in to_first] == ["accepted"], "a replay: the same outcome, one id"
    assert to_first[0].data["accepted_id"] == practice_id
    (not_found,) = [event for (subject, _), event in answers.items() if subject == never]
    assert not_found.data["reasons"][0]["kind"] == "not_found"
    stored = (await practices.client.get(f"/practices/{practice_id}", headers=practices.caller(*MODERATOR))).json()
    assert (stored["version"], stored["metadata"]["title"]) == (2, {"en": "Coding clubs, revised"})
    events = await published_events(servers, PRACTICES, [practice_id], at_least=3)
    versions = [event.data["version"] for event in events if event.type == "eu.deh.practices.practice.submitted.v1"]
    assert versions == [1, 2], "a revision has no submit step: it is submitted for review as it comes"

    await practices.client.post(
        f"/practices/{practice_id}/reviewer", json={"reviewer_id": "reviewer-1"}, headers=practices.caller(*MODERATOR)
    )
    in_review = revision(submitted, "Coding clubs, revised again")
    await salto.send(to_kafka(in_review))

    async def answered(count: int) -> Any:
        found = [event for event in await salto.outcomes() if event.data.get("request_id") == in_review.id]
        return found if len(found) == count else None

    (conflict,) = await eventually(lambda: answered(1), within=30, interval=0.5)
    assert conflict.data["reasons"][0]["kind"] == "conflict", "not while it is reviewed"

    # Once reviewed, the same message again gets the same rejection: one outcome per message.
    reviewed = await practices.client.post(
        f"/practices/{practice_id}/reviews",
        json={"scores": SCORES, "decision": "publish"},
        headers=practices.caller("reviewer-1", "member", "reviewer"),
    )
    assert reviewed.status_code == 200, reviewed.text
    await salto.send(to_kafka(in_review))
    first_answer, second_answer = await eventually(lambda: answered(2), within=30, interval=0.5)
    assert second_answer.type == first_answer.type
    assert second_answer.headers["ce_id"] == first_answer.headers["ce_id"]


async def test_two_partners_with_the_same_ids_are_two_senders_each_answered_on_its_own_topic(
    practices: ServiceUnderTest, servers: ServerAddresses, salto: Partner
) -> None:
    eun = await onboarded(servers)
    tag = f"t{uuid.uuid4().hex[:8]}"
    external_id, message_id = f"shared-{tag}", f"message-{tag}"
    await salto.send(salto.record(request(salto, external_id, tag), event_id=message_id))
    await eun.send(eun.record(request(eun, external_id, tag, title={"en": "EUN's own"}), event_id=message_id))

    (to_salto,) = await salto.answers([external_id])
    (to_eun,) = await eun.answers([external_id])
    assert (to_salto.type, to_eun.type) == ("eu.deh.inbound.submission.accepted.v1",) * 2
    assert to_salto.data["accepted_id"] != to_eun.data["accepted_id"], "one practice each, not a conflict"
    assert to_salto.headers["ce_id"] != to_eun.headers["ce_id"]
    assert (to_salto.data["partner"], to_eun.data["partner"]) == (salto.name, eun.name)


async def test_a_partner_writes_only_its_own_inbound_topic_and_reads_only_its_own_outcomes(
    servers: ServerAddresses, salto: Partner
) -> None:
    eun = await onboarded(servers)
    theirs = eun.record(request(eun, "x-1", "t"))

    async def write(topic: str) -> None:
        producer = AIOKafkaProducer(**salto.options(), acks="all", enable_idempotence=True)
        await producer.start()
        try:
            await asyncio.wait_for(producer.send_and_wait(topic, theirs.value, key=theirs.key), REFUSAL_WAIT)
        finally:
            await producer.stop()

    async def read(topic: str, group: str) -> None:
        consumer = AIOKafkaConsumer(topic, **salto.options(), group_id=group, auto_offset_reset="earliest")
        await consumer.start()
        try:
            await asyncio.wait_for(consumer.getmany(timeout_ms=1000), REFUSAL_WAIT)
        finally:
            await consumer.stop()

    for forbidden in (PRACTICE_SUBMISSIONS.of_partner(eun.name), OUTCOMES.of_partner(salto.name), PRACTICES.name):
        with pytest.raises(TopicAuthorizationFailedError):
            await write(forbidden)
    await read(OUTCOMES.of_partner(salto.name), f"{salto.name}.portal")
    with pytest.raises(TopicAuthorizationFailedError):
        await read(OUTCOMES.of_partner(eun.name), f"{salto.name}.portal")
    with pytest.raises(GroupAuthorizationFailedError):
        await read(OUTCOMES.of_partner(salto.name), f"{eun.name}.portal")
    with pytest.raises(TopicAuthorizationFailedError):
        await read(PRACTICES.name, f"{salto.name}.portal")


async def test_a_message_that_is_not_json_is_answered_to_the_partner_whose_topic_it_came_from(
    practices: ServiceUnderTest, salto: Partner
) -> None:
    record = salto.record(request(salto, f"garbled-{uuid.uuid4().hex[:8]}", "t"))
    await salto.send(KafkaRecord(record.topic, record.key, b"\xff not json", record.headers))
    (answer,) = await salto.answers([record.key.decode()])
    assert answer.type == "eu.deh.inbound.submission.rejected.v1"
    assert answer.data["partner"] == salto.name
