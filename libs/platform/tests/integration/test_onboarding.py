"""An operator onboards a partner system with one command (decision 0019): its Kafka user, a
password shown once, its topics and its grants. The partner can then write its inbound topics
with that password, and a second run gives it a new password (a rotation)."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from deh_contracts.registry import EVENTS, OBSERVATIONS, OUTCOMES, PRACTICE_SUBMISSIONS
from deh_platform import operations
from deh_platform.topics import ensure_topics
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.integration


async def onboard(
    name: str, servers: ServerAddresses, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    for variable, value in servers.environment().items():
        monkeypatch.setenv(variable, value)
    assert await asyncio.to_thread(operations.main, ["partner", name]) == 0  # it runs its own loop
    printed = capsys.readouterr().out
    for topic in (PRACTICE_SUBMISSIONS, OBSERVATIONS, OUTCOMES):
        assert topic.of_partner(name) in printed
    return printed.rsplit(": ", 1)[-1].strip()  # the password, on the last line


async def writes_as(servers: ServerAddresses, name: str, password: str) -> bool:
    """Whether the partner, with this password, writes its topic (or is refused)."""
    options = {**servers.kafka_options(), "sasl_plain_username": name, "sasl_plain_password": password}
    producer = AIOKafkaProducer(**options, acks="all", enable_idempotence=True, request_timeout_ms=10_000)
    try:
        await producer.start()
    except KafkaConnectionError:
        return False
    try:
        await producer.send_and_wait(PRACTICE_SUBMISSIONS.of_partner(name), b"{}", key=b"k")
        return True
    finally:
        await producer.stop()


async def test_an_onboarded_partner_writes_its_topic_with_the_password_it_was_given(
    servers: ServerAddresses, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if servers.kafka_user() is None:
        pytest.skip("these servers' Kafka has no users")
    name = f"onboarded-{uuid.uuid4().hex[:8]}"
    # The broker learns a new credential a moment after the controller took it: each change is
    # awaited, never assumed.
    first = await onboard(name, servers, monkeypatch, capsys)
    await eventually(lambda: writes_as(servers, name, first), within=30, interval=0.5)

    rotated = await onboard(name, servers, monkeypatch, capsys)
    assert rotated != first
    await eventually(lambda: writes_as(servers, name, rotated), within=30, interval=0.5)

    async def first_refused() -> bool:
        return not await writes_as(servers, name, first)

    await eventually(first_refused, within=30, interval=0.5)


def test_a_name_that_a_service_has_is_refused(
    servers: ServerAddresses, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable, value in servers.environment().items():
        monkeypatch.setenv(variable, value)
    assert operations.main(["partner", "practices-portal"]) == 2
    assert "taken" in capsys.readouterr().err


async def test_a_deployments_provisioning_gives_each_service_whose_password_is_set_its_user(
    servers: ServerAddresses, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack_user = servers.kafka_user("events")
    if stack_user is None or stack_user[0] != "events":
        pytest.skip("these servers' Kafka has no user per service")
    for variable, value in servers.environment().items():
        monkeypatch.setenv(variable, value)
    await ensure_topics(servers.kafka_options(), [EVENTS])  # the events service makes it at its start
    password = secrets.token_urlsafe(24)
    monkeypatch.setenv("DEH_EVENTS_KAFKA_PASSWORD", password)
    try:
        assert await asyncio.to_thread(operations.main, ["services"]) == 0
        assert "provisioned: events" in capsys.readouterr().out
        options = {**servers.kafka_options(), "sasl_plain_username": "events", "sasl_plain_password": password}

        async def its_stream() -> set[int] | None:
            # The broker learns the new credential a moment after the controller took it.
            producer = AIOKafkaProducer(**options, acks="all", enable_idempotence=True, request_timeout_ms=10_000)
            try:
                await producer.start()
            except KafkaConnectionError:
                return None
            try:
                # Its own stream is there for it (granted: described), nothing written into it.
                partitions: set[int] = await producer.partitions_for(EVENTS.name)
                return partitions
            finally:
                await producer.stop()

        assert await eventually(its_stream, within=30, interval=0.5)
    finally:
        # The stack's password again, for the events services of the other tests.
        monkeypatch.setenv("DEH_EVENTS_KAFKA_PASSWORD", stack_user[1])
        assert await asyncio.to_thread(operations.main, ["services"]) == 0
