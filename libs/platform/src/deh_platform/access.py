"""Who may do what on Kafka: access control entries (ACLs) for the principals that authenticate
with SASL/SCRAM (services, partners), and granting them over the Kafka protocol (decision 0017).

A broker with the StandardAuthorizer and `allow.everyone.if.no.acl.found=false` refuses
whatever no entry allows, so each principal gets exactly its topics and consumer groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest

# The Kafka protocol's codes (org.apache.kafka.common.acl and .resource).
_RESOURCE = {"topic": 2, "group": 3}
_PATTERN = {False: 3, True: 4}  # literal, prefixed
_OPERATION = {"read": 3, "write": 4, "describe": 8}
_ALLOW = 3

Operation = Literal["read", "write", "describe"]


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
