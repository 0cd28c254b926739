"""Composition root: the practices service's HTTP app, Kafka wiring and search indexer."""

from datetime import timedelta

from fastapi import FastAPI

from deh_contracts.registry import OUTCOMES, PRACTICES
from deh_platform.http import create_service_app
from deh_platform.runtime import ServiceRuntime
from deh_platform.search_index import SearchIndex
from deh_practices.adapters.http import router
from deh_practices.adapters.index import PRACTICE_INDEX
from deh_practices.adapters.kafka import subscribe
from deh_practices.adapters.links import LinkChecks, LinkPolicy
from deh_practices.adapters.store import OUTBOX_COLLECTIONS, PracticeStore
from deh_practices.domain import oai
from deh_practices.settings import PracticesSettings


def create_app(settings: PracticesSettings) -> FastAPI:
    runtime = ServiceRuntime.from_settings(
        settings, produces=[PRACTICES, OUTCOMES], outbox_collections=OUTBOX_COLLECTIONS
    )
    store = PracticeStore(runtime)
    runtime.references = store.people
    index = SearchIndex.of(PRACTICE_INDEX, runtime, "practices", settings.search_alias)
    store.on_marked = index.notify
    subscribe(runtime, store)
    index.run_in(runtime, settings)
    policy = LinkPolicy.allowing(settings.link_check_allowed_networks)
    links = LinkChecks(store, policy, timedelta(hours=settings.link_check_hours))
    poll = settings.link_check_poll_seconds
    runtime.run_exclusively("link check", links.run_when_due, every_seconds=poll, lease_seconds=3 * poll)

    async def prepare(_: ServiceRuntime) -> None:
        await store.create_indexes()
        await store.licences_as_spdx()
        await store.vocabularies_kept()
        await index.ensure()

    app = create_service_app(
        runtime,
        title="Digital Education Hub: practices",
        routers=[router],
        on_startup=[prepare],
        form_paths=frozenset({"/oai"}),  # OAI-PMH harvesters may POST their arguments as a form
    )
    app.state.store = store
    app.state.index = index
    app.state.links = links
    app.state.public_url = settings.public_url.rstrip("/")
    app.state.oai = oai.Repository(
        base_url=f"{app.state.public_url.rsplit('/', 1)[0]}/oai",
        name=settings.oai_repository,
        admin_email=settings.oai_admin_email,
        page_size=settings.oai_page_size,
    )
    return app


app = create_app(PracticesSettings())
