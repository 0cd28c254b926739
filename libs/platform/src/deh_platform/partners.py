"""Answers to partner systems on the outcomes topic: what every service with an inbound topic
repeats. An answer goes with no state change (`publish_now`); its id derives from the request's,
so that a redelivery that answers again sends the same message (partners deduplicate on it)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from deh_contracts import CloudEvent, Contract
from deh_contracts.catalogue.inbound import Rejection, SubmissionAccepted, SubmissionRejected
from deh_contracts.errors import FieldError
from deh_platform.consumer import RefusedMessage
from deh_platform.idempotency import derived_id
from deh_platform.runtime import ServiceRuntime


@dataclass(frozen=True)
class Request:
    """Who asked for what: the partner, its own id of the item, and the message's id."""

    partner: str
    external_id: str
    request_id: str
    kind: str  # a SubmissionKind: practice, observation

    @classmethod
    def refused(cls, message: RefusedMessage, kind: str) -> Request:
        """The sender of a message that broke its contract, as far as it can be read."""
        try:
            partner = str(json.loads(message.value).get("partner") or "unknown")
        except (ValueError, AttributeError):
            partner = "unknown"
        # Without its id, the message is named by where it was read: answers to two such
        # messages must not share an id (partners deduplicate on it).
        request_id = message.attributes.get("ce_id") or f"{message.topic}:{message.partition}:{message.offset}"
        return cls(partner, message.key or "unknown", request_id, kind)

    def rejection(self, problems: list[FieldError]) -> SubmissionRejected:
        return SubmissionRejected(
            partner=self.partner,
            external_id=self.external_id,
            request_id=self.request_id,
            kind=self.kind,
            reasons=[Rejection.from_field_error(problem) for problem in problems],
            rejected_at=datetime.now(UTC),
        )

    def acceptance(self, accepted_id: str) -> SubmissionAccepted:
        return SubmissionAccepted(
            partner=self.partner,
            external_id=self.external_id,
            request_id=self.request_id,
            kind=self.kind,
            accepted_id=accepted_id,
            accepted_at=datetime.now(UTC),
        )

    # Outcomes have ids derived from the request's: answering the same message again sends the
    # same outcome (partners deduplicate on the id), whether now or through an outbox.

    def rejection_event(self, runtime: ServiceRuntime, problems: list[FieldError]) -> CloudEvent[Contract]:
        return runtime.new_event(self.rejection(problems), event_id=derived_id("rejection", self.request_id))

    def acceptance_event(self, runtime: ServiceRuntime, accepted_id: str) -> CloudEvent[Contract]:
        return runtime.new_event(self.acceptance(accepted_id), event_id=derived_id("acceptance", self.request_id))

    async def reject(self, runtime: ServiceRuntime, problems: list[FieldError]) -> None:
        await runtime.publish_now(self.rejection(problems), event_id=derived_id("rejection", self.request_id))

    async def accept(self, runtime: ServiceRuntime, accepted_id: str) -> None:
        await runtime.publish_now(self.acceptance(accepted_id), event_id=derived_id("acceptance", self.request_id))


def content_digest(data: Contract) -> str:
    """A fingerprint of a message's content: the same id with other content is a conflict."""
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
