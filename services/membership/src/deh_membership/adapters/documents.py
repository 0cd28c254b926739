"""What membership's stores share: a write conditional on what it changes (the squads' places and
applications, contended by many at once) that reports whether it applied, and reads of one
document or a sorted list without the platform's bookkeeping fields. A change computed from a
member as read is `ServiceRuntime.change`, guarded by the member's revision."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from deh_contracts.registry import Contract
from deh_platform.errors import NotFound
from deh_platform.outbox import Outgoing
from deh_platform.records import HIDDEN_FIELDS
from deh_platform.runtime import ServiceRuntime

Document = dict[str, Any]


async def written(
    runtime: ServiceRuntime,
    collection: AsyncCollection[Document],
    selector: Document,
    update: Document,
    events: Sequence[Contract | Outgoing],
    array_filters: list[Document] | None = None,
) -> bool:
    """One conditional update with its events; False when the selector matched nothing."""
    result = await runtime.write(collection, selector, update, events, array_filters=array_filters)
    return result.modified_count == 1


async def one(collection: AsyncCollection[Document], key: str, what: str) -> Document:
    document = await collection.find_one({"_id": key}, HIDDEN_FIELDS)
    if document is None:
        raise NotFound(f"no {what} {key}")
    return document


async def all_of(collection: AsyncCollection[Document], query: Document, order: str) -> list[Document]:
    return [document async for document in collection.find(query, HIDDEN_FIELDS).sort(order, ASCENDING)]
