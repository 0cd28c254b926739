"""Idempotent creation over HTTP: the `Idempotency-Key` request header (IETF httpapi draft).

A client that retries a creating POST after a cut connection sends the same key again. With a
key, the new resource's id is derived from the caller and the key, and the key and a fingerprint
of the request are stored in the same insert as the resource (and its events). A retry therefore
meets the resource the first request created: with the same request it is answered as the first
was (201 and the resource, as it is now), with another request it is a 422 on the header.
Without a key, creation works as before (each request creates).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pymongo.asynchronous.collection import AsyncCollection

from deh_platform.auth import Caller
from deh_platform.errors import InvalidInput
from deh_platform.idempotency import derived_id
from deh_platform.records import CREATION_FIELD, new_id

KEY_HEADER = "Idempotency-Key"
KeyHeader = Annotated[
    str | None,
    Header(
        alias=KEY_HEADER,
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique printable string (a UUID): a retry with the same key and body creates nothing new.",
    ),
]


@dataclass(frozen=True)
class Creation:
    """What a creating request says about itself: who creates, under which key, and its fingerprint."""

    caller: str
    key: str | None
    fingerprint: str

    def new_id(self, kind: str) -> str:
        """The new resource's id: the same for every retry under one key."""
        # JSON-encoded, so that no caller and key can be read as another pair ("a", "b:c" / "a:b", "c").
        return derived_id("created", kind, json.dumps([self.caller, self.key])) if self.key else new_id()

    def stamp(self, document: dict[str, Any]) -> dict[str, Any]:
        """The document to insert, remembering the key and the request it was created by."""
        remembered = {"caller": self.caller, "key": self.key, "fingerprint": self.fingerprint}
        return {**document, CREATION_FIELD: remembered} if self.key else document

    def is_retry_of(self, stored: dict[str, Any] | None) -> bool:
        """Whether a stored resource was created by this same request under this key; a 422 when
        the key created it for another request."""
        remembered = (stored or {}).get(CREATION_FIELD) or {}
        if self.key is None or (remembered.get("caller"), remembered.get("key")) != (self.caller, self.key):
            return False
        if remembered.get("fingerprint") != self.fingerprint:
            raise InvalidInput(("header", KEY_HEADER), "this key was used for a different request")
        return True


async def creation(request: Request, caller: Caller, key: KeyHeader = None) -> Creation:
    body = await request.body()  # read once by Starlette and kept: the route's parsing reads it again
    fingerprint = hashlib.sha256(b"\n".join([request.method.encode(), request.url.path.encode(), body])).hexdigest()
    return Creation(caller.member_id, key, fingerprint)


NewResource = Annotated[Creation, Depends(creation)]


async def forget_caller(
    collection: AsyncCollection[dict[str, Any]], caller: str, item_lists: Mapping[str, str] | None = None
) -> None:
    """Erasure: the records of the Idempotency-Keys a person used go, from the documents and from
    the items of `item_lists` (a list field, and the field that names its items). A retry of their
    request after that is refused as a conflict rather than answered."""
    await collection.update_many({f"{CREATION_FIELD}.caller": caller}, {"$unset": {CREATION_FIELD: ""}})
    for field, named_by in (item_lists or {}).items():
        async for document in collection.find({f"{field}.{CREATION_FIELD}.caller": caller}, {field: 1}):
            for item in document[field]:
                if (item.get(CREATION_FIELD) or {}).get("caller") == caller:
                    await collection.update_one(
                        {"_id": document["_id"]},
                        {"$unset": {f"{field}.$[item].{CREATION_FIELD}": ""}},
                        array_filters=[{f"item.{named_by}": item[named_by]}],
                    )
