"""Threads and posts of the Community of Practice. A thread and each of its posts are documents
of their own (a thread grows without bound); a post keeps its earlier texts as its history, and
a deleted post keeps its place with neither. Who may read or write is the domain's rule; this
store reads what the rule needs (a squad's selected members).

A post carries its thread's title and space (neither ever changes) for the search index, and
every change of what the index holds (text, hidden, deleted) marks it in the same write and
tells the indexer (`on_marked`, `deh_platform.search_index`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from deh_contracts.catalogue.community import (
    PostDeleted,
    PostEdited,
    PostHidden,
    PostReported,
    PostRestored,
    PostWritten,
    ThreadLocked,
    ThreadStarted,
    ThreadUnlocked,
)
from deh_membership.adapters.documents import Document, one, page_of, written
from deh_membership.domain import conversations as rules
from deh_membership.domain.conversations import (
    Page,
    PostForm,
    PostPage,
    PostView,
    Reason,
    ReplyForm,
    Report,
    ReportedPost,
    Space,
    ThreadForm,
    ThreadPage,
    ThreadView,
)
from deh_platform.creation import Creation
from deh_platform.errors import Conflict, NotFound
from deh_platform.idempotency import derived_id
from deh_platform.identity import Principal
from deh_platform.records import HIDDEN_FIELDS, now
from deh_platform.runtime import ServiceRuntime
from deh_platform.search_index import PENDING, marked

# The moderators' queue shows the most reported posts first, this many at most.
MAX_QUEUED = 200


class ConversationStore:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.threads: AsyncCollection[Document] = runtime.db.threads
        self.posts: AsyncCollection[Document] = runtime.db.posts
        self.squads: AsyncCollection[Document] = runtime.db.squads
        # Told the ids of posts marked for the search index (SearchIndex.notify).
        self.on_marked: Callable[[Sequence[str]], None] = lambda ids: None

    async def create_indexes(self) -> None:
        await self.threads.create_index(
            [("space.kind", ASCENDING), ("space.squad_id", ASCENDING), ("last_post_at", DESCENDING)]
        )
        await self.posts.create_index([("thread_id", ASCENDING), ("written_at", ASCENDING)])
        await self.posts.create_index([("author_id", ASCENDING), ("written_at", DESCENDING)])
        await self.posts.create_index([("open_reports", DESCENDING)])

    # Who reads ---------------------------------------------------------------------------------

    async def squad_members(self, space: Space) -> set[str]:
        """The members a squad selected, for a squad's space (nobody for another space)."""
        if space.squad_id is None:
            return set()
        members = await self.squad_members_or_none(space.squad_id)
        if members is None:
            raise NotFound(f"no squad {space.squad_id}")
        return members

    async def squad_members_or_none(self, squad_id: str) -> set[str] | None:
        squad = await self.squads.find_one({"_id": squad_id}, {"applications": 1})
        if squad is None:
            return None
        return {a["member_id"] for a in squad.get("applications", []) if a["status"] == "selected"}

    async def require_may_read(self, space: Space, caller: Principal) -> None:
        """The domain's rule, with the squad's selected members read for a squad's space."""
        rules.require_may_read(space, caller, await self.squad_members(space))

    async def readable_thread(self, thread_id: str, caller: Principal) -> tuple[ThreadView, Document]:
        document = await one(self.threads, thread_id, "thread")
        thread = _thread(document)
        await self.require_may_read(thread.space, caller)
        return thread, document

    async def posts_searchable(self) -> int:
        """Posts written before threads were searched lack what the index needs of their thread:
        they take it and are marked (the indexer's first sweep indexes them)."""
        changed = 0
        for thread_id in await self.posts.distinct("thread_id", {"thread_title": {"$exists": False}}):
            thread = await self.threads.find_one({"_id": thread_id}, {"space": 1, "title": 1, "language": 1})
            if thread is not None:
                result = await self.posts.update_many(
                    {"thread_id": thread_id, "thread_title": {"$exists": False}}, marked({"$set": _of_thread(thread)})
                )
                changed += result.modified_count
        return changed

    async def still_shown(self, post_ids: Sequence[str]) -> set[str]:
        """Of these posts, those neither hidden nor deleted now (the index follows a moment later)."""
        shown = {"_id": {"$in": list(post_ids)}, "hidden": False, "deleted": False}
        return {post["_id"] async for post in self.posts.find(shown, {"_id": 1})}

    async def squads_of(self, caller: Principal) -> list[str]:
        """The squads that selected the caller: whose threads they read."""
        selected = {"applications": {"$elemMatch": {"member_id": caller.member_id, "status": "selected"}}}
        return [squad["_id"] async for squad in self.squads.find(selected, {"_id": 1})]

    # Threads -----------------------------------------------------------------------------------

    async def start(self, form: ThreadForm, caller: Principal, creation: Creation) -> ThreadView:
        """A thread with its opening post. Two documents: a retry under the same Idempotency-Key
        writes what the first attempt did not."""
        await self.require_may_read(form.space, caller)
        thread_id = creation.new_id("thread")
        if await self.threads.find_one({"_id": thread_id}, {"_id": 1}) is None:  # a replay is no new post
            await self._require_may_post(caller)
        at = now()
        thread = {
            "_id": thread_id,
            "space": form.space.model_dump(),
            "title": form.title,
            "language": form.language,
            "started_by": caller.member_id,
            "started_at": at,
            "posts": 1,
            "last_post_at": at,
            "locked": False,
        }
        started = ThreadStarted(
            thread_id=thread_id,
            space=form.space.kind,
            squad_id=form.space.squad_id,
            language=form.language,
            started_by=caller.member_id,
            started_at=at,
        )
        await self.runtime.insert(self.threads, thread, [started], creation)
        opening = ReplyForm(**form.model_dump(include={"text", "language", "mentions"}))
        await self._insert_post(thread, opening, caller, at, derived_id("opening", thread_id), creation)
        return _thread(await one(self.threads, thread_id, "thread"))

    async def threads_in(self, space: Space, caller: Principal, page: Page) -> ThreadPage:
        """The threads of a space, the most recently active first."""
        await self.require_may_read(space, caller)
        query = {"space.kind": space.kind, "space.squad_id": space.squad_id}
        found, cursor = await page_of(self.threads, query, "last_post_at", DESCENDING, page.cursor, page.limit)
        return ThreadPage(threads=[_thread(document) for document in found], next_cursor=cursor)

    # Posts -------------------------------------------------------------------------------------

    async def posts_of(self, thread_id: str, caller: Principal, page: Page) -> PostPage:
        """The thread's posts, oldest first."""
        await self.readable_thread(thread_id, caller)
        query = {"thread_id": thread_id}
        found, cursor = await page_of(self.posts, query, "written_at", ASCENDING, page.cursor, page.limit)
        return PostPage(posts=[rules.shown_to(_post(document), caller) for document in found], next_cursor=cursor)

    async def _require_may_post(self, caller: Principal) -> None:
        """Within the hourly limit (counted, then written: a burst at once may pass it by a few)."""
        since = now() - timedelta(hours=1)
        rules.require_may_post(
            await self.posts.count_documents({"author_id": caller.member_id, "written_at": {"$gte": since}})
        )

    async def reply(self, thread_id: str, form: ReplyForm, caller: Principal, creation: Creation) -> PostView:
        _, document = await self.readable_thread(thread_id, caller)
        rules.require_open(bool(document.get("locked")))
        post_id = creation.new_id("post")
        if await self.posts.find_one({"_id": post_id}, {"_id": 1}) is None:  # a replay is no new post
            await self._require_may_post(caller)
        if form.reply_to is not None:
            answered = await self.posts.find_one({"_id": form.reply_to, "thread_id": thread_id}, {"_id": 1})
            if answered is None:
                raise NotFound(f"no post {form.reply_to} in thread {thread_id}")
        at = now()
        await self._insert_post(document, form, caller, at, post_id, creation)
        # Counted, not incremented: a retry after a crash between the two writes counts it too,
        # and concurrent posts only ever raise the count.
        count = await self.posts.count_documents({"thread_id": thread_id})
        await self.threads.update_one({"_id": thread_id}, {"$max": {"posts": count, "last_post_at": at}})
        return await self.post(thread_id, post_id)

    async def _insert_post(
        self, thread: Document, form: ReplyForm, caller: Principal, at: Any, post_id: str, creation: Creation
    ) -> None:
        thread_id = thread["_id"]
        post = {
            "_id": post_id,
            "thread_id": thread_id,
            **_of_thread(thread),
            "reply_to": form.reply_to,
            "author_id": caller.member_id,
            "language": form.language,
            "text": form.text,
            "mentions": [mention.model_dump() for mention in form.mentions],
            "version": 1,
            "history": [],
            "deleted": False,
            "hidden": False,
            "reports": [],
            "open_reports": 0,
            "moderation": [],
            "written_at": at,
            "edited_at": None,
            "revision": 1,
            "updated_at": at,
            PENDING: True,
        }
        event = PostWritten(
            thread_id=thread_id,
            post_id=post_id,
            reply_to=form.reply_to,
            space=thread["space"]["kind"],
            language=form.language,
            author=caller.member_id,
            written_at=at,
        )
        await self.runtime.insert(self.posts, post, [event], creation)
        self.on_marked([post_id])

    async def post(self, thread_id: str, post_id: str) -> PostView:
        document = await self.posts.find_one({"_id": post_id, "thread_id": thread_id}, HIDDEN_FIELDS)
        if document is None:
            raise NotFound(f"no post {post_id} in thread {thread_id}")
        return _post(document)

    async def edit(self, thread_id: str, post_id: str, form: PostForm, caller: Principal) -> PostView:
        """The author's new text; the one before joins the post's history."""
        _, thread = await self.readable_thread(thread_id, caller)
        rules.require_open(bool(thread.get("locked")))
        post = await self.post(thread_id, post_id)
        rules.require_author(post, caller)
        rules.require_not_hidden(post)
        at = now()
        earlier = {
            "version": post.version,
            "text": post.text,
            "language": post.language,
            "at": post.edited_at or post.written_at,
        }
        event = PostEdited(
            thread_id=thread_id, post_id=post_id, version=post.version + 1, language=form.language, edited_at=at
        )
        edited = await written(
            self.runtime,
            self.posts,
            {"_id": post_id, "version": post.version, "deleted": False, "hidden": False},
            marked(
                {
                    "$set": {
                        "text": form.text,
                        "language": form.language,
                        "mentions": [mention.model_dump() for mention in form.mentions],
                        "version": post.version + 1,
                        "edited_at": at,
                    },
                    "$push": {"history": earlier},
                }
            ),
            [event],
        )
        if not edited:
            raise Conflict("the post changed meanwhile; read it again")
        self.on_marked([post_id])
        return await self.post(thread_id, post_id)

    async def history(self, thread_id: str, post_id: str, caller: Principal) -> list[dict[str, Any]]:
        """The post's earlier texts, oldest first (what readers of the thread may read; of a
        hidden post, moderators)."""
        await self.readable_thread(thread_id, caller)
        document = await self.posts.find_one({"_id": post_id, "thread_id": thread_id}, {"history": 1, "hidden": 1})
        if document is None:
            raise NotFound(f"no post {post_id} in thread {thread_id}")
        return list(document.get("history", [])) if rules.text_shown(bool(document.get("hidden")), caller) else []

    # Reactions and following -------------------------------------------------------------------

    async def react(self, thread_id: str, post_id: str, kind: str, caller: Principal, *, on: bool) -> PostView:
        """Add or take back the caller's reaction of a kind (each reader's once; idempotent)."""
        await self.readable_thread(thread_id, caller)
        mine = {"kind": kind, "member_id": caller.member_id}
        if on:
            change: Document = {"$addToSet": {"reactions": mine}}
        else:
            change = {"$pull": {"reactions": mine}}
        await self.posts.update_one({"_id": post_id, "thread_id": thread_id, "deleted": False}, change)
        return rules.shown_to(await self.post(thread_id, post_id), caller)

    async def follow(self, thread_id: str, caller: Principal, *, on: bool) -> None:
        """Follow a thread (or stop): the threads a member follows are listed for them."""
        await self.readable_thread(thread_id, caller)
        change = {"$addToSet" if on else "$pull": {"followers": caller.member_id}}
        await self.threads.update_one({"_id": thread_id}, change)

    async def followed(self, caller: Principal, page: Page) -> ThreadPage:
        """The threads the caller follows (and still may read), the most recently active first.
        A page leaves out those they may no longer read, so it may be shorter than asked."""
        query = {"followers": caller.member_id}
        found, cursor = await page_of(self.threads, query, "last_post_at", DESCENDING, page.cursor, page.limit)
        threads = [_thread(document) for document in found]
        # Each squad read once; a squad gone since is read by nobody (not a 404 for the list).
        squads = {thread.space.squad_id for thread in threads if thread.space.squad_id}
        members = {squad: await self.squad_members_or_none(squad) or set() for squad in squads}
        readable = [
            thread
            for thread in threads
            if rules.may_read(thread.space, caller, members.get(thread.space.squad_id or "", set()))
        ]
        return ThreadPage(threads=readable, next_cursor=cursor)

    # Moderation --------------------------------------------------------------------------------

    async def report(self, thread_id: str, post_id: str, reason: Reason, caller: Principal) -> None:
        """A reader reports a post to the moderators, once."""
        await self.readable_thread(thread_id, caller)
        rules.require_not_deleted(await self.post(thread_id, post_id))
        at = now()
        report = {"reported_by": caller.member_id, "reason": reason.reason, "reported_at": at, "closed": False}
        event = PostReported(thread_id=thread_id, post_id=post_id, reported_at=at)
        reported = await written(
            self.runtime,
            self.posts,
            {"_id": post_id, "deleted": False, "reports.reported_by": {"$ne": caller.member_id}},
            {"$push": {"reports": report}, "$inc": {"open_reports": 1}},
            [event],
        )
        if not reported:
            raise Conflict("you have reported this post already")

    async def queue(self) -> list[ReportedPost]:
        """The posts with open reports, the most reported first (moderators alone call it)."""
        found = self.posts.find({"open_reports": {"$gt": 0}}, HIDDEN_FIELDS).sort("open_reports", DESCENDING)
        return [
            ReportedPost(
                post=_post(document),
                reports=[Report(**report) for report in document["reports"] if not report.get("closed")],
            )
            async for document in found.limit(MAX_QUEUED)
        ]

    async def hide(self, thread_id: str, post_id: str, reason: Reason, caller: Principal) -> PostView:
        return await self._moderate(thread_id, post_id, reason, caller, hidden=True)

    async def restore(self, thread_id: str, post_id: str, reason: Reason, caller: Principal) -> PostView:
        return await self._moderate(thread_id, post_id, reason, caller, hidden=False)

    async def _moderate(
        self, thread_id: str, post_id: str, reason: Reason, caller: Principal, *, hidden: bool
    ) -> PostView:
        """Hide or restore with the reason recorded; either decision closes the open reports."""
        post = await self.post(thread_id, post_id)
        rules.require_not_own_post(post, caller)
        rules.require_not_deleted(post)
        if post.hidden == hidden:
            raise Conflict("the post is hidden already" if hidden else "the post is not hidden")
        at = now()
        decision = {
            "action": "hide" if hidden else "restore",
            "by": caller.member_id,
            "reason": reason.reason,
            "at": at,
        }
        event = (
            PostHidden(thread_id=thread_id, post_id=post_id, hidden_by=caller.member_id, hidden_at=at)
            if hidden
            else PostRestored(thread_id=thread_id, post_id=post_id, restored_by=caller.member_id, restored_at=at)
        )
        decided = await written(
            self.runtime,
            self.posts,
            {"_id": post_id, "hidden": not hidden},
            marked(
                {
                    "$set": {"hidden": hidden, "open_reports": 0, "reports.$[].closed": True},
                    "$push": {"moderation": decision},
                }
            ),
            [event],
        )
        if not decided:
            raise Conflict("the post was moderated meanwhile")
        self.on_marked([post_id])
        return await self.post(thread_id, post_id)

    async def lock(self, thread_id: str, reason: Reason, caller: Principal, *, locked: bool) -> ThreadView:
        """Lock a thread (read, no more written) or unlock it, with the reason recorded."""
        at = now()
        action = "lock" if locked else "unlock"
        decision = {"action": action, "by": caller.member_id, "reason": reason.reason, "at": at}
        event = (
            ThreadLocked(thread_id=thread_id, locked_by=caller.member_id, locked_at=at)
            if locked
            else ThreadUnlocked(thread_id=thread_id, unlocked_by=caller.member_id, unlocked_at=at)
        )
        decided = await written(
            self.runtime,
            self.threads,
            {"_id": thread_id, "locked": not locked},
            {"$set": {"locked": locked}, "$push": {"moderation": decision}},
            [event],
        )
        if not decided:
            await one(self.threads, thread_id, "thread")
            raise Conflict("the thread is locked already" if locked else "the thread is not locked")
        return _thread(await one(self.threads, thread_id, "thread"))

    async def delete(self, thread_id: str, post_id: str, caller: Principal) -> None:
        """The author deletes a post: its text and its history go, its place stays."""
        await self.readable_thread(thread_id, caller)
        post = await self.post(thread_id, post_id)
        rules.require_author(post, caller)
        if not await self._delete(thread_id, post_id):
            raise Conflict("the post was deleted meanwhile")

    async def delete_all_of(self, member_id: str) -> None:
        """An erased member's posts, when they asked for it: deleted as by their author."""
        async for post in self.posts.find({"author_id": member_id, "deleted": False}, {"thread_id": 1}):
            await self._delete(post["thread_id"], post["_id"])

    async def _delete(self, thread_id: str, post_id: str) -> bool:
        """Its text and its history go, its place stays; False if it was deleted already."""
        event = PostDeleted(thread_id=thread_id, post_id=post_id, deleted_at=now())
        deleted = await written(
            self.runtime,
            self.posts,
            {"_id": post_id, "deleted": False},
            marked({"$set": {"deleted": True, "text": None, "mentions": [], "history": []}}),
            [event],
        )
        if deleted:
            self.on_marked([post_id])
        return deleted


def _of_thread(thread: Document) -> Document:
    """What a post keeps of its thread for the search index (none of it ever changes)."""
    return {"space": thread["space"], "thread_title": thread["title"], "thread_language": thread["language"]}


def _thread(document: Document) -> ThreadView:
    return ThreadView(
        thread_id=document["_id"],
        space=Space(**document["space"]),
        **{
            name: document.get(name)
            for name in ("title", "language", "started_by", "started_at", "posts", "last_post_at")
        },
        locked=bool(document.get("locked")),
    )


def _post(document: Document) -> PostView:
    fields = {name: document.get(name) for name in PostView.model_fields if name != "post_id"}
    reactions = Counter(reaction["kind"] for reaction in document.get("reactions", []))
    return PostView(
        post_id=document["_id"],
        **{**fields, "hidden": bool(document.get("hidden")), "reactions": dict(sorted(reactions.items()))},
    )
