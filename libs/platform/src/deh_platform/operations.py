"""Operator commands: what the platform sets aside (dead letters: list them, re-drive chosen ones
to the consumer group that failed them; outbox or search-index items set aside in a service's
MongoDB documents), and onboarding a partner system (its Kafka user, topics and grants).

    python -m deh_platform.operations dead-letters [--group G] [--type T] [--reason TEXT]
    python -m deh_platform.operations redrive --group G [--letter ID ...] [--type T] [--reason TEXT]
    python -m deh_platform.operations set-aside --database NAME
    python -m deh_platform.operations partner NAME
    python -m deh_platform.operations services

Servers and the operator's Kafka user (the admin) come from DEH_KAFKA_BOOTSTRAP, DEH_KAFKA_USER,
DEH_KAFKA_PASSWORD and DEH_MONGO_URL (`uv run deh-stack env` prints the local stack's). A
re-driven message keeps its CloudEvents id, so the consumer's once-only guard gives it one
effect however often it is re-driven. A partner's password is DEH_PARTNER_PASSWORD, or one made
and printed once; onboarding a partner again gives it that new password. `services` is a
deployment's provisioning step: each service whose password is set (DEH_<SERVICE>_KAFKA_PASSWORD,
the variable the service itself connects with) gets its Kafka user and its grants.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient

from deh_contracts.envelope import header_map
from deh_contracts.registry import DEAD_LETTERS, REDRIVE, REDRIVE_GROUP_HEADER, REDRIVE_ORIGIN_HEADER, SERVICES
from deh_platform.access import connected_admin, onboard_partner, partner_name_problem, provision_services
from deh_platform.outbox import SET_ASIDE_FIELD
from deh_platform.settings import ServiceSettings
from deh_platform.topics import Replication, ensure_topics

REDRIVE_OF_HEADER = "deh_redrive_of"


def progress_bar(done: int, total: int, width: int = 40) -> None:
    """A long operator command's progress, redrawn in place on standard error."""
    filled = width * min(done, total) // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    sys.stderr.flush()
    if done >= total:
        sys.stderr.write("\n")


@dataclass(frozen=True)
class Letter:
    """A dead letter as the operator sees it: its own id, the service whose dead-letter topic
    holds it (the one that may have written it: never what the letter says), and what it says."""

    letter_id: str
    service: str
    data: dict[str, Any]

    @property
    def group(self) -> str:
        return str(self.data["consumer_group"])

    @property
    def type_name(self) -> str:
        return str(self.data["origin_headers"].get("ce_type", "(no type)"))

    @property
    def reason(self) -> str:
        return str(self.data["reason"])

    def matches(self, group: str | None, type_name: str | None, reason: str | None) -> bool:
        return (
            (group is None or self.group == group)
            and (type_name is None or self.type_name == type_name)
            and (reason is None or reason.lower() in self.reason.lower())
        )


async def read_dead_letters(connection: Mapping[str, Any]) -> list[Letter]:
    """Every dead letter of every service now (each topic keeps them for 90 days)."""
    consumer = AIOKafkaConsumer(**connection, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    letters: list[Letter] = []
    try:
        topics = [name for name in await consumer.topics() if DEAD_LETTERS.owner_of(name)]
        if not topics:
            return letters
        consumer.subscribe(topics)
        while batches := await consumer.getmany(timeout_ms=1000):
            for partition, records in batches.items():
                service = DEAD_LETTERS.owner_of(partition.topic) or ""
                for record in records:
                    letter_id = header_map(list(record.headers)).get("ce_id", "")
                    letters.append(Letter(letter_id, service, json.loads(record.value or b"{}")))
    finally:
        await consumer.stop()
    return letters


class NotTheServicesGroup(ValueError):
    """A dead letter names a consumer group that is not of the service that wrote it."""


async def redrive(connection: Mapping[str, Any], letters: Sequence[Letter]) -> int:
    """Send the original messages back to the groups that failed them, each on the re-drive topic
    of the service whose dead letter it is; returns how many. A letter whose group is not that
    service's (its groups start with its name) is refused: a service could only have forged it."""
    forged = [letter.letter_id for letter in letters if not letter.group.startswith(letter.service)]
    if forged:
        raise NotTheServicesGroup(f"dead letters naming another service's consumer group: {', '.join(forged)}")
    await ensure_topics(
        connection, [REDRIVE.for_service(service) for service in {letter.service for letter in letters}]
    )
    producer = AIOKafkaProducer(**connection, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        deliveries = [
            await producer.send(REDRIVE.of_service(letter.service), **_original(letter)) for letter in letters
        ]
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()
    return len(letters)


def _original(letter: Letter) -> dict[str, Any]:
    data = letter.data
    value = data["origin_value"]
    raw = base64.b64decode(value) if data["origin_value_encoding"] == "base64" else value.encode()
    headers = {
        **data["origin_headers"],
        REDRIVE_GROUP_HEADER: letter.group,
        REDRIVE_ORIGIN_HEADER: data["origin_topic"],
        REDRIVE_OF_HEADER: letter.letter_id,
    }
    return {
        "value": raw,
        "key": data["origin_key"].encode(),
        "headers": [(name, text.encode()) for name, text in headers.items()],
    }


async def set_aside(mongo_url: str, database: str) -> list[dict[str, Any]]:
    """Every item set aside in the database's documents (a scan: an operator's occasional look)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    found: list[dict[str, Any]] = []
    try:
        db = client[database]
        for name in await db.list_collection_names():
            query = {f"{SET_ASIDE_FIELD}.0": {"$exists": True}}
            async for document in db[name].find(query, {SET_ASIDE_FIELD: 1}):
                found += [
                    {"collection": name, "document": document["_id"], **item} for item in document[SET_ASIDE_FIELD]
                ]
    finally:
        await client.close()
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deh_platform.operations", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("dead-letters", "redrive"):
        command = commands.add_parser(name)
        command.add_argument("--group", required=name == "redrive", help="the consumer group that failed them")
        command.add_argument("--type", dest="type_name", help="the CloudEvents type of the original message")
        command.add_argument("--reason", help="text the reason contains (case-insensitive)")
        if name == "redrive":
            command.add_argument("--letter", action="append", default=[], help="a dead letter's id (repeatable)")
    aside = commands.add_parser("set-aside")
    aside.add_argument("--database", required=True, help="a service's MongoDB database, e.g. practices")
    partner = commands.add_parser("partner", help="onboard a partner system, or give it a new password")
    partner.add_argument("name", help="the partner's name, e.g. salto: lower-case letters, digits, '-', '_'")
    commands.add_parser("services", help="each service's Kafka user and grants (a deployment's provisioning job)")
    args = parser.parse_args(argv)
    # The operator's settings: the same DEH_* variables as the services' (no service of its own).
    settings = ServiceSettings(service_name="operations")
    connection = settings.kafka_options()

    if args.command == "set-aside":
        for item in asyncio.run(set_aside(settings.mongo_url, args.database)):
            print(json.dumps(item, default=str))
        return 0
    if args.command == "partner":
        return _onboard(settings, args.name)
    if args.command == "services":
        return _provision_services(settings)
    letters = [
        letter
        for letter in asyncio.run(read_dead_letters(connection))
        if letter.matches(args.group, args.type_name, args.reason)
    ]
    if args.command == "dead-letters":
        _print_letters(letters)
        return 0
    chosen = [letter for letter in letters if not args.letter or letter.letter_id in args.letter]
    print(f"re-driven: {asyncio.run(redrive(connection, chosen))} dead letters to their groups")
    return 0


def _provision_services(settings: ServiceSettings) -> int:
    passwords = {
        service: password
        for service in SERVICES
        if (password := os.environ.get(f"DEH_{service.upper()}_KAFKA_PASSWORD"))
    }
    if not passwords:
        print("no DEH_<SERVICE>_KAFKA_PASSWORD is set: no service to provision", file=sys.stderr)
        return 2

    asyncio.run(provision_services(settings.kafka_options(), passwords))
    print("provisioned: " + ", ".join(sorted(passwords)))
    return 0


def _onboard(settings: ServiceSettings, partner: str) -> int:
    if problem := partner_name_problem(partner):
        print(problem, file=sys.stderr)
        return 2
    given = os.environ.get("DEH_PARTNER_PASSWORD")
    password = given or secrets.token_urlsafe(32)

    async def onboard() -> list[str]:
        replication = Replication(
            settings.kafka_replication_factor, settings.kafka_min_insync_replicas, settings.kafka_retention_ms
        )
        async with connected_admin(settings.kafka_options()) as admin:
            return await onboard_partner(admin, partner, password, replication)

    topics = asyncio.run(onboard())
    print(f"partner {partner}: Kafka user {partner} (SASL/SCRAM-SHA-512), consumer groups {partner}.*")
    print("\n".join(f"  {name}" for name in topics))
    if not given:
        print(f"password (shown once; give it to the partner over a safe channel): {password}")
    return 0


def _print_letters(letters: list[Letter]) -> None:
    summary = Counter((letter.group, letter.type_name, letter.reason.splitlines()[0][:100]) for letter in letters)
    print(f"{len(letters)} dead letters")
    for (group, type_name, reason), count in summary.most_common():
        print(f"{count:6d}  {group}  {type_name}  {reason}")
    print()
    for letter in letters:
        data = letter.data
        print(
            f"{letter.letter_id}  {data['origin_topic']}[{data['origin_partition']}]@{data['origin_offset']}"
            f"  key={data['origin_key']}  {data['failed_at']}  {letter.group}"
        )


if __name__ == "__main__":
    sys.exit(main())
