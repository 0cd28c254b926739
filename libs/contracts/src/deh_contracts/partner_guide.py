"""The partner guide (`docs/partners.md`): what a partner system's developer needs to send to the
hub and read its answers, generated from the contracts so that it cannot drift from them
(`python -m deh_contracts.schemas` writes it with the schemas)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from deh_contracts.catalogue.inbound import (
    ObservationSubmitted,
    PracticeSubmissionRequested,
    PracticeSubmissionRevised,
    Rejection,
    SubmissionAccepted,
    SubmissionRejected,
)
from deh_contracts.catalogue.monitoring import ObservationValue
from deh_contracts.catalogue.practices import Origin, PracticeMetadata
from deh_contracts.envelope import CONTENT_TYPE, MAX_INBOUND_BYTES, SCHEMA_URN_PREFIX, new_event, to_kafka
from deh_contracts.registry import TOPICS, Contract, MessageType, all_types

EXAMPLE_TIME = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SECURITY_PROTOCOL = "SASL_SSL"  # SASL_PLAINTEXT on a developer's own machine only

# Why a message is rejected: the `kind` of each reason of a rejection.
REJECTION_KINDS = {
    "missing": "a required field or CloudEvents header is missing, or the message has no value",
    "extra_forbidden": "a field the contract does not have (at any depth: check its spelling)",
    "string_too_long / too_long / too_short": "a text or list outside its bounds (see the JSON Schema)",
    "string_pattern_mismatch": "`partner` or `external_id` not of the shape the contract gives",
    "value_error": "a value outside its vocabulary, or a rule across fields (a title in a language "
    "the practice does not declare, a link that is not http(s), an origin without its reference)",
    "too_large": f"the message is over {MAX_INBOUND_BYTES // 1024} KiB; it was not read",
    "more": "the message has more problems than are listed",
    "wrong_topic": "a type of the hub's that this topic does not take (`ce_type`)",
    "mismatch": "the record's key or `ce_subject` is not the message's `external_id`, or `partner` is not "
    "the name in the topic's (location `partner`)",
    "duplicate": "another message already submitted this `external_id` (send a revision instead)",
    "conflict": "practices: this `ce_id` was sent before with other content, or the practice cannot "
    "take a revision now (in its first review, rejected, archived); an observation's correction is no conflict",
    "not_found": "a revision of an `external_id` never submitted",
}

HEADERS = [
    ("ce_specversion", "required", "`1.0`"),
    (
        "ce_id",
        "required",
        "unique per message and kept when the same message is sent again; outcomes carry it as `request_id`",
    ),
    ("ce_source", "required", "a URI-reference naming your system, for example `/partners/salto`"),
    ("ce_type", "required", "the type's exact name (below)"),
    ("ce_subject", "required", "the message's `external_id`"),
    ("ce_time", "required", "when you created the message: RFC 3339 with a time zone, e.g. `2026-11-02T09:30:00Z`"),
    ("content-type", "optional", f"`{CONTENT_TYPE}` (with `; charset=utf-8` or without); nothing else"),
    ("ce_dataschema", "optional", f"informational: `{SCHEMA_URN_PREFIX}<type>`"),
    ("traceparent, tracestate", "optional", "W3C trace context, passed on to the hub's traces"),
]


def partner_guide() -> str:
    yours = [topic for topic in TOPICS if topic.per_partner]
    lines = [
        "# Partner guide",
        "",
        "Generated from `deh_contracts` by `python -m deh_contracts.schemas`; do not edit by hand.",
        "",
        "Partner systems (SALTO, EU-funded projects, national platforms) send practices and observations",
        "to the hub over Kafka and read one outcome for every message they send.",
        "",
        "## Connection",
        "",
        "The hub's operators onboard your system: they give you its name (`salto` in the examples: lower-case",
        "letters, digits, `-` and `_`), the bootstrap servers and a password. Connect with",
        f"SASL/SCRAM-SHA-512 (`security.protocol` `{SECURITY_PROTOCOL}`, `sasl.mechanism` `SCRAM-SHA-512`), the",
        "name as user name. Your user writes your own inbound topics and reads your own outcomes, in consumer",
        "groups whose names start with your name and a dot (`salto.portal`); Kafka refuses it anything else",
        "(`TOPIC_AUTHORIZATION_FAILED`, `GROUP_AUTHORIZATION_FAILED`). Produce with `acks=all` and idempotence",
        "on.",
        "",
        "## Topics",
        "",
        "Each partner has its own topics, `{partner}` being its name: the hub knows who sent a message by",
        "the topic it was written to, which only that partner may write.",
        "",
        "| topic | you | types |",
        "|---|---|---|",
    ]
    for topic in yours:
        types = ", ".join(f"`{spec.type_name}`" for spec in _types_on(topic.name))
        role = "write" if topic.inbound else "read"
        lines.append(f"| `{topic.name}` | {role} | {types} |")
    lines += [
        "",
        "## A message",
        "",
        "CloudEvents 1.0 in Kafka's binary content mode: the record's value is the data as JSON (UTF-8),",
        "the attributes are headers, the key is the `external_id` (UTF-8).",
        "",
        "| header | | value |",
        "|---|---|---|",
        *(f"| `{name}` | {need} | {value} |" for name, need, value in HEADERS),
        "",
        "Data: each type's JSON Schema is `libs/contracts/schemas/<type>.json`. A field the contract does not",
        f"have is refused, at any depth; a message over {MAX_INBOUND_BYTES // 1024} KiB is refused unread.",
        "`partner`: your name, the one in the topic's (another is rejected as a `mismatch`); `external_id`:",
        "your own id, letters, digits and `. _ : / -`, at most 200 characters. Ids are yours: another",
        "partner's message with the same `ce_id` or `external_id` is another message, of another item.",
        "",
        "## Outcomes",
        "",
        "Every message you send gets one outcome on your outcomes topic, keyed by its `external_id`, with",
        "`request_id` = your message's `ce_id` (the outcome's own `ce_id` is the outcome's):",
        "",
        "- `eu.deh.inbound.submission.accepted.v1`: `accepted_id` is the hub's id of the practice or",
        "  observation. Accepted means stored: a practice is then `submitted`, and public only after the",
        "  hub's review.",
        "- `eu.deh.inbound.submission.rejected.v1`: `reasons` lists every problem, each with a `location`",
        "  (a field as `data.metadata.title`, or a header as `ce_type`, or `(key)`, `(message)`), a",
        "  `message` and a `kind`.",
        "",
        "The same message sent again (the same `ce_id` and content), for example because you did not see",
        "its outcome, gets the same outcome again, with the same `ce_id`: deduplicate outcomes on it. A",
        "message the hub cannot read at all is answered too: its key as `external_id` (`unknown` if the key",
        "has not the shape of one; so is an outcome of a `mismatch` keyed), and `<topic>:<partition>:<offset>`",
        "as `request_id` when it has no `ce_id`. A message the hub fails to process for a reason of its",
        "own (a server away, a fault) is",
        "tried again; one that still fails goes to the operators' dead letters, and its outcome comes when",
        "they send it again. At most 50 reasons are listed, then how many more.",
        "",
        "| kind | meaning |",
        "|---|---|",
        *(f"| `{kind}` | {meaning} |" for kind, meaning in REJECTION_KINDS.items()),
        "",
        "## Practices",
        "",
        "`practice-submission.requested.v1` submits a practice once per `external_id`; another one for",
        "the same `external_id` is a `duplicate`. `practice-submission.revised.v1` sends its next version,",
        "which is reviewed again (a published practice stays public as published meanwhile).",
        "",
        "Vocabularies (languages, countries, sectors, ISCED levels, DigComp and DigCompEdu competences,",
        "result types, origin kinds, `target_groups` as LRMI educational audience roles such as `teacher`,",
        "`accessibility_features` as schema.org accessibilityFeature values such as `captions`) are the",
        "`enum`s of the JSON Schemas. A partner's `origin.kind` is its",
        "own (`salto`) or `eu_project` with the project's reference. `licence` is an SPDX id (`CC-BY-4.0`),",
        "`NOASSERTION` while none is chosen, or `LicenseRef-<name>` for another licence; `links` are",
        "absolute http(s) URLs.",
        "",
        "## Observations",
        "",
        "`observation.submitted.v1` records a figure (an indicator for a country and a period). An",
        "observation with an `external_id` sent before corrects it: its newest value counts.",
        "",
        "## Conformance kit",
        "",
        "`docs/conformance/cases.json` holds a message of every type, valid and broken, each with the",
        "outcome the hub answers; its `about` says how to run it. Run it through your client against a",
        "hub you are onboarded on (a developer's `make up` and `python -m deh_platform.operations partner",
        "NAME` will do) before you go live. `partners/example-java/ConformancePartner.java` is a client",
        "written from this guide alone that runs the kit; the hub's tests run it on every change.",
        "",
        "## Examples",
        "",
    ]
    for title, data in _examples():
        answer = isinstance(data, SubmissionAccepted | SubmissionRejected)
        source, event_id = ("/deh/practices", "o-7d2f") if answer else ("/partners/salto", "m-2026-0042")
        record = to_kafka(new_event(data, source=source, event_id=event_id, time=EXAMPLE_TIME))
        headers = {name: value.decode() for name, value in record.headers}
        lines += [
            f"### {title}",
            "",
            f"Topic `{record.topic}`, key `{record.key.decode()}`, headers:",
            "",
            "```json",
            json.dumps(headers, indent=2, ensure_ascii=False),
            "```",
            "",
            "Value:",
            "",
            "```json",
            json.dumps(json.loads(record.value), indent=2, ensure_ascii=False),
            "```",
            "",
        ]
    return "\n".join(lines).rstrip("\n") + "\n"


def _types_on(topic_name: str) -> Iterator[MessageType]:
    return (spec for _, spec in sorted(all_types().items()) if spec.topic.name == topic_name)


def example_metadata(partner: str) -> PracticeMetadata:
    """A practice as a partner describes it (the guide's examples and the conformance kit's)."""
    return PracticeMetadata(
        title={"en": "Inclusive youth exchanges online", "fr": "Échanges de jeunes inclusifs en ligne"},
        summary={"en": "How youth workers run accessible online exchanges.", "fr": "Comment animer des échanges."},
        languages=["en", "fr"],
        countries=["FR", "BE"],
        sectors=["youth"],
        topics=["inclusion"],
        digcomp=["2.4"],
        licence="CC-BY-4.0",
        links=["https://example.org/exchanges"],
        result_type="handbook",
        origin=Origin(kind="salto", partner=partner),
    )


def _examples() -> list[tuple[str, Contract]]:
    metadata = example_metadata("salto")
    submission: dict[str, Any] = {"partner": "salto", "external_id": "salto-2026-17", "metadata": metadata}
    outcome = {"partner": "salto", "external_id": "salto-2026-17", "request_id": "m-2026-0042", "kind": "practice"}
    return [
        ("A practice submitted", PracticeSubmissionRequested(**submission, author_names=["SALTO Inclusion team"])),
        ("Its next version", PracticeSubmissionRevised(**submission, body="Step one: agree on the tools.")),
        (
            "An observation",
            ObservationSubmitted(
                partner="salto", external_id="fr-2026-basic-skills", observation=example_observation()
            ),
        ),
        ("The outcome: accepted", SubmissionAccepted(**outcome, accepted_id="p-7c1e", accepted_at=EXAMPLE_TIME)),
        (
            "The outcome: rejected",
            SubmissionRejected(
                **outcome,
                reasons=[
                    Rejection(
                        location="data.metadata.title.de",
                        message="de is not among the practice's languages",
                        kind="value_error",
                    )
                ],
                rejected_at=EXAMPLE_TIME,
            ),
        ),
    ]


def example_observation() -> ObservationValue:
    """A national figure, measured by the indicator of the EU-level target it counts towards."""
    return ObservationValue(
        indicator="adults_at_least_basic_digital_skills",
        target="adults_basic_digital_skills",
        country="FR",
        period_start=datetime(2025, 1, 1, tzinfo=UTC),
        period_end=datetime(2025, 12, 31, tzinfo=UTC),
        value=60.3,
        unit="percent",
        source="Eurostat isoc_sk_dskl_i21",
    )
