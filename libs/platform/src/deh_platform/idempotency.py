"""Idempotent effects: the event id is written in the same atomic update as the effect.

Each document remembers the ids of the last events applied to it. An update guarded by
"this id is not among them" applies once: a redelivered event matches nothing. Because events
are keyed by aggregate and consumed in order, a redelivery is always recent, so a bounded memory
per document suffices.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from deh_platform.errors import TransientError

APPLIED_FIELD = "_applied_events"
REMEMBERED_PER_DOCUMENT = 200
DUPLICATE_KEY = 11000
Document = dict[str, Any]


def derived_id(*parts: str) -> str:
    """The same id for the same source (a practice for a partner's submission, an answer to a
    request): a redelivery creates or sends nothing new."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "deh:" + ":".join(parts)).hex


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
    effect = Effect(selector, update, event_id, upsert=upsert)
    try:
        result = await collection.update_one(*effect.guarded(), upsert=upsert)
    except DuplicateKeyError:
        return await _after_duplicate(collection, effect)
    return result.modified_count == 1 or result.upserted_id is not None


async def _after_duplicate(collection: AsyncCollection[Document], effect: Effect) -> bool:
    """An upsert met an existing `_id`: either the event was applied already (the guard hid the
    document), or another writer created the document a moment before. Try once more without
    upserting: the guard tells which."""
    result = await collection.update_one(*effect.guarded())
    return result.modified_count == 1


@dataclass(frozen=True)
class Effect:
    """One event's change to one document, to apply once (see `apply_once`)."""

    selector: Document
    update: Document
    event_id: str
    upsert: bool = False

    def __post_init__(self) -> None:
        if self.upsert and "_id" not in self.selector:
            raise ValueError("an idempotent upsert needs the _id in its selector")

    def guarded(self) -> tuple[Document, Document]:
        """The selector and update that apply the change only if the event is not among those
        the document remembers, and remember it."""
        pushes = dict(self.update.get("$push", {}))
        pushes[APPLIED_FIELD] = {"$each": [self.event_id], "$slice": -REMEMBERED_PER_DOCUMENT}
        return {**self.selector, APPLIED_FIELD: {"$ne": self.event_id}}, {**self.update, "$push": pushes}


async def apply_all_once(collection: AsyncCollection[Document], effects: Sequence[Effect]) -> int:
    """Apply many events' effects in order, in as few bulk writes as possible, each once.

    An upsert whose event was applied already fails on the unique `_id` (the guard hides the
    document); an ordered bulk write stops there, so that one is checked and the rest is sent
    again after it. Returns how many effects were applied now.
    """
    operations = [UpdateOne(*effect.guarded(), upsert=effect.upsert) for effect in effects]
    applied, start = 0, 0
    while start < len(operations):
        try:
            result = await collection.bulk_write(operations[start:], ordered=True)
        except BulkWriteError as error:
            details = error.details
            applied += details.get("nModified", 0) + details.get("nUpserted", 0)
            if not details.get("writeErrors"):  # only the write concern failed: try again later
                raise TransientError(f"write concern not satisfied: {details.get('writeConcernErrors')}") from error
            first = details["writeErrors"][0]
            if first["code"] != DUPLICATE_KEY:
                raise
            failed_at = start + first["index"]
            applied += await _after_duplicate(collection, effects[failed_at])
            start = failed_at + 1
        else:
            return applied + result.modified_count + result.upserted_count
    return applied


async def insert_once(collection: AsyncCollection[Document], document: Document) -> bool:
    """Insert a document whose `_id` is derived from the event id; a redelivery inserts nothing."""
    try:
        await collection.insert_one(document)
    except DuplicateKeyError:
        return False
    return True
