"""The CloudEvents 1.0 envelope and its Kafka protocol binding in binary content mode.

Binary mode: the Kafka value is the event's data as plain JSON, the CloudEvents attributes travel
as `ce_*` headers, the key is the subject (the aggregate id). A partner that knows nothing of
CloudEvents still reads plain JSON; routing and filtering need only the headers. Trace context
travels in the W3C `traceparent` / `tracestate` headers that OpenTelemetry propagates natively
(see docs/decisions/0003-cloudevents-binary-mode.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from deh_contracts.errors import ContractError, FieldError
from deh_contracts.registry import Contract, spec_for_type, spec_of, topic_name_of
from deh_contracts.vocabulary import tolerant_reading

DataT = TypeVar("DataT", bound=Contract)

SCHEMA_URN_PREFIX = "urn:deh:schema:"
SEQUENCE_HEADER: Final = "ce_sequence"


def sequence_text(number: int) -> str:
    """CloudEvents' sequence extension orders as text: a zero-padded decimal."""
    return f"{number:020d}"


CONTENT_TYPE: Final = "application/json"
# What a partner may send in one message (the value, decompressed): a practice with its whole
# body and metadata is well under it; a larger one is answered with a rejection, not read.
MAX_INBOUND_BYTES: Final = 512 * 1024


class CloudEvent(BaseModel, Generic[DataT]):
    """One message of the hub: CloudEvents 1.0 context attributes around typed data."""

    model_config = ConfigDict(frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, description="Unique per message; consumers deduplicate on it.")
    source: str = Field(min_length=1, description="URI-reference of the producer, e.g. /deh/membership.")
    type: str = Field(min_length=1, description="Versioned type name, e.g. eu.deh.membership.member.approved.v1.")
    subject: str = Field(min_length=1, description="The aggregate id; also the Kafka key.")
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = CONTENT_TYPE
    dataschema: str
    traceparent: str | None = None
    tracestate: str | None = None
    sequence: str | None = Field(
        None,
        description="CloudEvents sequence extension: the event's number among the events of the document that "
        "emitted it (zero-padded decimal, so it also orders as text). Set by the outbox relay.",
    )
    data: DataT

    @property
    def sequence_number(self) -> int:
        """The sequence as a number; 0 for an event published without one."""
        return int(self.sequence) if self.sequence else 0


def new_event(
    data: DataT,
    *,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
    traceparent: str | None = None,
) -> CloudEvent[DataT]:
    """Wrap registered data in an envelope: type, subject and schema come from the catalogue."""
    spec = spec_of(data)
    return CloudEvent[DataT](
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=spec.type_name,
        subject=spec.subject_of(data),
        time=time or datetime.now(UTC),
        dataschema=SCHEMA_URN_PREFIX + spec.type_name,
        traceparent=traceparent,
        data=data,
    )


@dataclass(frozen=True)
class KafkaRecord:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


_REQUIRED_HEADERS = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_subject", "ce_time")
_TRACE_HEADERS = ("traceparent", "tracestate")


def to_kafka(event: CloudEvent[DataT]) -> KafkaRecord:
    headers = {
        "ce_specversion": event.specversion,
        "ce_id": event.id,
        "ce_source": event.source,
        "ce_type": event.type,
        "ce_subject": event.subject,
        "ce_time": event.time.isoformat(),
        "ce_dataschema": event.dataschema,
        "content-type": event.datacontenttype,
        "traceparent": event.traceparent,
        "tracestate": event.tracestate,
        SEQUENCE_HEADER: event.sequence,
    }
    return KafkaRecord(
        topic=topic_name_of(event.data),
        key=event.subject.encode(),
        value=event.data.model_dump_json().encode(),
        headers=[(name, value.encode()) for name, value in headers.items() if value is not None],
    )


def _media_type(content_type: str) -> str:
    """`application/json; charset=utf-8` is `application/json` (JSON is UTF-8); anything else
    stays as it is, to be refused by name."""
    media_type, _, parameters = content_type.partition(";")
    charset = parameters.strip().lower().replace(" ", "")
    if media_type.strip().lower() == CONTENT_TYPE and charset in ("", "charset=utf-8", 'charset="utf-8"'):
        return CONTENT_TYPE
    return content_type


def header_map(
    headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...] | list[tuple[str, bytes | None]],
) -> dict[str, str]:
    """Headers as text; Kafka allows a header without a value (None), read as empty."""
    return {name: (value or b"").decode("utf-8", errors="replace") for name, value in headers}


def from_kafka(
    value: bytes | None,
    headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...],
    *,
    unknown_values: list[str] | None = None,
    strict_fields: bool = False,
) -> CloudEvent[Contract]:
    """Parse a Kafka record: every missing header and every invalid field is reported.

    Fields the model does not know are ignored (a newer producer's additive change). With an
    `unknown_values` list the reading is tolerant as well of values a newer producer added to a
    closed list (a new sector, result type, ...): they are kept and listed there. Without it, as
    for what partners send, such a value is an error; with `strict_fields` (what partners send),
    so is a field the contract does not have.
    """
    attributes = header_map(headers)
    missing = [
        FieldError(name, "required CloudEvents header is missing", "missing")
        for name in _REQUIRED_HEADERS
        if not attributes.get(name)
    ]
    if missing:
        raise ContractError("not a CloudEvent", missing)
    spec = spec_for_type(attributes["ce_type"])
    try:
        context = tolerant_reading(unknown_values) if unknown_values is not None else None
        # A partner's misspelt or invented field must not vanish without a word.
        data = spec.model.model_validate_json(value or b"", context=context, extra="forbid" if strict_fields else None)
    except ValidationError as error:
        raise ContractError.from_validation(f"invalid {spec.type_name}", error, prefix="data") from None
    try:
        return CloudEvent[Contract].model_validate(
            {
                "specversion": attributes["ce_specversion"],
                "id": attributes["ce_id"],
                "source": attributes["ce_source"],
                "type": spec.type_name,
                "subject": attributes["ce_subject"],
                "time": attributes["ce_time"],
                "datacontenttype": _media_type(attributes.get("content-type", CONTENT_TYPE)),
                "dataschema": attributes.get("ce_dataschema", SCHEMA_URN_PREFIX + spec.type_name),
                "traceparent": attributes.get("traceparent"),
                "tracestate": attributes.get("tracestate"),
                "sequence": attributes.get(SEQUENCE_HEADER),
                "data": data,
            }
        )
    except ValidationError as error:
        raise ContractError.from_validation(f"invalid CloudEvents attributes of {spec.type_name}", error) from None
