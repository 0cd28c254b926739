"""A Kafka node with SASL/SCRAM and ACLs (decision 0017): every principal authenticates, and may
write and read only what its grants name. Partners write their own inbound topics and read their
own outcomes, never another partner's; a service touches only its topics; a wrong password
gets no connection. On a private node (its own users), started from the stack's jars."""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import GroupAuthorizationFailedError, KafkaConnectionError, TopicAuthorizationFailedError

from deh_platform.access import grant, reads, writes
from deh_platform.settings import ServiceSettings
from deh_stack.kafka import KafkaServer
from deh_stack.testing import private_server

pytestmark = pytest.mark.integration

USERS = {name: secrets.token_hex(24) for name in ("admin", "salto", "eun", "practices")}
TOPICS = ["partner.salto.in", "partner.eun.in", "partner.salto.out", "partner.eun.out", "svc.practices", "svc.other"]
WAIT = 20  # seconds a refusal may take to arrive


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaServer]:
    secured = functools.partial(KafkaServer, users=USERS)
    with private_server(secured, Path(tmp_path_factory.mktemp("kafka-access"))) as server:
        yield server


@pytest.fixture(scope="module")
async def granted(node: KafkaServer) -> AsyncIterator[KafkaServer]:
    admin = AIOKafkaAdminClient(bootstrap_servers=node.address, **node.client_settings())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1) for topic in TOPICS])
        for partner in ("salto", "eun"):
            await grant(admin, writes(partner, f"partner.{partner}.in"))
            await grant(admin, reads(partner, f"partner.{partner}.out", groups_prefixed=f"{partner}."))
        await grant(admin, writes("practices", "svc.practices"))
        yield node
    finally:
        await admin.close()


async def sent(node: KafkaServer, user: str, topic: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=node.address, acks="all", enable_idempotence=True, **node.client_settings(user)
    )
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}"), WAIT)
    finally:
        await producer.stop()


async def read(node: KafkaServer, user: str, topic: str, group: str) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=node.address,
        group_id=group,
        auto_offset_reset="earliest",
        **node.client_settings(user),
    )
    await consumer.start()
    try:
        await asyncio.wait_for(consumer.getmany(timeout_ms=1000), WAIT)
    finally:
        await consumer.stop()


async def test_a_partner_writes_its_own_inbound_topic_only(granted: KafkaServer) -> None:
    await sent(granted, "salto", "partner.salto.in")
    with pytest.raises(TopicAuthorizationFailedError):
        await sent(granted, "salto", "partner.eun.in")
    with pytest.raises(TopicAuthorizationFailedError):
        await sent(granted, "salto", "partner.salto.out")


async def test_a_partner_reads_its_own_outcomes_in_its_own_groups_only(granted: KafkaServer) -> None:
    await read(granted, "salto", "partner.salto.out", "salto.portal")
    with pytest.raises(TopicAuthorizationFailedError):
        await read(granted, "salto", "partner.eun.out", "salto.portal")
    with pytest.raises(GroupAuthorizationFailedError):
        await read(granted, "salto", "partner.salto.out", "eun.portal")


async def test_a_service_touches_only_its_topics(granted: KafkaServer) -> None:
    await sent(granted, "practices", "svc.practices")
    with pytest.raises(TopicAuthorizationFailedError):
        await sent(granted, "practices", "svc.other")


async def test_a_wrong_password_gets_no_connection(granted: KafkaServer) -> None:
    settings = {**granted.client_settings("salto"), "sasl_plain_password": "not-the-password"}
    producer = AIOKafkaProducer(bootstrap_servers=granted.address, request_timeout_ms=5000, **settings)
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(producer.start(), WAIT)
    await producer.stop()


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaServer]:
    secured = functools.partial(KafkaServer, users={"admin": secrets.token_hex(24)}, tls=True)
    with private_server(secured, Path(tmp_path_factory.mktemp("kafka-tls"))) as server:
        yield server


async def test_over_tls_a_service_connects_with_the_ca_file_of_its_settings_and_not_without(
    tls_node: KafkaServer,
) -> None:
    assert tls_node.users is not None
    settings = ServiceSettings(
        service_name="tls-check",
        kafka_bootstrap=tls_node.address,
        kafka_user="admin",
        kafka_password=tls_node.users["admin"],
        kafka_ca_file=str(tls_node.ca_file),
    )
    assert settings.kafka_options()["security_protocol"] == "SASL_SSL"
    admin = AIOKafkaAdminClient(**settings.kafka_options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic("over-tls", 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(**settings.kafka_options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sent = await asyncio.wait_for(producer.send_and_wait("over-tls", b"{}"), WAIT)
    finally:
        await producer.stop()
    assert sent.offset == 0

    in_clear = {**settings.kafka_options(), "security_protocol": "SASL_PLAINTEXT"}
    in_clear.pop("ssl_context")
    refused = AIOKafkaProducer(**in_clear, request_timeout_ms=5000)
    with pytest.raises((KafkaConnectionError, asyncio.TimeoutError)):
        await asyncio.wait_for(refused.start(), WAIT)
    await refused.stop()
