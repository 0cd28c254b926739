"""A member's personal data across membership's collections: the export (GDPR access and
portability) and the erasure, which the member's tombstone on the people topic carries to every
other service. Nothing of the member stays, not even their record: `member erased` names them by
a reference that then points at nobody (decision 0015)."""

from __future__ import annotations

from pymongo.asynchronous.collection import AsyncCollection

from deh_contracts.people import REFERENCE_HEADER
from deh_contracts.registry import PEOPLE
from deh_membership.adapters.conversations import ConversationStore
from deh_membership.adapters.documents import Document, one
from deh_membership.adapters.members import MemberStore
from deh_membership.domain import members as rules
from deh_platform.creation import forget_caller
from deh_platform.errors import Conflict
from deh_platform.outbox import Tombstone
from deh_platform.people import stand_in
from deh_platform.records import CREATION_FIELD, HIDDEN_FIELDS, now
from deh_platform.runtime import ServiceRuntime


class PersonalData:
    def __init__(self, runtime: ServiceRuntime, members: MemberStore, conversations: ConversationStore) -> None:
        self.runtime = runtime
        self.members = members
        self.conversations = conversations
        self.squads: AsyncCollection[Document] = runtime.db.squads
        self.activity: AsyncCollection[Document] = runtime.db.activity

    async def erase(self, member_id: str, *, delete_posts: bool = False) -> None:
        """Remove every piece of personal data; idempotent, so a retry finishes a half-done erasure.
        The choice of deleting their posts is kept with the erased record until it is done."""
        member = await self.members.member(member_id)
        at = now()
        if member.status != "erased":
            erased_fields: Document = {
                "status": "erased",
                "profile": None,
                "consent": None,
                "consent_history": [],
                "decisions": [],
                "email_key": f"erased:{member_id}",
                "name_key": "",
                "organisation_type": None,
                "erased_at": at,
                "delete_posts": delete_posts,
            }
            erased = await self.runtime.change(
                self.members.members,
                member_id,
                member.revision,
                # The Idempotency-Key record holds a fingerprint of the application (name, email).
                {"$set": erased_fields, "$unset": {CREATION_FIELD: ""}},
                # The tombstone removes the member's records from the people topic (decision 0014).
                [rules.erased(member, at), Tombstone(PEOPLE, member_id, {REFERENCE_HEADER: member.reference})],
            )
            # The member changed meanwhile: done if that change was another erasure, else say so.
            if not erased and (await self.members.member(member_id)).status != "erased":
                raise Conflict("the member changed meanwhile; ask for the erasure again")
        await self._finish(member_id)

    async def finish_erasures(self) -> None:
        """A job: finish what a crash left of an erasure (the member is marked erased, the rest
        is not done yet)."""
        async for member in self.members.members.find({"status": "erased"}, {"_id": 1}):
            await self._finish(member["_id"])

    async def _finish(self, member_id: str) -> None:
        await self._forget_in_squads(member_id)
        record = await self.members.members.find_one({"_id": member_id}, {"delete_posts": 1}) or {}
        if record.get("delete_posts"):
            await self.conversations.delete_all_of(member_id)
        await self._forget_in_conversations(member_id)
        await self._forget_where_they_acted(member_id)
        await self.activity.delete_many({"member_id": member_id})
        # Last, the record itself (account id, reference): once `member erased` and the tombstone
        # have left, nothing here links the member's reference to them any more.
        await self.runtime.remove_once_published(self.members.members, member_id)

    async def _forget_in_squads(self, member_id: str) -> None:
        """An application stays, for the squad's counts and spread, under an opaque id and
        without its free text; outputs name the opaque id as their author. The member id, which
        finds the application, changes last (a retry after a crash in between finds it again)."""
        former = stand_in()
        mine = "applications.$[mine]"
        blank = {f"{mine}.{field}": None for field in ("motivation", "examples_of_expertise", "availability")}
        for change in ({**blank, f"{mine}.application_id": former}, {f"{mine}.member_id": former}):
            await self.squads.update_many(
                {"applications.member_id": member_id}, {"$set": change}, array_filters=[{"mine.member_id": member_id}]
            )
        await self.squads.update_many(
            {"outputs.author_ids": member_id},
            {"$set": {"outputs.$[].author_ids.$[mine]": former}},
            array_filters=[{"mine": member_id}],
        )

    async def _forget_in_conversations(self, member_id: str) -> None:
        """Their posts stay in their threads, written by a former member: no author, no record
        of the Idempotency-Keys they wrote them under."""
        db = self.runtime.db
        await db.posts.update_many({"author_id": member_id}, {"$set": {"author_id": None}})
        # Their reports stay for the moderators' counts, by nobody; their decisions as a
        # moderator by an opaque id, as their other decisions.
        await db.posts.update_many(
            {"reports.reported_by": member_id},
            {"$set": {"reports.$[mine].reported_by": None}},
            array_filters=[{"mine.reported_by": member_id}],
        )
        for collection in (db.posts, db.threads):
            await collection.update_many(
                {"moderation.by": member_id},
                {"$set": {"moderation.$[mine].by": stand_in()}},
                array_filters=[{"mine.by": member_id}],
            )
        await db.threads.update_many({"started_by": member_id}, {"$set": {"started_by": None}})
        await db.threads.update_many({"followers": member_id}, {"$pull": {"followers": member_id}})
        await db.posts.update_many(
            {"reactions.member_id": member_id},
            {"$set": {"reactions.$[mine].member_id": None}},
            array_filters=[{"mine.member_id": member_id}],
        )
        for collection in (db.threads, db.posts, db.consultations):
            await forget_caller(collection, member_id, {})
        # Their answers to consultations stay in the counts, by an opaque id and no longer named.
        async for answer in db.answers.find({"member_id": member_id}, {"_id": 1}):
            await db.answers.update_one({"_id": answer["_id"]}, {"$set": {"member_id": stand_in(), "named": False}})
        await db.consultations.update_many({"opened_by": member_id}, {"$set": {"opened_by": stand_in()}})

    async def _forget_where_they_acted(self, member_id: str) -> None:
        """Where the person acted for others (as a moderator, a NAS coordinator, a creator), an
        opaque id takes their place; the records of the Idempotency-Keys they used go."""
        former = stand_in()
        db = self.runtime.db
        await db.members.update_many(
            {"decisions.by": member_id},
            {"$set": {"decisions.$[mine].by": former}},
            array_filters=[{"mine.by": member_id}],
        )
        await db.nas.update_many(
            {"coordinator_ids": member_id},
            {"$set": {"coordinator_ids.$[mine]": former}},
            array_filters=[{"mine": member_id}],
        )
        await self.squads.update_many({"created_by": member_id}, {"$set": {"created_by": former}})
        for collection, items in ((db.squads, {"outputs": "output_id"}), (db.nas, {}), (db.organisations, {})):
            await forget_caller(collection, member_id, items)

    async def export(self, member_id: str) -> Document:
        document = await one(self.members.members, member_id, "member")
        squads = [
            {"squad_id": squad["_id"], "title": squad["title"], "application": application}
            async for squad in self.squads.find({"applications.member_id": member_id})
            for application in squad["applications"]
            if application["member_id"] == member_id
        ]
        outputs = [
            {"squad_id": squad["_id"], **{key: value for key, value in output.items() if key != CREATION_FIELD}}
            async for squad in self.squads.find({"outputs.author_ids": member_id})
            for output in squad.get("outputs", [])
            if member_id in output["author_ids"]
        ]
        db = self.runtime.db
        # Their own posts, without who reported them or how moderators decided (others' data).
        posts = [
            post
            async for post in db.posts.find(
                {"author_id": member_id}, {**HIDDEN_FIELDS, "reports": 0, "moderation": 0, "reactions": 0}
            )
        ]
        reports_made = [
            {"thread_id": post["thread_id"], "post_id": post["_id"], **report}
            async for post in db.posts.find({"reports.reported_by": member_id}, {"thread_id": 1, "reports": 1})
            for report in post["reports"]
            if report["reported_by"] == member_id
        ]
        threads = [
            thread async for thread in db.threads.find({"started_by": member_id}, {**HIDDEN_FIELDS, "followers": 0})
        ]
        answers = [answer async for answer in db.answers.find({"member_id": member_id}, HIDDEN_FIELDS)]
        return {
            "member": {key: value for key, value in document.items() if key not in ("name_key", "email_key")},
            "squads": squads,
            "squad_outputs": outputs,
            "threads": threads,
            "posts": posts,
            "reports_made": reports_made,
            "consultation_answers": answers,
            "activity": await self.members.activity_of(member_id),
            "exported_at": now(),
        }
