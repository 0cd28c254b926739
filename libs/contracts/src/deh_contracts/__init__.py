"""The hub's event contracts: CloudEvents envelopes, topics and every message model.

Importing the package registers the whole catalogue.
"""

from deh_contracts import catalogue
from deh_contracts.envelope import CloudEvent, KafkaRecord, from_kafka, new_event, to_kafka
from deh_contracts.errors import ContractError, FieldError
from deh_contracts.registry import MESSAGE_TYPES, TOPICS, Contract, MessageType, Topic, spec_for_type, spec_of

__all__ = [
    "MESSAGE_TYPES",
    "TOPICS",
    "CloudEvent",
    "Contract",
    "ContractError",
    "FieldError",
    "KafkaRecord",
    "MessageType",
    "Topic",
    "catalogue",
    "from_kafka",
    "new_event",
    "spec_for_type",
    "spec_of",
    "to_kafka",
]
