"""Idempotent effects: the event id is written in the same atomic update as the effect.

Each document remembers the ids of the last events applied to it. An update guarded by
"this id is not among them" applies once: a redelivered event matches nothing. Because events
are keyed by aggregate and consumed in order, a redelivery is always recent, so a bounded memory
per document suffices.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

APPLIED_FIELD = "_applied_events"
REMEMBERED_PER_DOCUMENT = 200
Document = dict[str, Any]


async def apply_once(
    collection: AsyncCollection[Document],
    selector: Document,
    update: Document,
    event_id: str,
    *,
    upsert: bool = False,
) -> bool:
    """Apply `update` to the document unless `event_id` was applied to it already.

    With `upsert`, the selector must name the `_id`: a duplicate then fails on the unique `_id`
    instead of creating a second document. Returns True when the effect was applied now.
    """
    if upsert and "_id" not in selector:
        raise ValueError("an idempotent upsert needs the _id in its selector")
    guarded = {**selector, APPLIED_FIELD: {"$ne": event_id}}
    pushes = dict(update.get("$push", {}))
    pushes[APPLIED_FIELD] = {"$each": [event_id], "$slice": -REMEMBERED_PER_DOCUMENT}
    try:
        result = await collection.update_one(guarded, {**update, "$push": pushes}, upsert=upsert)
    except DuplicateKeyError:
        return False
    return result.modified_count == 1 or result.upserted_id is not None


async def insert_once(collection: AsyncCollection[Document], document: Document) -> bool:
    """Insert a document whose `_id` is derived from the event id; a redelivery inserts nothing."""
    try:
        await collection.insert_one(document)
    except DuplicateKeyError:
        return False
    return True
