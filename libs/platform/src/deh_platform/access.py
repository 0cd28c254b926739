"""Who may do what on Kafka: SCRAM users for the principals that authenticate (services,
partners), the access control entries (ACLs) that say what each may do, and both created over
the Kafka protocol (decision 0017).

A broker with the StandardAuthorizer and `allow.everyone.if.no.acl.found=false` refuses
whatever no entry allows, so each principal gets exactly its topics and consumer groups.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import CompactArray, CompactBytes, CompactString, Int8, Int16, Int32, Schema, TaggedFields

from deh_contracts.registry import EACH_SERVICE, PARTNER_NAME, SERVICES, TOPICS, Topic
from deh_platform.topics import Replication, create_and_check

ADMIN = "admin"  # the super user of provisioning: brokers, topics, users and grants

# The Kafka protocol's codes (org.apache.kafka.common.acl and .resource).
_RESOURCE = {"topic": 2, "group": 3}
_PATTERN = {False: 3, True: 4}  # literal, prefixed
_OPERATION = {"read": 3, "write": 4, "create": 5, "describe": 8, "describe_configs": 10}
_ALLOW = 3

Operation = Literal["read", "write", "create", "describe", "describe_configs"]


@dataclass(frozen=True)
class Grant:
    """`user` may do `operation` on the topic or consumer group `name` (every name that starts
    with it when `prefixed`), from any host."""

    user: str
    operation: Operation
    resource: Literal["topic", "group"]
    name: str
    prefixed: bool = False


class GrantRefused(RuntimeError):
    """The broker did not take an access control entry."""


def writes(user: str, *topics: str) -> list[Grant]:
    return [Grant(user, "write", "topic", topic) for topic in topics]


def reads(user: str, *topics: str, groups_prefixed: str) -> list[Grant]:
    """Reading topics in consumer groups whose names start with `groups_prefixed`: end it with a
    character that the principal's names cannot have (`salto.`, not `salto-`, which would also
    give partner `salto-eu`'s groups)."""
    return [
        *(Grant(user, "read", "topic", topic) for topic in topics),
        Grant(user, "read", "group", groups_prefixed, prefixed=True),
    ]


def service_grants(service: str) -> list[Grant]:
    """What a service may do, from the registry: write the topics it produces, read those it
    consumes in its own consumer groups (named after it: `practices`, `monitoring-observations`),
    and create and check the topics it touches (each service creates what it needs at start).
    Of a family per service (dead letters, re-driven messages) it touches its own topic only;
    partners' topics are granted when each partner is onboarded (`partner_grants`)."""
    mine = [topic for topic in TOPICS if not topic.per_partner]

    def named(topics: list[Topic]) -> list[str]:
        return [topic.of_service(service) if topic.per_service else topic.name for topic in topics]

    touched = named([topic for topic in mine if service in _users_of(topic)])
    return [
        *writes(service, *named([topic for topic in mine if service in _writers(topic)])),
        *reads(service, *named([topic for topic in mine if service in _readers(topic)]), groups_prefixed=service),
        *(Grant(service, operation, "topic", name) for name in touched for operation in ("create", "describe_configs")),
    ]


def partner_grants(partner: str) -> list[Grant]:
    """What a partner may do, and what the services may do with its topics: the partner writes
    its inbound topics and reads its outcomes in its own consumer groups (`salto.`); the services
    read the inbound topics they consume and write the outcomes they give."""
    families = [topic for topic in TOPICS if topic.per_partner]
    granted = [
        *writes(partner, *(topic.of_partner(partner) for topic in families if topic.inbound)),
        *reads(
            partner,
            *(topic.of_partner(partner) for topic in families if not topic.inbound),
            groups_prefixed=f"{partner}.",
        ),
    ]
    for service in SERVICES:
        granted += writes(service, *(topic.of_partner(partner) for topic in families if service in _writers(topic)))
        granted += [
            Grant(service, "read", "topic", topic.of_partner(partner))
            for topic in families
            if service in _readers(topic)
        ]
    return granted


def partner_name_problem(partner: str) -> str | None:
    """Why `partner` cannot be a partner's name, if it cannot: its groups and user must not be
    a service's (whose consumer groups are granted by its name as a prefix)."""
    if not re.fullmatch(PARTNER_NAME, partner):
        return f"{partner!r} is not a partner name: lower-case letters, digits, '-' and '_', at most 100"
    if partner == ADMIN or any(partner.startswith(service) for service in SERVICES):
        return f"{partner!r} is taken: it is, or starts with, the name of the admin user or a service"
    return None


def _writers(topic: Topic) -> tuple[str, ...]:
    return SERVICES if topic.producer == EACH_SERVICE else tuple(s for s in SERVICES if s in topic.producer.split(", "))


def _readers(topic: Topic) -> tuple[str, ...]:
    return SERVICES if EACH_SERVICE in topic.consumers else tuple(s for s in SERVICES if s in topic.consumers)


def _users_of(topic: Topic) -> tuple[str, ...]:
    return (*_writers(topic), *_readers(topic))


@asynccontextmanager
async def connected_admin(connection: Mapping[str, Any]) -> AsyncIterator[AIOKafkaAdminClient]:
    """An admin client, started with `connection` (a super user's, for users and grants) and
    closed after."""
    admin = AIOKafkaAdminClient(**connection)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def grant(admin: AIOKafkaAdminClient, grants: Iterable[Grant]) -> None:
    """Create the entries (idempotent: an entry that exists is kept). The admin client must
    connect as a super user. aiokafka has the protocol's CreateAcls request but no method for
    it, so the request is sent as its own admin methods send theirs."""
    for entry in grants:
        request = CreateAclsRequest(
            _RESOURCE[entry.resource],
            entry.name,
            _PATTERN[entry.prefixed],
            f"User:{entry.user}",
            "*",
            _OPERATION[entry.operation],
            _ALLOW,
        )
        response = await admin._send_request(request)
        for error_code, message in response.creation_responses:
            if error_code:
                raise GrantRefused(f"{entry}: error {error_code} {message}")


# SCRAM users --------------------------------------------------------------------------------------
# aiokafka has no AlterUserScramCredentials request (KIP-554, API key 51); it is defined here from
# the protocol's message definition, version 0 (flexible: compact strings and tagged fields).

SCRAM_ITERATIONS = 8192  # Kafka takes 4096 to 16384
_SHA512 = 2  # the protocol's code of SCRAM-SHA-512


class _ScramCredentialsResponse(Response):  # type: ignore[misc]
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _ScramCredentialsRequest(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = _ScramCredentialsResponse
    SCHEMA = Schema(
        ("deletions", CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields))),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _UpsertScramUser(Request[_ScramCredentialsRequest]):  # type: ignore[misc]
    API_KEY = 51

    def __init__(self, name: str, password: str) -> None:
        self._name = name
        # The broker stores the salted password only (RFC 5802's Hi, PBKDF2 with HMAC-SHA-512):
        # the password itself never leaves this process.
        self._salt = secrets.token_bytes(32)
        self._salted = hashlib.pbkdf2_hmac("sha512", password.encode(), self._salt, SCRAM_ITERATIONS)

    def build(self, request_struct_class: type[_ScramCredentialsRequest]) -> _ScramCredentialsRequest:
        upsertion: tuple[object, ...] = (self._name, _SHA512, SCRAM_ITERATIONS, self._salt, self._salted, {})
        return request_struct_class([], [upsertion], {})


class UserRefused(RuntimeError):
    """The broker did not take a SCRAM user."""


async def set_user(admin: AIOKafkaAdminClient, name: str, password: str) -> None:
    """Create the SCRAM-SHA-512 user `name`, or give it a new password (a rotation: connections
    open with the old one stay, new ones need the new one). The admin client must connect as a
    super user; the controller takes the request from any broker."""
    response = await admin._send_request(_UpsertScramUser(name, password))
    for user, error_code, message, _ in response.results:
        if error_code:
            raise UserRefused(f"{user}: error {error_code} {message}")


# Onboarding ---------------------------------------------------------------------------------------


async def provision_service(admin: AIOKafkaAdminClient, service: str, password: str) -> None:
    """A service's user and what it may do (again: idempotent, and a new password)."""
    await set_user(admin, service, password)
    await grant(admin, service_grants(service))


async def provision_services(connection: Mapping[str, Any], passwords: Mapping[str, str]) -> None:
    """Each service's user (with its password) and grants, as the admin `connection` connects."""
    async with connected_admin(connection) as admin:
        for service, password in passwords.items():
            await provision_service(admin, service, password)


async def onboard_partner(
    admin: AIOKafkaAdminClient, partner: str, password: str, replication: Replication | None = None
) -> list[str]:
    """A partner's user, its topics and what it and the services may do with them; returns the
    partner's topics. Again for the same partner: a new password, nothing else changes."""
    if problem := partner_name_problem(partner):
        raise ValueError(problem)
    await set_user(admin, partner, password)
    topics = {topic.of_partner(partner): topic for topic in TOPICS if topic.per_partner}
    await create_and_check(admin, topics, replication or Replication())
    await grant(admin, partner_grants(partner))
    return list(topics)
