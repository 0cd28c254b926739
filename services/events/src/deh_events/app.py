"""Composition root: the events service's HTTP app and Kafka wiring on the shared platform."""

from deh_contracts.registry import EVENTS
from deh_events.settings import EventsSettings
from deh_platform.http import create_service_app
from deh_platform.runtime import ServiceRuntime

runtime = ServiceRuntime.from_settings(EventsSettings(), produces=[EVENTS])
app = create_service_app(runtime, title="Digital Education Hub: events")
