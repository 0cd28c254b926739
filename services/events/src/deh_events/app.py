"""Composition root: the events service's HTTP app, Kafka wiring and once-per-deployment jobs."""

from datetime import timedelta

from fastapi import FastAPI

from deh_contracts.registry import EVENTS
from deh_events.adapters.http import router
from deh_events.adapters.jobs import schedule_jobs
from deh_events.adapters.kafka import subscribe_membership
from deh_events.adapters.registrations import RegistrationStore
from deh_events.adapters.store import OUTBOX_COLLECTIONS, EventStore
from deh_events.adapters.teams import TeamStore
from deh_events.settings import EventsSettings
from deh_platform.http import create_service_app
from deh_platform.runtime import ServiceRuntime


def create_app(settings: EventsSettings) -> FastAPI:
    runtime = ServiceRuntime.from_settings(settings, produces=[EVENTS], outbox_collections=OUTBOX_COLLECTIONS)
    store = EventStore(runtime)
    runtime.references = store.people
    desk = RegistrationStore(store, repair_after=timedelta(seconds=settings.repair_after_seconds))
    teams = TeamStore(desk)
    desk.on_cancelled = teams.left_the_event
    subscribe_membership(runtime, desk, teams)
    schedule_jobs(runtime, desk, settings)

    async def prepare(_: ServiceRuntime) -> None:
        for indexed in (store, desk, teams):
            await indexed.create_indexes()

    app = create_service_app(runtime, title="Digital Education Hub: events", routers=[router], on_startup=[prepare])
    app.state.store = store
    app.state.registrations = desk
    app.state.teams = teams
    return app


app = create_app(EventsSettings())
