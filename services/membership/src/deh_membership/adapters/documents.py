"""What membership's stores share: a write conditional on what it changes (the squads' places and
applications, contended by many at once) that reports whether it applied, and reads of one
document, a sorted list or a page of one without the platform's bookkeeping fields. A change computed from a
member as read is `ServiceRuntime.change`, guarded by the member's revision."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from deh_contracts.registry import Contract
from deh_membership.domain.paging import decode_cursor, encode_cursor
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


async def page_of(
    collection: AsyncCollection[Document], query: Document, key: str, direction: int, cursor: str | None, limit: int
) -> tuple[list[Document], str | None]:
    """A page of what `query` finds in the order of `key`, then `_id` (both `direction`), after
    the page that `cursor` ended; with the cursor of the next page when there is one."""
    if cursor:
        last_key, last_id = decode_cursor(cursor)
        beyond = "$gt" if direction == ASCENDING else "$lt"
        after = {"$or": [{key: {beyond: last_key}}, {key: last_key, "_id": {beyond: last_id}}]}
        query = {"$and": [query, after]}
    found = collection.find(query, HIDDEN_FIELDS).sort([(key, direction), ("_id", direction)]).limit(limit + 1)
    documents = [document async for document in found]
    page = documents[:limit]
    return page, encode_cursor(page[-1][key], page[-1]["_id"]) if len(documents) > limit else None
