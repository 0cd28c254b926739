"""Composition root: the membership service's HTTP app and Kafka wiring on the shared platform."""

from fastapi import FastAPI

from deh_contracts.registry import MEMBERSHIP
from deh_membership.adapters.http import router
from deh_membership.adapters.kafka import subscribe_activity
from deh_membership.adapters.store import OUTBOX_COLLECTIONS, MembershipStore
from deh_membership.settings import MembershipSettings
from deh_platform.http import create_service_app
from deh_platform.runtime import ServiceRuntime


def create_app(settings: MembershipSettings) -> FastAPI:
    runtime = ServiceRuntime.from_settings(settings, produces=[MEMBERSHIP], outbox_collections=OUTBOX_COLLECTIONS)
    store = MembershipStore(runtime)
    subscribe_activity(runtime, store)

    async def prepare(_: ServiceRuntime) -> None:
        await store.create_indexes()

    app = create_service_app(runtime, title="Digital Education Hub: membership", routers=[router], on_startup=[prepare])
    app.state.store = store
    return app


app = create_app(MembershipSettings())
