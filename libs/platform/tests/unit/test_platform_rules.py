"""Rules of the platform that need no server: settings precedence, retry delays, JSON logs,
the AsyncAPI document and the idempotency guard's shape."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest
from opentelemetry import trace
from pydantic_settings import SettingsConfigDict

from deh_contracts.registry import MEMBERSHIP, PRACTICES
from deh_platform.asyncapi import asyncapi_document
from deh_platform.auth import key_problem
from deh_platform.consumer import Backoff
from deh_platform.creation import Creation
from deh_platform.logs import JsonFormatter
from deh_platform.runtime import ServiceRuntime
from deh_platform.settings import ServiceSettings
from deh_platform.topics import Replication
from deh_stack.config import StackConfig
from deh_stack.stack import Stack

pytestmark = pytest.mark.unit


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEH_EXAMPLE_", extra="ignore")
    service_name: str = "example"


def test_a_service_variable_wins_over_the_shared_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEH_KAFKA_BOOTSTRAP", "shared:9092")
    assert ExampleSettings().kafka_bootstrap == "shared:9092"

    monkeypatch.setenv("DEH_EXAMPLE_KAFKA_BOOTSTRAP", "mine:9092")
    assert ExampleSettings().kafka_bootstrap == "mine:9092"


def test_a_held_partition_is_retried_after_growing_delays_without_limit() -> None:
    backoff = Backoff(first_delay=0.5, max_delay=3.0)

    assert [backoff.delay(attempt) for attempt in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.delay(10_000) == 3.0


def test_json_logs_carry_the_current_trace() -> None:
    formatter = JsonFormatter("example")
    record = logging.LogRecord("deh", logging.INFO, __file__, 1, "member %s approved", ("m-1",), None)
    with trace.get_tracer("test").start_as_current_span("request") as span:
        line = json.loads(formatter.format(record))

    assert line["message"] == "member m-1 approved"
    assert line["service"] == "example"
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")


def test_the_asyncapi_document_lists_produced_and_consumed_types() -> None:
    from deh_contracts.catalogue.membership import MemberErased

    runtime = ServiceRuntime.from_settings(ExampleSettings(), produces=[PRACTICES])
    consumer = runtime.consumer([MEMBERSHIP])

    @consumer.on(MemberErased)
    async def anonymise(event: object) -> None: ...

    document = asyncapi_document(runtime, "example")

    assert document["asyncapi"] == "3.0.0"
    assert document["operations"]["publish-deh_practices_v1"]["action"] == "send"
    received = document["operations"]["example-consumes-deh_membership_v1"]
    assert received["action"] == "receive"
    assert received["messages"] == [
        {"$ref": "#/channels/deh_membership_v1/messages/eu_deh_membership_member_erased_v1"}
    ]
    assert "eu_deh_practices_practice_published_v1" in document["components"]["messages"]
    assert "PracticeMetadata" in document["components"]["schemas"]


def test_a_handler_for_a_type_on_an_unread_topic_is_refused() -> None:
    from deh_contracts.catalogue.practices import PracticeArchived

    consumer = ServiceRuntime.from_settings(ExampleSettings()).consumer([MEMBERSHIP])

    with pytest.raises(ValueError, match=r"deh\.practices\.v1"):
        consumer.on(PracticeArchived)


def test_min_insync_replicas_lie_between_one_and_the_replication_factor() -> None:
    assert Replication(3, 2).min_insync == 2
    for impossible in ((1, 2), (3, 0)):
        with pytest.raises(ValueError, match="between 1 and the factor"):
            Replication(*impossible)


def test_an_environment_can_set_a_topics_retention_over_the_registrys() -> None:
    from deh_contracts.registry import DEAD_LETTERS

    week, day = 7 * 24 * 3600 * 1000, 24 * 3600 * 1000
    practices = DEAD_LETTERS.for_service("practices")
    assert Replication().config_of(practices)["retention.ms"] == DEAD_LETTERS.config["retention.ms"]
    assert Replication(3, 2, {DEAD_LETTERS.name: week}).config_of(practices) == {
        "retention.ms": str(week),
        "min.insync.replicas": "2",
    }, "a family's retention is every one of its topics'"
    one_of_them = {DEAD_LETTERS.name: week, practices.name: day}
    assert Replication(3, 2, one_of_them).config_of(practices)["retention.ms"] == str(day), "the topic's own wins"


def test_ids_derived_from_a_caller_and_an_idempotency_key_never_meet_for_another_pair() -> None:
    first = Creation("a", "b:c", fingerprint="x").new_id("squad")
    assert first != Creation("a:b", "c", fingerprint="x").new_id("squad")
    assert first == Creation("a", "b:c", fingerprint="y").new_id("squad"), "the same caller and key, the same id"
    assert Creation("a", None, fingerprint="x").new_id("squad") != Creation("a", None, fingerprint="x").new_id("squad")


@pytest.mark.parametrize(
    ("secret", "public_key", "refused"),
    [(None, None, True), ("too-short-a-secret", None, True), ("s" * 32, None, False), (None, "PEM...", False)],
)
async def test_a_service_without_a_proper_token_key_refuses_to_start(
    secret: str | None, public_key: str | None, refused: bool
) -> None:
    settings = ExampleSettings(auth_secret=secret, auth_public_key=public_key)
    assert (key_problem(settings) is not None) == refused
    if refused:
        with pytest.raises(RuntimeError, match="will not start without a key"):
            await ServiceRuntime.from_settings(settings).start()


def test_the_local_stack_makes_its_own_secrets_readable_only_by_its_owner(tmp_path: Path) -> None:
    config = dataclasses.replace(StackConfig.from_env("test"), home=tmp_path / "stack")
    secret = config.auth_secret()
    assert len(secret) >= 32
    assert secret == config.auth_secret() == config.server_env()["DEH_AUTH_SECRET"]
    passwords = config.kafka_passwords()
    assert set(passwords) == {"admin", "membership", "practices", "events", "monitoring"}
    assert len(set(passwords.values())) == 5
    assert passwords == config.kafka_passwords()
    assert config.server_env("events")["DEH_KAFKA_PASSWORD"] == passwords["events"]
    for path in (tmp_path / "stack" / "secrets").iterdir():
        assert path.stat().st_mode & 0o077 == 0, path
    assert dataclasses.replace(config, home=tmp_path / "other").auth_secret() != secret


def test_a_cleaned_stack_formats_kafka_with_the_admin_password_its_clients_will_read(tmp_path: Path) -> None:
    stack = Stack(dataclasses.replace(StackConfig.from_env("test"), home=tmp_path / "stack"))
    before = stack.config.kafka_passwords()["admin"]
    stack.clean()  # the secrets go with the data
    assert stack.kafka.users == {"admin": stack.config.kafka_passwords()["admin"]}
    assert stack.config.kafka_passwords()["admin"] != before
