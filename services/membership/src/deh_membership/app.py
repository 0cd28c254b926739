"""Composition root: the membership service's HTTP app and Kafka wiring on the shared platform."""

from fastapi import FastAPI

from deh_contracts.registry import COMMUNITY, MEMBERSHIP, PEOPLE
from deh_membership.adapters.consultations import ConsultationStore
from deh_membership.adapters.conversations import ConversationStore
from deh_membership.adapters.http import router
from deh_membership.adapters.kafka import subscribe_activity
from deh_membership.adapters.members import MemberStore
from deh_membership.adapters.organisations import OrganisationStore
from deh_membership.adapters.personal_data import PersonalData
from deh_membership.adapters.squads import SquadStore
from deh_membership.adapters.thread_search import POST_INDEX
from deh_membership.settings import MembershipSettings
from deh_platform.http import create_service_app
from deh_platform.people import StoredReferences
from deh_platform.runtime import ServiceRuntime
from deh_platform.search_index import SearchIndex

# The collections whose documents carry their contract events (decision 0004).
OUTBOX_COLLECTIONS = ("members", "organisations", "nas", "squads", "threads", "posts", "consultations", "answers")


def create_app(settings: MembershipSettings) -> FastAPI:
    runtime = ServiceRuntime.from_settings(
        settings, produces=[MEMBERSHIP, COMMUNITY, PEOPLE], outbox_collections=OUTBOX_COLLECTIONS
    )
    runtime.references = StoredReferences(runtime.db.members)
    organisations = OrganisationStore(runtime)
    members = MemberStore(runtime, organisations)
    subscribe_activity(runtime, members)

    conversations = ConversationStore(runtime)
    consultations = ConsultationStore(runtime, conversations)
    index = SearchIndex.of(POST_INDEX, runtime, "posts", settings.search_alias)
    conversations.on_marked = index.notify
    index.run_in(runtime, settings)

    async def prepare(_: ServiceRuntime) -> None:
        await members.create_indexes()
        await conversations.create_indexes()
        await consultations.create_indexes()
        await conversations.posts_searchable()

    app = create_service_app(runtime, title="Digital Education Hub: membership", routers=[router], on_startup=[prepare])
    app.state.members = members
    app.state.organisations = organisations
    app.state.squads = SquadStore(runtime, members)
    app.state.conversations = conversations
    app.state.consultations = consultations
    app.state.index = index
    app.state.personal_data = personal_data = PersonalData(runtime, members, conversations)
    every = settings.sweep_seconds
    runtime.run_exclusively(
        "finish erasures", personal_data.finish_erasures, every_seconds=every, lease_seconds=3 * every
    )
    return app


app = create_app(MembershipSettings())
