"""Helpers for end-to-end tests of the hub's services: an in-process service on the real
servers, callers with signed tokens, and a reader of a topic's contract events."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jsonschema
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from deh_contracts import Contract, new_event, to_kafka
from deh_contracts.catalogue.membership import MemberPerson
from deh_contracts.envelope import KafkaRecord, header_map, sequence_text
from deh_contracts.people import REFERENCE_HEADER
from deh_contracts.registry import DEAD_LETTERS, OUTCOMES, PEOPLE, Topic
from deh_platform.access import connected_admin, onboard_partner
from deh_platform.auth import issue_token
from deh_platform.runtime import ServiceRuntime
from deh_platform.settings import ServiceSettings, sasl_options
from deh_stack.testing import ServerAddresses, eventually

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "contracts" / "schemas"


@dataclass
class ServiceUnderTest:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def runtime(self) -> ServiceRuntime:
        runtime: ServiceRuntime = self.app.state.runtime
        return runtime

    def caller(self, member_id: str, *roles: str) -> dict[str, str]:
        """Headers of a request made by `member_id` with these roles (a signed bearer token)."""
        token = issue_token(self.runtime.settings, member_id, list(roles) or ["member"])
        return {"Authorization": f"Bearer {token}"}


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def isolated_settings(settings_class: type[SettingsT], servers: ServerAddresses, **extra: Any) -> SettingsT:
    """Settings of a service copy with its own database, consumer group and search alias (if it
    searches), so that it shares the servers with other tests without sharing their data."""
    service = settings_class.model_fields["service_name"].default
    # Consumer groups start with the service's name: its Kafka user may use those only.
    isolated = f"{service}-{uuid.uuid4().hex[:8]}"
    fields = {
        **servers.kafka_fields(service),
        "mongo_url": servers.mongo_url,
        "opensearch_url": servers.opensearch_url,
        "mongo_database": isolated,
        "consumer_group": isolated,
        **({"search_alias": isolated} if "search_alias" in settings_class.model_fields else {}),
        **{key: value.format(isolated=isolated) if isinstance(value, str) else value for key, value in extra.items()},
    }
    return settings_class.model_validate(fields)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[ServiceUnderTest]:
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        runtime: ServiceRuntime = app.state.runtime

        async def ready() -> bool:
            return runtime.ready(await runtime.readiness())

        async def caught_up() -> bool:
            # A new consumer group reads the topics' whole history (other tests') first.
            return all([await consumer.caught_up() for consumer in runtime.consumers])

        await eventually(ready, within=60)
        await eventually(caught_up, within=180, interval=0.5)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{runtime.name}") as client:
            yield ServiceUnderTest(app, client)


@dataclass(frozen=True)
class Published:
    type: str
    subject: str
    headers: dict[str, str]
    data: dict[str, Any]


async def published_events(
    servers: ServerAddresses, topic: Topic | str, subjects: Iterable[str], *, at_least: int = 1
) -> list[Published]:
    """The contract events about `subjects` on a topic, once at least `at_least` have arrived."""
    wanted = set(subjects)

    async def read() -> list[Published] | None:
        found = [event for event in await events_on(servers, topic) if event.subject in wanted]
        return found if len(found) >= at_least else None

    return await eventually(read, within=30, interval=0.5)


async def events_on(servers: ServerAddresses, topic: Topic | str, **as_user: str) -> list[Published]:
    """Every event on a topic now whose value is JSON, in order per partition (tombstones, which
    have no value, left out: see records_on). Read as the admin, or with `as_user`'s options."""
    name = topic if isinstance(topic, str) else topic.name
    options = as_user or servers.kafka_options()
    consumer = AIOKafkaConsumer(name, **options, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    events: list[Published] = []
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            if not batches:
                return events
            for records in batches.values():
                for record in records:
                    if record.value is None:
                        continue  # a tombstone: no event
                    headers = header_map(list(record.headers))
                    try:
                        data = json.loads(record.value)
                    except ValueError:
                        continue  # a broken message some test sent on purpose
                    events.append(Published(headers.get("ce_type", ""), headers.get("ce_subject", ""), headers, data))
    finally:
        await consumer.stop()


async def dead_letters(servers: ServerAddresses) -> list[Published]:
    """Every dead letter of every service now, as an operator reads them."""
    async with connected_admin(servers.kafka_options()) as admin:
        topics = [name for name in await admin.list_topics() if DEAD_LETTERS.owner_of(name)]
    return [letter for topic in topics for letter in await events_on(servers, topic)]


async def records_on(servers: ServerAddresses, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) of every record still readable on a topic, read up to each partition's end:
    tombstones (no value) included, which the CloudEvents readers above leave out."""
    admin = AIOKafkaAdminClient(**servers.kafka_options())
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, partition["partition"]) for partition in description["partitions"]]
    consumer = AIOKafkaConsumer(**servers.kafka_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[tuple[bytes | None, bytes | None]] = []
        for partition in partitions:
            while await consumer.position(partition) < ends[partition]:
                batch = await consumer.getmany(partition, timeout_ms=1000)
                records += [(record.key, record.value) for record in batch.get(partition, [])]
        return records
    finally:
        await consumer.stop()


def validate_against_committed_schema(event: Published) -> None:
    schema = json.loads((SCHEMA_DIR / f"{event.type}.json").read_text())
    jsonschema.validate(
        event.data, schema, cls=jsonschema.Draft202012Validator, format_checker=jsonschema.FormatChecker()
    )


def from_membership(data: Contract, sequence: int) -> KafkaRecord:
    """A membership event as its outbox relay publishes it: numbered among the member's events."""
    event = new_event(data, source="/deh/membership").model_copy(update={"sequence": sequence_text(sequence)})
    return to_kafka(event)


def approval(member_id: str, country: str = "LV", sectors: Iterable[str] = ("school",)) -> KafkaRecord:
    """The member's first record on membership's people topic, as approval publishes it."""
    return person_record(member_id, "active", 1, country=country, sectors=sectors)


def person_record(
    member_id: str,
    status: str,
    sequence: int,
    *,
    display_name: str | None = None,
    country: str = "LV",
    sectors: Iterable[str] = ("school",),
) -> KafkaRecord:
    """A member's record on membership's people topic, numbered among the member's events."""
    person = MemberPerson(
        member_id=member_id,
        reference=reference_of(member_id),
        status=status,
        country=country,
        sectors=list(sectors),
        display_name=display_name,
        updated_at=datetime.now(UTC),
    )
    return from_membership(person, sequence)


async def approve(servers: ServerAddresses, *member_ids: str) -> None:
    """Membership's news that these people are active members, as the other services learn it."""
    await produce(servers, *(approval(member_id) for member_id in member_ids))


async def active_in_practices(practices: ServiceUnderTest, servers: ServerAddresses, *member_ids: str) -> None:
    """Approve these people in membership and wait until the practices service (in process)
    knows it: only active members submit, edit and review there."""
    await approve(servers, *member_ids)
    store = practices.app.state.store

    async def known() -> bool:
        return all([await store.member_status(member_id) == "active" for member_id in member_ids])

    await eventually(known)


async def produce(servers: ServerAddresses, *records: KafkaRecord, **as_user: str) -> None:
    """Publish records as the admin, or with `as_user`'s options (a partner's)."""
    producer = AIOKafkaProducer(**(as_user or servers.kafka_options()), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(record.topic, record.value, key=record.key, headers=record.headers)
    finally:
        await producer.stop()


def reference_of(member_id: str) -> str:
    """The reference these tests give a member on Kafka (membership draws one at random)."""
    return f"person:{member_id}"


async def erase(servers: ServerAddresses, member_id: str) -> None:
    """Membership's tombstone for an erased member on the people topic (a key, no value)."""
    producer = AIOKafkaProducer(**servers.kafka_options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        reference = [(REFERENCE_HEADER, reference_of(member_id).encode())]
        await producer.send_and_wait(PEOPLE.name, None, key=member_id.encode(), headers=reference)
    finally:
        await producer.stop()


async def settle(seconds: float = 0.5) -> None:
    """Give asynchronous consumers a moment when asserting that something did NOT happen."""
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Partner:
    """A partner system onboarded on the test servers as an operator onboards one: its own Kafka
    user, its topics and its grants. It sends and reads as itself, never as the admin."""

    name: str
    password: str = field(repr=False)
    servers: ServerAddresses

    def options(self) -> dict[str, Any]:
        return {"bootstrap_servers": self.servers.kafka_bootstrap, **sasl_options(self.name, self.password)}

    def record(self, data: Contract, **event: Any) -> KafkaRecord:
        """A message of this partner's, as its client would write it."""
        return to_kafka(new_event(data, source=f"/partners/{self.name}", **event))

    async def send(self, *records: KafkaRecord) -> None:
        await produce(self.servers, *records, **self.options())

    async def outcomes(self) -> list[Published]:
        """Every answer on this partner's outcomes topic, read as the partner."""
        return await events_on(self.servers, OUTCOMES.of_partner(self.name), **self.options())

    async def answers(self, subjects: Iterable[str], *, at_least: int = 1) -> list[Published]:
        """The answers about `subjects`, once at least `at_least` have arrived."""
        wanted = set(subjects)

        async def read() -> list[Published] | None:
            found = [event for event in await self.outcomes() if event.subject in wanted]
            return found if len(found) >= at_least else None

        return await eventually(read, within=60, interval=0.5)


async def onboarded(servers: ServerAddresses, name: str | None = None) -> Partner:
    """A new partner (a name of its own unless given), onboarded with the operator's function
    (on servers whose Kafka has users: partners are known by the topics they may write)."""
    if servers.kafka_user() is None:
        pytest.skip("these servers' Kafka has no users, so no partner can be onboarded")
    partner = Partner(name or f"partner-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(24), servers)
    async with connected_admin(servers.kafka_options()) as admin:
        await onboard_partner(admin, partner.name, partner.password)
    return partner
