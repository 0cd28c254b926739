"""The dead-letter record: a message a consumer could not process, with why and where from."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from deh_contracts.registry import DEAD_LETTERS, Contract, message_type


@message_type("eu.deh.platform.message.dead-lettered.v1", topic=DEAD_LETTERS, subject="origin_key")
class MessageDeadLettered(Contract):
    """A consumer gave up on a message; the original is kept byte for byte (value as text when it is
    UTF-8, else base64) so that it can be inspected and replayed."""

    consumer_group: str
    # The service whose consumer failed (its dead-letter topic); None from before topics per service.
    service: str | None = None
    reason: str
    error_type: str
    attempts: int = Field(ge=1)
    origin_topic: str
    origin_partition: int
    origin_offset: int
    origin_key: str
    origin_headers: dict[str, str]
    origin_value: str
    origin_value_encoding: str = Field(description="utf-8 or base64")
    failed_at: datetime
