"""The practices service's MongoDB store, the source of truth. Every change is one conditional
update on the practice (guarded by its revision) carrying its contract events in the outbox and
marking the practice for the search index in the same write."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from deh_contracts.catalogue.membership import MemberPerson
from deh_contracts.catalogue.practices import (
    PracticeArchived,
    PracticeMetadata,
    PracticePublished,
    PracticeReviewRecorded,
    PracticeSubmitted,
    PracticeUpdated,
)
from deh_contracts.registry import Contract
from deh_contracts.vocabulary import LICENCE_REF_PATTERN, SPDX_LICENCES
from deh_platform.creation import Creation, forget_caller
from deh_platform.errors import Conflict, NotFound
from deh_platform.identity import Principal
from deh_platform.outbox import Outgoing
from deh_platform.people import MemberCopies, stand_in
from deh_platform.records import HIDDEN_FIELDS, REVISION_FIELD, new_id, now
from deh_platform.runtime import ServiceRuntime
from deh_platform.search_index import PENDING, mark, marked
from deh_practices.domain import oai, policies
from deh_practices.domain import practices as rules
from deh_practices.domain.practices import Edit, Review, Status

log = logging.getLogger(__name__)
Document = dict[str, Any]
OUTBOX_COLLECTIONS = ("practices",)
# What OAI-PMH harvests: published practices, and archived ones as deleted records.
HARVESTED: Document = {"$or": [{"status": {"$in": ["published", "archived"]}}, {"public": {"$ne": None}}]}


class PracticeStore:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.practices: AsyncCollection[Document] = runtime.db.practices
        # Membership's people topic: who may act here, and the names authors show.
        self.people = MemberCopies(runtime.db)
        # Told the ids of practices marked for the search index (SearchIndex.notify).
        self.on_marked: Callable[[Sequence[str]], None] = lambda ids: None

    async def create_indexes(self) -> None:
        await self.practices.create_index([("status", ASCENDING), ("last_reviewed_at", ASCENDING)])
        await self.practices.create_index("author_ids")
        await self.people.create_indexes()

    async def licences_as_spdx(self) -> int:
        """Practices stored before licences were SPDX ids (free text then) get NOASSERTION, so that
        they can be read and shown again; their authors choose the licence when they next edit."""
        valid = {"$in": SPDX_LICENCES}
        free_text = {
            "metadata.licence": {"$not": valid},
            "$nor": [{"metadata.licence": {"$regex": LICENCE_REF_PATTERN}}],
        }
        changed = await self._touch_all(free_text, {"metadata.licence": "NOASSERTION"})
        if changed:
            log.warning("%d practices had a licence that is no SPDX id: now NOASSERTION", changed)
        return changed

    async def vocabularies_kept(self) -> int:
        """Practices stored when target groups and accessibility features were free text keep the
        values that name a term of their vocabularies (`teachers`: `teacher`) and lose the others,
        so that they can be read and shown again: the metadata, the public version's and every
        version's. Each is written only as it was read (its revision), so that an edit made
        meanwhile is not undone; a practice changed meanwhile is done at the next start."""
        places = ("metadata", "public.metadata", "versions.metadata")
        outside = [
            {f"{where}.{field}": {"$elemMatch": {"$nin": terms}}}
            for field, (terms, _) in rules.VOCABULARY_FIELDS.items()
            for where in places
        ]
        changed = 0
        projection = {"metadata": 1, "public": 1, "versions": 1, REVISION_FIELD: 1}
        async for document in self.practices.find({"$or": outside}, projection):
            kept = _in_vocabularies("metadata", document["metadata"])
            if document.get("public"):
                kept |= _in_vocabularies("public.metadata", document["public"]["metadata"])
            for index, version in enumerate(document.get("versions", [])):
                kept |= _in_vocabularies(f"versions.{index}.metadata", version["metadata"])
            as_read = {"_id": document["_id"], REVISION_FIELD: document.get(REVISION_FIELD)}
            changed += await self._touch_all(as_read, kept)
        if changed:
            log.warning("%d practices had target groups or accessibility features outside their vocabularies", changed)
        return changed

    async def authors_as_known(self, member_ids: list[str]) -> list[Document]:
        """The authors as a practice stores them: a list (a member id is never a field name), each
        with the name shown (None when hidden or unknown) and the reference, from the copies."""
        found = self.people.collection.find({"_id": {"$in": member_ids}}, {"display_name": 1, "reference": 1})
        known = {document["_id"]: document async for document in found}
        return [
            {
                "member_id": member_id,
                "name": known.get(member_id, {}).get("display_name"),
                "reference": known.get(member_id, {}).get("reference"),
            }
            for member_id in member_ids
        ]

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
        extra_events: Sequence[Contract | Outgoing] = (),
        request_id: str | None = None,
        request_digest: str | None = None,
        creation: Creation | None = None,
    ) -> Document:
        """A new practice; with the `creation` of an HTTP request, a retry of it returns the
        practice the first one created."""
        at = now()
        practice_id = practice_id or new_id()
        authors = await self.authors_as_known(author_ids)
        document: Document = {
            "_id": practice_id,
            "status": status,
            "version": 1,
            "metadata": metadata.model_dump(),
            "body": body,
            "authors": authors,
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
            "request_digest": request_digest,
            "revision": 1,
            PENDING: True,
        }
        events: list[Contract | Outgoing] = [*extra_events]
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
        """What the caller may see of the practice (policies.view_for); 'not found' to those who
        may see nothing of it."""
        shown = policies.view_for(await self.get(practice_id), caller)
        if shown is None:
            raise NotFound(f"no practice {practice_id}")
        return dict(shown)

    async def change(
        self,
        document: Document,
        set_fields: Document,
        events: Sequence[Contract | Outgoing],
        push: Document | None = None,
    ) -> Document:
        """Apply a change guarded by the revision read; the index is told in the same write."""
        update = _marked(set_fields)
        if push:
            update["$push"] = push
        changed = await self.runtime.change(self.practices, document["_id"], document["revision"], update, events)
        self.on_marked([document["_id"]])
        if not changed:
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
        return await self.new_version(document, edit, caller.member_id)

    async def new_version(
        self,
        document: Document,
        edit: Edit,
        by: str,
        *,
        status: Status | None = None,
        request_id: str | None = None,
        request_digest: str | None = None,
        extra_events: Sequence[Contract | Outgoing] = (),
    ) -> Document:
        """The edit as the practice's next version (by an author, or a partner's revision with
        its message's id and fingerprint, so that a replay is known as one). With `status`
        submitted (a partner's revision, which has no submit step) it is also submitted."""
        rules.require("edit", document["status"])
        at = now()
        version = len(document["versions"]) + 1  # after a rejected version too, which stays in the history
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
            updated_by=by,
            updated_at=at,
        )
        entry = {
            "version": version,
            "metadata": edit.metadata.model_dump(),
            "body": edit.body,
            "by": by,
            "at": at,
            **({"request_id": request_id, "request_digest": request_digest} if request_id else {}),
        }
        submitted = [_submitted({**document, "version": version, "metadata": entry["metadata"]}, at)]
        return await self.change(
            document,
            {
                "status": status or rules.status_after_edit(document["status"]),
                "version": version,
                "metadata": entry["metadata"],
                "body": edit.body,
                "public": rules.kept_public(document),
            },
            [event, *(submitted if status == "submitted" else []), *extra_events],
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
        kept = document.get("public")
        status = rules.status_after_review(document["status"], review.decision, public_kept=kept is not None)
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
        if status in ("published", "archived"):
            changes["public"] = None  # replaced by the new version, or gone
        entry = {
            "review_id": review_id,
            "reviewer_id": caller.member_id,
            "version": document["version"],
            **review.model_dump(),
            "at": at,
        }
        push: Document = {"reviews": entry}
        if review.decision == "reject" and kept is not None:  # the published version stays as it was
            changes.update(kept)
        elif status == "published" and document["status"] != "published":
            changes["published_at"] = at
            push["published_versions"] = document["version"]
            events.append(_published(document, at))
        if status == "archived":
            events.append(
                PracticeArchived(
                    practice_id=document["_id"], reason=review.comments, archived_by=caller.member_id, archived_at=at
                )
            )
        return await self.change(document, changes, events, push=push)

    async def archive(self, practice_id: str, reason: str, caller: Principal) -> Document:
        document = await self.get(practice_id)
        policies.require_author_or_staff(document, caller)
        rules.require_archivable(document)
        at = now()
        event = PracticeArchived(
            practice_id=document["_id"], reason=reason, archived_by=caller.member_id, archived_at=at
        )
        return await self.change(document, {"status": "archived", "public": None}, [event])

    async def harvest(self, selection: oai.Selection, size: int) -> tuple[list[Document], int]:
        """One page of the harvested practices in the order of their last change (then id), and
        how many the whole list has. A set is looked for in the current and the kept version;
        the caller checks the public view (oai.sets_of)."""
        query: Document = {**HARVESTED}
        conditions: list[Document] = []
        if selection.since or selection.until:
            moments = {"$gte": selection.since, "$lte": selection.until}
            conditions.append({"updated_at": {key: value for key, value in moments.items() if value is not None}})
        if selection.set_spec:
            kind, _, value = selection.set_spec.partition(":")
            field = {"sector": "sectors", "country": "countries"}[kind]
            conditions.append({"$or": [{f"metadata.{field}": value}, {f"public.metadata.{field}": value}]})
        if conditions:
            query = {"$and": [query, *conditions]}
        total = await self.practices.count_documents(query)
        if selection.after:
            moment, last_id = datetime.fromisoformat(selection.after[0]), selection.after[1]
            after = {"$or": [{"updated_at": {"$gt": moment}}, {"updated_at": moment, "_id": {"$gt": last_id}}]}
            query = {"$and": [query, after]}
        found = self.practices.find(query, HIDDEN_FIELDS).sort([("updated_at", ASCENDING), ("_id", ASCENDING)])
        return [document async for document in found.limit(size)], total

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
        return await self.people.status(member_id)

    async def remember_person(self, person: MemberPerson, sequence: int) -> None:
        """Keep the member's latest record from the people topic, then show their name on their
        practices (from the copy, not the record: a retry after a failure here still shows the
        newest name)."""
        await self.people.remember(person, sequence)
        copy = await self.people.member(person.member_id)
        if copy is not None:
            await self._touch_all(*_renamed(person.member_id, copy.display_name))

    async def anonymise(self, member_id: str, tombstone_headers: dict[str, str]) -> None:
        """After the member's tombstone on the people topic: the practices stay, without the
        person's id or name. Where the person acted (created, edited, reviewed), an opaque id
        takes their place. The copy goes last (only the reference is kept, as a former member's,
        so that a practice that arrives later naming it, a squad output or a hackathon
        submission, leaves them out too)."""
        await self.people.mark_erased(member_id)
        async for document in self.practices.find({"authors.member_id": member_id}, {"_id": 1}):
            await self._drop_author(document["_id"], member_id)
        former = stand_in()
        await forget_caller(self.practices, member_id)
        await self._touch_all({"reviewer_id": member_id}, {"reviewer_id": None})
        await self._touch_all({"created_by": member_id}, {"created_by": former})
        for where in ("versions", "reviews"):
            field = "by" if where == "versions" else "reviewer_id"
            await self._touch_all(
                {f"{where}.{field}": member_id},
                {f"{where}.$[mine].{field}": former},
                array_filters=[{f"mine.{field}": member_id}],
            )
        await self.people.forget(member_id, tombstone_headers)

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

    async def reconcile_authors(self, practice_id: str, authors: list[Document] | None = None) -> bool:
        """A new practice copied its authors' names before it was stored; a name or an erasure
        that arrived in between has updated only the practices that existed then. Look again,
        now that this one exists: whatever arrives later finds it. Each change is conditional on
        what it replaces, so that it never undoes a newer one. `authors`: as the practice was
        stored with them (read from it when not given). True when something changed."""
        if authors is None:
            practice = await self.practices.find_one({"_id": practice_id}, {"authors": 1})
            authors = practice.get("authors", []) if practice else []
        ids = [author["member_id"] for author in authors]
        found = self.people.collection.find({"_id": {"$in": ids}}, {"display_name": 1, "status": 1})
        known = {document["_id"]: document async for document in found}
        changed = False
        for author in authors:
            member_id, copy = author["member_id"], known.get(author["member_id"])
            # Not a member (a guest), or erased meanwhile: its copy being erased, or gone already.
            gone = copy is None and bool(author.get("reference")) and await self.people.was_erased(author["reference"])
            if gone or (copy is not None and copy.get("status") == "erased"):
                changed = await self._drop_author(practice_id, member_id) or changed
            elif copy is not None and copy.get("display_name") != author.get("name"):
                query, fields, filters = _renamed(member_id, copy.get("display_name"))
                result = await self.practices.update_one(
                    {"_id": practice_id, **query}, touched(fields), array_filters=filters
                )
                if result.modified_count:
                    self.on_marked([practice_id])
                    changed = True
        return changed


def names_of(practice: Document) -> dict[str, str | None]:
    """The practice's authors and the names they show (None when hidden)."""
    return {author["member_id"]: author["name"] for author in practice.get("authors", [])}


def _renamed(member_id: str, name: str | None) -> tuple[Document, Document, list[Document]]:
    """The query, fields and array filter that show `name` for an author where it differs."""
    query = {"authors": {"$elemMatch": {"member_id": member_id, "name": {"$ne": name}}}}
    return query, {"authors.$[author].name": name}, [{"author.member_id": member_id}]


def _marked(set_fields: Document | None = None) -> Document:
    """A change's fields with a new time and a mark for the search index (`change` advances
    the revision)."""
    return {"$set": mark(set_fields)}


def touched(set_fields: Document | None = None) -> Document:
    """The update of a change made outside `change` (other services' events, sweeps)."""
    return marked({"$set": set_fields or {}})


def _in_vocabularies(where: str, metadata: Document) -> Document:
    """The update that keeps, in the metadata at `where`, the terms its vocabulary fields name."""
    return {f"{where}.{field}": rules.as_terms(field, metadata.get(field, [])) for field in rules.VOCABULARY_FIELDS}


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
