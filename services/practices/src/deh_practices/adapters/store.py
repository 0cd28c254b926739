"""The practices service's MongoDB store, the source of truth. Every change is one conditional
update on the practice (guarded by its revision) carrying its contract events in the outbox and
marking the practice for the search index in the same write."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from deh_contracts.catalogue.practices import (
    PracticeArchived,
    PracticeMetadata,
    PracticePublished,
    PracticeReviewRecorded,
    PracticeSubmitted,
    PracticeUpdated,
)
from deh_contracts.registry import Contract
from deh_platform.creation import Creation
from deh_platform.errors import Conflict, NotFound
from deh_platform.identity import Principal
from deh_platform.records import CREATION_FIELD, HIDDEN_FIELDS, new_id, now
from deh_platform.runtime import ServiceRuntime
from deh_practices.domain import policies
from deh_practices.domain import practices as rules
from deh_practices.domain.practices import Edit, Review, Status

Document = dict[str, Any]
OUTBOX_COLLECTIONS = ("practices",)
PENDING = "search_pending"


class PracticeStore:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.practices: AsyncCollection[Document] = runtime.db.practices
        self.authors: AsyncCollection[Document] = runtime.db.authors
        # Told the ids of practices marked for the search index (SearchIndex.notify).
        self.on_marked: Callable[[Sequence[str]], None] = lambda ids: None

    async def create_indexes(self) -> None:
        await self.practices.create_index([("status", ASCENDING), ("last_reviewed_at", ASCENDING)])
        await self.practices.create_index("author_ids")

    async def author_names(self, member_ids: list[str]) -> dict[str, str | None]:
        """The local copies of members' visible names (None when hidden, unknown or erased)."""
        known = {document["_id"]: document async for document in self.authors.find({"_id": {"$in": member_ids}})}
        return {member_id: known.get(member_id, {}).get("display_name") for member_id in member_ids}

    async def create(
        self,
        *,
        practice_id: str | None,
        metadata: PracticeMetadata,
        body: str,
        author_ids: list[str],
        author_names: list[str],
        status: Status,
        created_by: str,
        extra_events: Sequence[Contract] = (),
        request_id: str | None = None,
        creation: Creation | None = None,
    ) -> Document:
        """A new practice; with the `creation` of an HTTP request, a retry of it returns the
        practice the first one created."""
        at = now()
        practice_id = practice_id or new_id()
        authors = await self.author_names(author_ids)
        document: Document = {
            "_id": practice_id,
            "status": status,
            "version": 1,
            "metadata": metadata.model_dump(),
            "body": body,
            "authors": listed(authors),
            "author_ids": author_ids,
            "author_names": author_names,
            "reviewer_id": None,
            "reviews": [],
            "versions": [{"version": 1, "metadata": metadata.model_dump(), "body": body, "by": created_by, "at": at}],
            "created_by": created_by,
            "created_at": at,
            "updated_at": at,
            "submitted_at": at if status == "submitted" else None,
            "published_at": None,
            "last_reviewed_at": None,
            "stale": False,
            "broken_links": [],
            "request_id": request_id,
            "revision": 1,
            PENDING: True,
        }
        events: list[Contract] = [*extra_events]
        if status == "submitted":
            events.insert(0, _submitted(document, at))
        try:
            if not await self.runtime.insert(self.practices, document, events, creation):
                return await self.get(practice_id)
        except DuplicateKeyError:
            raise Conflict(f"practice {practice_id} exists already") from None
        self.on_marked([practice_id])
        if await self.reconcile_authors(practice_id, authors):
            return await self.get(practice_id)
        return document

    async def get(self, practice_id: str) -> Document:
        document = await self.practices.find_one({"_id": practice_id}, HIDDEN_FIELDS)
        if document is None:
            raise NotFound(f"no practice {practice_id}")
        return document

    async def visible(self, practice_id: str, caller: Principal | None) -> Document:
        """The practice if the caller may see it; drafts are 'not found' to everyone else."""
        document = await self.get(practice_id)
        if policies.may_see(document, caller):
            return document
        raise NotFound(f"no practice {practice_id}")

    async def change(
        self, document: Document, set_fields: Document, events: list[Contract], push: Document | None = None
    ) -> Document:
        """Apply a change guarded by the revision read; the index is told in the same write."""
        update = touched(set_fields)
        if push:
            update["$push"] = push
        result = await self.runtime.write(
            self.practices, {"_id": document["_id"], "revision": document["revision"]}, update, events
        )
        self.on_marked([document["_id"]])
        if result.modified_count != 1:
            raise Conflict("the practice changed meanwhile; read it again and retry")
        return await self.get(document["_id"])

    async def submit(self, practice_id: str, caller: Principal) -> Document:
        document = await self.get(practice_id)
        policies.require_author(document, caller)
        rules.require("submit", document["status"])
        at = now()
        return await self.change(document, {"status": "submitted", "submitted_at": at}, [_submitted(document, at)])

    async def edit(self, practice_id: str, edit: Edit, caller: Principal) -> Document:
        document = await self.get(practice_id)
        policies.require_author(document, caller)
        rules.require("edit", document["status"])
        at = now()
        version = document["version"] + 1
        changed = [
            name for name, value in edit.metadata.model_dump().items() if document["metadata"].get(name) != value
        ]
        if edit.body != document["body"]:
            changed.append("body")
        event = PracticeUpdated(
            practice_id=document["_id"],
            version=version,
            changed_fields=changed,
            metadata=edit.metadata,
            updated_by=caller.member_id,
            updated_at=at,
        )
        entry = {
            "version": version,
            "metadata": edit.metadata.model_dump(),
            "body": edit.body,
            "by": caller.member_id,
            "at": at,
        }
        return await self.change(
            document,
            {
                "status": rules.status_after_edit(document["status"]),
                "version": version,
                "metadata": entry["metadata"],
                "body": edit.body,
            },
            [event],
            push={"versions": entry},
        )

    async def assign(self, practice_id: str, reviewer_id: str) -> Document:
        document = await self.get(practice_id)
        rules.require("assign", document["status"])
        policies.require_not_an_author(document, reviewer_id)
        status = "published" if document["status"] == "published" else "in_review"
        return await self.change(document, {"status": status, "reviewer_id": reviewer_id}, [])

    async def review(self, practice_id: str, review: Review, caller: Principal) -> Document:
        document = await self.get(practice_id)
        rules.require("review", document["status"])
        policies.require_assigned_reviewer(document, caller)
        at = now()
        status = rules.status_after_review(document["status"], review.decision)
        review_id = new_id()
        events: list[Contract] = [
            PracticeReviewRecorded(
                practice_id=document["_id"],
                version=document["version"],
                review_id=review_id,
                reviewer_id=caller.member_id,
                scores=review.scores,
                decision=review.decision,
                comments=review.comments,
                reviewed_at=at,
            )
        ]
        changes: Document = {"status": status, "last_reviewed_at": at, "stale": False}
        if status == "published" and document["status"] != "published":
            changes["published_at"] = at
            events.append(_published(document, at))
        if status == "archived":
            events.append(
                PracticeArchived(
                    practice_id=document["_id"], reason=review.comments, archived_by=caller.member_id, archived_at=at
                )
            )
        entry = {
            "review_id": review_id,
            "reviewer_id": caller.member_id,
            "version": document["version"],
            **review.model_dump(),
            "at": at,
        }
        return await self.change(document, changes, events, push={"reviews": entry})

    async def archive(self, practice_id: str, reason: str, caller: Principal) -> Document:
        document = await self.get(practice_id)
        policies.require_author_or_staff(document, caller)
        rules.require("archive", document["status"])
        at = now()
        event = PracticeArchived(
            practice_id=document["_id"], reason=reason, archived_by=caller.member_id, archived_at=at
        )
        return await self.change(document, {"status": "archived"}, [event])

    async def review_queue(self) -> list[Document]:
        query = {"$or": [{"status": {"$in": ["submitted", "in_review"]}}, {"status": "published", "stale": True}]}
        return [
            document
            async for document in self.practices.find(query, {**HIDDEN_FIELDS, "body": 0, "versions": 0}).sort(
                "updated_at", ASCENDING
            )
        ]

    async def flag_stale(self) -> int:
        """Mark published practices whose last review is too old; they join the review queue."""
        cutoff = now() - rules.STALE_AFTER
        return await self._touch_all(
            {
                "status": "published",
                "stale": False,
                "$or": [{"last_reviewed_at": {"$lt": cutoff}}, {"last_reviewed_at": None}],
            },
            {"stale": True},
        )

    # What other services tell us ---------------------------------------------------------------

    async def member_status(self, member_id: str) -> str | None:
        """The member's status as membership last told (None for someone it never named)."""
        copy = await self.authors.find_one({"_id": member_id}, {"status": 1, "erased": 1})
        if copy is None:
            return None
        return "erased" if copy.get("erased") else copy.get("status")

    async def remember_person(
        self, member_id: str, status: str | None, display_name: str | None, sequence: int
    ) -> None:
        """Keep the member's latest record from the people topic (status, and the name they show),
        then show the name on their practices."""
        fields = {"display_name": display_name, **({"status": status} if status else {})}
        older = {"$lt": sequence} if sequence > 0 else {"$lte": 0}
        # The record's number orders a member's records, so that a re-driven older one never
        # overwrites a newer copy, nor revives an erased member. A record without a number
        # (published before they had one) counts as 0: it never replaces a numbered one.
        newer = {"$or": [{"sequence": older}, {"sequence": None}], "erased": {"$ne": True}}
        with contextlib.suppress(DuplicateKeyError):  # we hold a newer copy, or the member was erased
            await self.authors.update_one(
                {"_id": member_id, **newer}, {"$set": {**fields, "sequence": sequence}}, upsert=True
            )
        # From the copy, not the record: a retry after a failure here still shows the newest name.
        copy = await self.authors.find_one({"_id": member_id})
        if copy is None or copy.get("erased"):
            return
        await self._touch_all(*_renamed(member_id, copy.get("display_name")))

    async def anonymise(self, member_id: str) -> None:
        """After the member's tombstone on the people topic: the practices stay, without the person's id or name. A bare
        tombstone (the id, nothing else) keeps a later copy of the name from coming back, and a
        practice that arrives later (a squad output, a hackathon submission) drops them too.
        Where the person acted (created, edited, reviewed), an opaque id takes their place."""
        await self.authors.replace_one({"_id": member_id}, {"_id": member_id, "erased": True}, upsert=True)
        async for document in self.practices.find({"authors.member_id": member_id}, {"_id": 1}):
            await self._drop_author(document["_id"], member_id)
        former = f"erased-{new_id()}"
        await self.practices.update_many({f"{CREATION_FIELD}.caller": member_id}, {"$unset": {CREATION_FIELD: ""}})
        await self._touch_all({"reviewer_id": member_id}, {"reviewer_id": None})
        await self._touch_all({"created_by": member_id}, {"created_by": former})
        for where in ("versions", "reviews"):
            field = "by" if where == "versions" else "reviewer_id"
            await self._touch_all(
                {f"{where}.{field}": member_id},
                {f"{where}.$[mine].{field}": former},
                array_filters=[{f"mine.{field}": member_id}],
            )

    async def _touch_all(
        self, query: Document, set_fields: Document, array_filters: list[Document] | None = None
    ) -> int:
        """Change every practice the query finds, outside `change` (a sweep, another service's
        event); the search index is told which."""
        ids = [document["_id"] async for document in self.practices.find(query, {"_id": 1})]
        if not ids:
            return 0
        result = await self.practices.update_many(
            {"_id": {"$in": ids}, **query}, touched(set_fields), array_filters=array_filters
        )
        self.on_marked(ids)
        return result.modified_count

    async def _drop_author(self, practice_id: str, member_id: str) -> bool:
        result = await self.practices.update_one(
            {"_id": practice_id, "authors.member_id": member_id},
            {
                **touched(),
                "$pull": {"authors": {"member_id": member_id}, "author_ids": member_id},
                "$push": {"author_names": "(erased member)"},
            },
        )
        if result.modified_count:
            self.on_marked([practice_id])
        return result.modified_count == 1

    async def reconcile_authors(self, practice_id: str, authors: dict[str, str | None] | None = None) -> bool:
        """A new practice copied its authors' names before it was stored; a name or an erasure
        that arrived in between has updated only the practices that existed then. Look again,
        now that this one exists: whatever arrives later finds it. Each change is conditional on
        what it replaces, so that it never undoes a newer one. `authors`: the names the practice
        was stored with (read from it when not given). True when something changed."""
        if authors is None:
            practice = await self.practices.find_one({"_id": practice_id}, {"authors": 1})
            authors = names_of(practice) if practice else {}
        changed = False
        async for known in self.authors.find({"_id": {"$in": list(authors)}}):
            member_id, name = known["_id"], known.get("display_name")
            if known.get("erased"):
                changed = await self._drop_author(practice_id, member_id) or changed
            elif name != authors[member_id]:
                query, fields, filters = _renamed(member_id, name)
                result = await self.practices.update_one(
                    {"_id": practice_id, **query}, touched(fields), array_filters=filters
                )
                if result.modified_count:
                    self.on_marked([practice_id])
                    changed = True
        return changed


def listed(names: dict[str, str | None]) -> list[Document]:
    """Authors as stored: a list (a member id is never a field name), each with the name shown."""
    return [{"member_id": member_id, "name": name} for member_id, name in names.items()]


def names_of(practice: Document) -> dict[str, str | None]:
    """The practice's authors and the names they show (None when hidden)."""
    return {author["member_id"]: author["name"] for author in practice.get("authors", [])}


def _renamed(member_id: str, name: str | None) -> tuple[Document, Document, list[Document]]:
    """The query, fields and array filter that show `name` for an author where it differs."""
    query = {"authors": {"$elemMatch": {"member_id": member_id, "name": {"$ne": name}}}}
    return query, {"authors.$[author].name": name}, [{"author.member_id": member_id}]


def touched(set_fields: Document | None = None) -> Document:
    """The update fields of a change made outside `change` (other services' events, sweeps):
    a new revision, a new time, and a mark for the search index."""
    return {"$set": {**(set_fields or {}), PENDING: True, "updated_at": now()}, "$inc": {"revision": 1}}


def _submitted(document: Document, at: datetime) -> PracticeSubmitted:
    return PracticeSubmitted(
        practice_id=document["_id"],
        version=document["version"],
        metadata=PracticeMetadata(**document["metadata"]),
        author_ids=list(document["author_ids"]),
        submitted_at=at,
    )


def _published(document: Document, at: datetime) -> PracticePublished:
    return PracticePublished(
        practice_id=document["_id"],
        version=document["version"],
        metadata=PracticeMetadata(**document["metadata"]),
        author_ids=list(document["author_ids"]),
        published_at=at,
    )
