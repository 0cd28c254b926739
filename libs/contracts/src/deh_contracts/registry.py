"""Every topic and every message type of the hub, declared once.

A message type is a pydantic model registered with its versioned type name, its topic and the
field that holds its subject (the aggregate id, which is also the Kafka key).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from deh_contracts.errors import ContractError, FieldError
from deh_contracts.people import person_fields

_FOREVER = "-1"
# A partner system's name, as onboarding gives it (decision 0019): it names the partner's topics,
# its Kafka user and its consumer groups (`<partner>.`), so no dots and nothing upper-case.
PARTNER_NAME = r"[a-z0-9][a-z0-9_-]{0,99}"
PARTNER = "{partner}"
SERVICE = "{service}"
# The hub's services: each has its own Kafka user, which may touch only the topics that name it
# below as producer or consumer, and its own of the topics per service (deh_platform.access).
SERVICES = ("membership", "practices", "events", "monitoring")
EACH_SERVICE = "each service, its own"


@dataclass(frozen=True)
class Topic:
    """A topic, or with `{partner}` or `{service}` in its name a family of topics, one per partner
    system or service: `deh.partner.{partner}.outcomes.v1` is `deh.partner.salto.outcomes.v1`
    for SALTO. Who writes a partner's (or a service's) topic is who Kafka let write it, so the
    partner (or the service) is known from the topic."""

    name: str
    key: str
    partitions: int
    producer: str
    consumers: tuple[str, ...]
    description: str
    config: dict[str, str] = field(default_factory=dict)
    # Written by partner systems: read strictly, answered with an outcome.
    inbound: bool = False
    # The family a topic of one service belongs to (`for_service`), by its name with `{service}`.
    family_name: str = ""

    @property
    def per_partner(self) -> bool:
        return PARTNER in self.name

    @property
    def per_service(self) -> bool:
        return SERVICE in self.name

    @property
    def family(self) -> bool:
        return self.per_partner or self.per_service

    def of_partner(self, partner: str) -> str:
        """The name of this family's topic for one partner."""
        return self._of(PARTNER, partner)

    def of_service(self, service: str) -> str:
        """The name of this family's topic for one service."""
        return self._of(SERVICE, service)

    def for_service(self, service: str) -> Topic:
        """This family's topic of one service, as a topic of its own (to create, read or grant)."""
        return dataclasses.replace(self, name=self.of_service(service), family_name=self.name)

    def _of(self, placeholder: str, owner: str) -> str:
        if placeholder not in self.name or not re.fullmatch(PARTNER_NAME, owner):
            raise ValueError(f"{owner!r} is not a partner name, or {self.name} is not a topic per {placeholder}")
        return self.name.replace(placeholder, owner)

    @property
    def pattern(self) -> str:
        """A regular expression of the names this topic (or family) has."""
        placeholder = PARTNER if self.per_partner else SERVICE
        head, _, tail = self.name.partition(placeholder)
        return re.escape(head) + (f"({PARTNER_NAME})" + re.escape(tail) if self.family else "")

    def owner_of(self, name: str) -> str | None:
        """The partner (or service) whose topic of this family `name` is; None for a name of
        another topic."""
        found = re.fullmatch(self.pattern, name) if self.family else None
        return found.group(1) if found else None


# Domain streams are kept forever: monitoring rebuilds its indexes by replaying them.
MEMBERSHIP = Topic(
    "deh.membership.v1",
    key="member, organisation, NAS or squad id",
    partitions=6,
    producer="membership",
    consumers=("practices", "monitoring"),
    description="Everything that happens to members, organisations, National Advisory Services and squads.",
    config={"retention.ms": _FOREVER},
)
# The Community of Practice's conversations: who wrote where and when, never what (the text of a
# post stays in membership, where an erasure reaches it; these events are kept forever).
COMMUNITY = Topic(
    "deh.community.v1",
    key="thread or consultation id",
    partitions=6,
    producer="membership",
    consumers=("monitoring",),
    description="Conversations and consultations of the Community of Practice: threads, posts, moderation, "
    "consultations opened and answered (who, where and when; never a text, never who answered).",
    config={"retention.ms": _FOREVER},
)
# What other services may show about a person: compacted and keyed by member, so that the
# latest record of each member is all that is kept, and an erasure's tombstone (no value)
# removes the rest once the log cleaner has run (decision 0014). Never a domain stream.
PEOPLE = Topic(
    "deh.membership.people.v1",
    key="member id",
    partitions=6,
    producer="membership",
    consumers=("practices", "events"),
    description="Each member's current public details (the name they show, if any); a tombstone on erasure.",
    config={"cleanup.policy": "compact", "max.compaction.lag.ms": str(24 * 3600 * 1000)},
)
PRACTICES = Topic(
    "deh.practices.v1",
    key="practice id",
    partitions=6,
    producer="practices",
    consumers=("membership", "monitoring"),
    description="The life of each good practice: submission, review, publication, updates, archive, broken links.",
    config={"retention.ms": _FOREVER},
)
EVENTS = Topic(
    "deh.events.v1",
    key="event id",
    partitions=6,
    producer="events",
    consumers=("membership", "practices", "monitoring"),
    description="Workshops, hackathons, webinars and meetings: scheduling, registrations, waitlist, attendance, teams.",
    config={"retention.ms": _FOREVER},
)
MONITORING = Topic(
    "deh.monitoring.v1",
    key="observation id",
    partitions=3,
    producer="monitoring",
    consumers=("monitoring",),  # its projection of observations is rebuilt from it
    description="External observations accepted into the monitoring of the Digital Education Action Plan.",
    config={"retention.ms": _FOREVER},
)
# Partners' topics: each partner writes its own inbound topics and reads its own outcomes, and
# nobody else's (Kafka's ACLs, granted at onboarding: python -m deh_platform.operations partner).
PRACTICE_SUBMISSIONS = Topic(
    "deh.partner.{partner}.practice-submissions.v1",
    key="the partner's own id of the practice",
    partitions=3,
    producer="partner systems (SALTO, EU project-results importers)",
    consumers=("practices",),
    description="Practices that a partner system submits to the library.",
    config={"retention.ms": str(30 * 24 * 3600 * 1000)},
    inbound=True,
)
OBSERVATIONS = Topic(
    "deh.partner.{partner}.observations.v1",
    key="the partner's own id of the observation",
    partitions=3,
    producer="partner systems (national services, statistics importers)",
    consumers=("monitoring",),
    description="External observations (national figures, EU-funded project results) for monitoring.",
    config={"retention.ms": str(30 * 24 * 3600 * 1000)},
    inbound=True,
)
OUTCOMES = Topic(
    "deh.partner.{partner}.outcomes.v1",
    key="the partner's own id of the submitted item",
    partitions=3,
    producer="practices, monitoring",
    consumers=("the partner system",),
    description="What happened to each of the partner's submissions: accepted with the new id, or rejected "
    "with every reason.",
    config={"retention.ms": str(30 * 24 * 3600 * 1000)},
)
# Each service its own: a service writes only its dead letters and reads only what is re-driven
# to it, so that no service can make another take a message as a partner's (decision 0019).
DEAD_LETTERS = Topic(
    "deh.deadletter.{service}.v1",
    key="the original message's key",
    partitions=3,
    producer=EACH_SERVICE,
    consumers=("operators",),
    description="Messages a service's consumer could not process, with the reason and where they came from.",
    config={"retention.ms": str(90 * 24 * 3600 * 1000)},
)
REDRIVE = Topic(
    "deh.redrive.{service}.v1",
    key="the original message's key",
    partitions=3,
    producer="operators (python -m deh_platform.operations redrive)",
    consumers=(EACH_SERVICE,),
    description="A service's dead letters sent back, byte for byte, to the consumer group that failed them "
    "(header deh_redrive_group; the original topic in deh_origin_topic). Its other groups skip them.",
    config={"retention.ms": str(7 * 24 * 3600 * 1000)},
)
REDRIVE_GROUP_HEADER = "deh_redrive_group"
REDRIVE_ORIGIN_HEADER = "deh_origin_topic"
TOPICS: tuple[Topic, ...] = (
    MEMBERSHIP,
    COMMUNITY,
    PEOPLE,
    PRACTICES,
    EVENTS,
    MONITORING,
    PRACTICE_SUBMISSIONS,
    OBSERVATIONS,
    OUTCOMES,
    DEAD_LETTERS,
    REDRIVE,
)


class Contract(BaseModel):
    """Base of every message's data: immutable, strictly typed; unknown fields are ignored so that
    additive changes within a version never break an older reader."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")


@dataclass(frozen=True)
class MessageType:
    type_name: str
    model: type[Contract]
    topic: Topic
    subject_field: str

    @property
    def description(self) -> str:
        return (self.model.__doc__ or "").strip()

    def subject_of(self, data: Contract) -> str:
        return str(getattr(data, self.subject_field))

    @cached_property
    def person_fields(self) -> tuple[str, ...]:
        """The fields that name people (`deh_contracts.people.PersonId`)."""
        return person_fields(self.model)


MESSAGE_TYPES: dict[str, MessageType] = {}
_BY_MODEL: dict[type[Contract], MessageType] = {}

ContractT = TypeVar("ContractT", bound=Contract)


def message_type(type_name: str, *, topic: Topic, subject: str) -> Callable[[type[ContractT]], type[ContractT]]:
    """Register a model as the data of the CloudEvent type `type_name` (versioned: `...v1`)."""

    def register(model: type[ContractT]) -> type[ContractT]:
        if type_name in MESSAGE_TYPES:
            raise ValueError(f"message type {type_name} is declared twice")
        if not type_name.rsplit(".", 1)[-1].startswith("v"):
            raise ValueError(f"message type {type_name} must end with its version, for example .v1")
        if subject not in model.model_fields:
            raise ValueError(f"{model.__name__} has no field {subject!r} to use as subject")
        spec = MessageType(type_name, model, topic, subject)
        MESSAGE_TYPES[type_name] = spec
        _BY_MODEL[model] = spec
        return model

    return register


def spec_of(model: type[Contract] | Contract) -> MessageType:
    model_class = model if isinstance(model, type) else type(model)
    try:
        return _BY_MODEL[model_class]
    except KeyError:
        raise ValueError(f"{model_class.__name__} is not a registered message type") from None


def spec_for_type(type_name: str) -> MessageType:
    try:
        return MESSAGE_TYPES[type_name]
    except KeyError:
        raise ContractError(
            "unknown message type", [FieldError("type", f"{type_name!r} is not in the catalogue", "unknown_type")]
        ) from None


def topic_name_of(data: Contract) -> str:
    """Where a message goes: its type's topic, or the topic of the partner (or service) it names."""
    topic = spec_of(data).topic
    if topic.per_partner:
        return topic.of_partner(str(getattr(data, "partner", "")))
    if topic.per_service:
        return topic.of_service(str(getattr(data, "service", "")))
    return topic.name


def types_on(topic: Topic) -> list[MessageType]:
    return [spec for spec in MESSAGE_TYPES.values() if spec.topic == topic]


def all_types() -> dict[str, MessageType]:
    """The published catalogue: the types declared in `deh_contracts.catalogue` (tests may
    register private types of their own, which are never published)."""
    import deh_contracts.catalogue  # noqa: F401  (registration happens on import)

    return {
        name: spec
        for name, spec in MESSAGE_TYPES.items()
        if spec.model.__module__.startswith("deh_contracts.catalogue.")
    }
