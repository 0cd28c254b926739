"""Organisations and National Advisory Services (NAS) with their coordinators."""

from __future__ import annotations

from pymongo.asynchronous.collection import AsyncCollection

from deh_contracts.catalogue.membership import NationalAdvisoryServiceRegistered, OrganisationRegistered
from deh_membership.adapters.documents import Document, all_of, one
from deh_platform.creation import Creation
from deh_platform.errors import InvalidInput
from deh_platform.records import now
from deh_platform.runtime import ServiceRuntime


class OrganisationStore:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.organisations: AsyncCollection[Document] = runtime.db.organisations
        self.nas: AsyncCollection[Document] = runtime.db.nas
        # Read only: a NAS's coordinators must be active members.
        self.members: AsyncCollection[Document] = runtime.db.members

    async def organisation_type(self, organisation_id: str | None, location: tuple[str, ...]) -> str | None:
        if organisation_id is None:
            return None
        organisation = await self.organisations.find_one({"_id": organisation_id})
        if organisation is None:
            raise InvalidInput(location, f"no organisation {organisation_id}")
        return str(organisation["type"])

    async def register_organisation(self, name: str, type_: str, country: str, creation: Creation) -> Document:
        at = now()
        organisation_id = creation.new_id("organisation")
        document: Document = {
            "_id": organisation_id,
            "name": name,
            "type": type_,
            "country": country,
            "registered_at": at,
        }
        event = OrganisationRegistered(
            organisation_id=organisation_id, name=name, type=type_, country=country, registered_at=at
        )
        if not await self.runtime.insert(self.organisations, document, [event], creation):
            return await self.organisation(organisation_id)
        return document

    async def organisation(self, organisation_id: str) -> Document:
        return await one(self.organisations, organisation_id, "organisation")

    async def list_organisations(self, country: str | None) -> list[Document]:
        return await all_of(self.organisations, {"country": country} if country else {}, "name")

    async def register_nas(
        self, country: str, organisation_id: str, coordinator_ids: list[str], scope: str, creation: Creation
    ) -> Document:
        nas_id = creation.new_id("nas")
        if creation.key and creation.is_retry_of(await self.nas.find_one({"_id": nas_id})):
            return await self.nas_entry(nas_id)  # before the checks: they may answer otherwise now
        await self.organisation_type(organisation_id, ("body", "organisation_id"))
        for index, coordinator in enumerate(coordinator_ids):
            if await self.members.count_documents({"_id": coordinator, "status": "active"}) == 0:
                raise InvalidInput(("body", "coordinator_ids", str(index)), f"{coordinator} is not an active member")
        at = now()
        document: Document = {
            "_id": nas_id,
            "country": country,
            "organisation_id": organisation_id,
            "coordinator_ids": coordinator_ids,
            "scope": scope,
            "registered_at": at,
        }
        event = NationalAdvisoryServiceRegistered(
            nas_id=nas_id,
            country=country,
            organisation_id=organisation_id,
            coordinator_ids=coordinator_ids,
            scope=scope,
            registered_at=at,
        )
        if not await self.runtime.insert(self.nas, document, [event], creation):
            return await self.nas_entry(nas_id)
        return document

    async def nas_entry(self, nas_id: str) -> Document:
        return await one(self.nas, nas_id, "National Advisory Service")

    async def list_nas(self, country: str | None) -> list[Document]:
        return await all_of(self.nas, {"country": country} if country else {}, "country")
