"""The conformance kit for partner systems (`docs/conformance/cases.json`): messages of every type
a partner sends, valid and broken, each with the outcome the hub must answer, so that a partner
can run them through its own client and compare. Generated from the contracts with the schemas
(`python -m deh_contracts.schemas`), so that it cannot drift from them.

Strings in a case hold two placeholders that the partner's runner replaces: `{partner}` (its
name, as onboarded) and `{run}` (a fresh word per run, so that every id is new). Send the cases
in order, each to your topic of its `topic` kind (`deh.partner.{partner}.<topic>.v1`), with its
key, headers and value (UTF-8). Each case expects one outcome on your outcomes topic whose
`request_id` is its `ce_id`: `accepted`, or `rejected` with exactly the one reason given
(`location` and `kind`). Several cases share a `ce_id` (a replay, a conflict): the outcomes for
one `ce_id` may arrive in any order, and the acceptances of one message share one outcome id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from deh_contracts.catalogue.inbound import (
    ObservationSubmitted,
    PracticeSubmissionRequested,
    PracticeSubmissionRevised,
    SubmissionAccepted,
)
from deh_contracts.envelope import new_event, to_kafka
from deh_contracts.partner_guide import example_metadata, example_observation
from deh_contracts.registry import OBSERVATIONS, PRACTICE_SUBMISSIONS, Contract, Topic

# Stand-ins of the contract's shape, replaced by the placeholders once the messages are built.
_PARTNER, _RUN = "zzpartnerzz", "zzrunzz"
_TIME = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
ACCEPTED = {"outcome": "accepted"}


def rejected(location: str, kind: str) -> dict[str, str]:
    return {"outcome": "rejected", "location": location, "kind": kind}


@dataclass(frozen=True)
class Case:
    name: str
    data: Contract
    message: str  # its ce_id, after `{run}-`
    expect: dict[str, str]
    topic: Topic = PRACTICE_SUBMISSIONS
    key: str | None = None  # the record's key, if not the external_id
    value: Callable[[dict[str, Any]], dict[str, Any]] | bytes | None = None  # a broken value

    def render(self) -> dict[str, Any]:
        record = to_kafka(
            new_event(self.data, source=f"/partners/{_PARTNER}", event_id=f"{_RUN}-{self.message}", time=_TIME)
        )
        value = record.value
        if isinstance(self.value, bytes):
            value = self.value
        elif self.value is not None:
            value = json.dumps(self.value(json.loads(value)), ensure_ascii=False).encode()
        return {
            "name": self.name,
            "topic": self.topic.name.removeprefix("deh.partner.{partner}.").removesuffix(".v1"),
            "key": self.key or record.key.decode(),
            "headers": {name: text.decode() for name, text in record.headers},
            "value": value.decode(),
            "expect": self.expect,
        }


def conformance_cases() -> str:
    """The kit as JSON text."""
    practice = _practice("p1")
    cases = [
        Case("a practice submitted", practice, "m1", ACCEPTED),
        Case("the same message again: the same outcome, with the same id", practice, "m1", ACCEPTED),
        Case("its next version", _revision("p1"), "m2", ACCEPTED),
        Case(
            "the first message's id again, with other content",
            _practice("p1", topics=["inclusion", "online"]),
            "m1",
            rejected("ce_id", "conflict"),
        ),
        Case("another submission of the same item", practice, "m3", rejected("external_id", "duplicate")),
        Case("a revision of an item never submitted", _revision("p2"), "m4", rejected("external_id", "not_found")),
        Case(
            "a title in a language the practice does not declare",
            _practice("p3", languages=["en"], summary={"en": "How youth workers run exchanges."}),
            "m5",
            rejected("metadata.title.fr", "value_error"),
        ),
        Case(
            "a key other than its external_id", _practice("p4"), "m6", rejected("(key)", "mismatch"), key=f"{_RUN}-p0"
        ),
        Case(
            "another partner's name",
            _practice("p5"),
            "m7",
            rejected("partner", "mismatch"),
            value=lambda data: {**data, "partner": "someone-else"},
        ),
        Case(
            "a field the contract does not have",
            _practice("p6"),
            "m8",
            rejected("data.metadata.colour", "extra_forbidden"),
            value=lambda data: {**data, "metadata": {**data["metadata"], "colour": "blue"}},
        ),
        Case("a value that is not JSON", _practice("p7"), "m9", rejected("data", "json_invalid"), value=b"{not json"),
        Case("an outcome, sent where submissions go", _outcome("p8"), "m10", rejected("ce_type", "wrong_topic")),
        Case("an observation submitted", _observation("o1"), "m11", ACCEPTED, topic=OBSERVATIONS),
        Case(
            "an observation that cannot be true",
            _observation("o2", value=120.0),
            "m12",
            rejected("observation.value", "value_error"),
            topic=OBSERVATIONS,
        ),
    ]
    kit = {
        "about": " ".join(__doc__.split("\n\n", 1)[1].split()),
        "cases": [case.render() for case in cases],
    }
    text = json.dumps(kit, indent=2, ensure_ascii=False) + "\n"
    return text.replace(_PARTNER, "{partner}").replace(_RUN, "{run}")


def _practice(item: str, **changes: Any) -> PracticeSubmissionRequested:
    metadata = example_metadata(_PARTNER).model_copy(update=changes)
    return PracticeSubmissionRequested(partner=_PARTNER, external_id=f"{_RUN}-{item}", metadata=metadata)


def _revision(item: str, body: str = "Step one: agree on the tools.") -> PracticeSubmissionRevised:
    return PracticeSubmissionRevised(**{**dict(_practice(item)), "body": body})


def _outcome(item: str) -> SubmissionAccepted:
    return SubmissionAccepted(
        partner=_PARTNER,
        external_id=f"{_RUN}-{item}",
        request_id="x",
        kind="practice",
        accepted_id="x",
        accepted_at=_TIME,
    )


def _observation(item: str, value: float = 55.6) -> ObservationSubmitted:
    observation = example_observation().model_copy(update={"value": value})
    return ObservationSubmitted(partner=_PARTNER, external_id=f"{_RUN}-{item}", observation=observation)
