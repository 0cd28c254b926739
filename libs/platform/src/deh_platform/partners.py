"""Answers to partner systems on their outcomes topics: what every service with an inbound topic
repeats. An answer goes with no state change (`publish_now`); its id derives from the request's,
so that a redelivery that answers again sends the same message (partners deduplicate on it).
The partner is the one whose topic the message was read from (decision 0019), and message ids
are the partner's own: two partners may use the same one."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from deh_contracts import CloudEvent, Contract
from deh_contracts.catalogue.inbound import EXTERNAL_ID_PATTERN, Rejection, SubmissionAccepted, SubmissionRejected
from deh_contracts.errors import FieldError
from deh_contracts.registry import TOPICS
from deh_platform.consumer import RefusedMessage
from deh_platform.idempotency import derived_id
from deh_platform.runtime import ServiceRuntime

MAX_REASONS = 50
_EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN)


def _bounded(reason: Rejection) -> Rejection:
    """A reason as long as it may be: a location or message quoting a huge input is cut."""
    return Rejection(location=reason.location[:300], message=reason.message[:1000], kind=reason.kind[:60])


@dataclass(frozen=True)
class Request:
    """Who asked for what: the partner, its own id of the item, and the message's id."""

    partner: str
    external_id: str
    request_id: str
    kind: str  # a SubmissionKind: practice, observation

    @classmethod
    def refused(cls, message: RefusedMessage, kind: str) -> Request:
        """The sender of a message that broke its contract: the partner whose topic it came from,
        and its key only when it has the contract's shape (an answer must stay small, whatever
        was sent)."""
        partner = partner_of_topic(message.topic)
        key = message.key if _EXTERNAL_ID.fullmatch(message.key) else "unknown"
        # Without its id, the message is named by where it was read: answers to two such
        # messages must not share an id (partners deduplicate on it).
        ce_id = message.attributes.get("ce_id", "")
        request_id = ce_id[:200] or f"{message.topic}:{message.partition}:{message.offset}"
        return cls(partner, key, request_id, kind)

    def rejection(self, problems: list[FieldError]) -> SubmissionRejected:
        """Every reason, up to MAX_REASONS (then how many more): an outcome must fit a message."""
        reasons = [Rejection.from_field_error(problem) for problem in problems[:MAX_REASONS]]
        if len(problems) > MAX_REASONS:
            more = f"and {len(problems) - MAX_REASONS} more problems of the same message"
            reasons.append(Rejection(location="(message)", message=more, kind="more"))
        return SubmissionRejected(
            partner=self.partner,
            external_id=self.external_id,
            request_id=self.request_id,
            kind=self.kind,
            reasons=[_bounded(reason) for reason in reasons],
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
    # same outcome (partners deduplicate on the id), whether now or through an outbox. A
    # conflict's id also derives from the content that conflicts.

    @property
    def answer_key(self) -> str:
        """The message's id among every partner's: the partner and its own id of the message."""
        return f"{self.partner}/{self.request_id}"

    def rejection_event(
        self, runtime: ServiceRuntime, problems: list[FieldError], *, conflicting: str = ""
    ) -> CloudEvent[Contract]:
        event_id = derived_id("rejection", self.answer_key, *([conflicting] if conflicting else []))
        return runtime.new_event(self.rejection(problems), event_id=event_id)

    def acceptance_event(self, runtime: ServiceRuntime, accepted_id: str) -> CloudEvent[Contract]:
        return runtime.new_event(self.acceptance(accepted_id), event_id=derived_id("acceptance", self.answer_key))

    async def reject(
        self, runtime: ServiceRuntime, problems: list[FieldError], answers: Answers | None = None, digest: str = ""
    ) -> None:
        """Reject now; with `answers`, the rejection is kept first, so that a replay gets it again
        even when the rules or the practice have changed since."""
        event = self.rejection_event(runtime, problems)
        if answers is not None:
            await answers.keep(self, digest, event)
        await runtime.publish_now(event.data, event_id=event.id)

    async def accept(self, runtime: ServiceRuntime, accepted_id: str) -> None:
        event = self.acceptance_event(runtime, accepted_id)
        await runtime.publish_now(event.data, event_id=event.id)

    async def conflict(self, runtime: ServiceRuntime, digest: str) -> None:
        problem = FieldError("ce_id", "this message id was sent before with other content", "conflict")
        event = self.rejection_event(runtime, [problem], conflicting=digest)
        await runtime.publish_now(event.data, event_id=event.id)

    async def answer_again(self, runtime: ServiceRuntime, answers: Answers, digest: str) -> bool:
        """Whether this message id was rejected before: then the same rejection again (the same
        content) or a conflict (other content)."""
        kept = await answers.collection.find_one({"_id": self.answer_key})
        if kept is None:
            return False
        if kept["digest"] != digest:
            await self.conflict(runtime, digest)
            return True
        await runtime.publish_now(SubmissionRejected.model_validate_json(kept["outcome"]), event_id=kept["outcome_id"])
        return True


class Answers:
    """The rejections given to partner messages, by message id (acceptances are kept with what
    they created: a practice, its versions)."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def keep(self, request: Request, digest: str, outcome: CloudEvent[Contract]) -> None:
        record = {"digest": digest, "outcome_id": outcome.id, "outcome": outcome.data.model_dump_json()}
        await self.collection.update_one({"_id": request.answer_key}, {"$setOnInsert": record}, upsert=True)


def partner_of_topic(name: str) -> str:
    """The partner whose inbound topic `name` is (a consumer reads partners' topics only)."""
    found = next((partner for topic in TOPICS if topic.inbound and (partner := topic.owner_of(name))), None)
    if found is None:
        raise ValueError(f"{name} is no partner's inbound topic")
    return found


def content_digest(data: Contract) -> str:
    """A fingerprint of a message's content: the same id with other content is a conflict."""
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
