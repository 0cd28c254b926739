"""The first event catalogue of the hub. Importing this package registers every message type."""

from deh_contracts.catalogue import community, dead_letters, events, inbound, membership, monitoring, practices

__all__ = ["community", "dead_letters", "events", "inbound", "membership", "monitoring", "practices"]
