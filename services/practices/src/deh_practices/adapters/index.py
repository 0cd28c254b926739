"""The OpenSearch side: the versioned index behind the `practices` alias, the indexer that
follows MongoDB, the zero-downtime rebuild, and running searches.

The indexer is the outbox idea again: a change marks the practice `search_pending` in the same
write and tells the indexer its id; the indexer reads those practices by id, indexes them with
their revision as external version (so an older copy can never overwrite a newer one), then
clears the mark if the revision is unchanged. A sweep at start and every few minutes finds marks
a crash left. A practice OpenSearch refuses for good is set aside with the reason
(`_set_aside`), and the rest are indexed.
During a rebuild it writes to both the live index and the one being built (read from MongoDB
at every pass), so no change made while the rebuild copies is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from deh_platform.errors import InvalidInput
from deh_platform.outbox import SET_ASIDE_FIELD, set_aside_entry
from deh_platform.search_node import usable_analyses
from deh_platform.telemetry import items_set_aside
from deh_platform.text_analysis import choose_analyses, degraded_languages
from deh_practices.adapters.store import PENDING, Document
from deh_practices.domain.practices import public_view
from deh_practices.domain.search import FACETS, MAPPING_VERSION, POINT_IN_TIME_KEEP_ALIVE, index_definition

log = logging.getLogger(__name__)
ALIAS = "practices"
CATCH_UP_MARGIN = timedelta(minutes=2)
# A rebuild whose copy has not moved for this long died (a crash): the next one takes over.
ABANDONED_AFTER = timedelta(minutes=5)
Progress = Callable[[int, int], None]


class RebuildRunning(Exception):
    """Another rebuild of the index is running."""


def index_document(stored: Document) -> dict[str, Any]:
    """The searchable shape of a stored practice: its public view when it has one (a practice
    whose next version is being edited is found as it was published, by everyone), else as it
    is; either way found by `scope=mine` of its authors and its reviewer now."""
    practice = public_view(stored) or stored
    metadata = practice["metadata"]
    body_language = metadata["languages"][0]
    return {
        "practice_id": practice["_id"],
        "status": practice["status"],
        "version": practice["version"],
        "title": metadata["title"],
        "title_suggest": metadata["title"],
        "summary": metadata["summary"],
        "body": {body_language: practice["body"]} if practice.get("body") else {},
        **{field: metadata[name] for name, field in FACETS.items() if name in metadata},
        "origin_kind": metadata["origin"]["kind"],
        "origin_reference": metadata["origin"].get("reference"),
        "author_names": [author["name"] for author in practice["authors"] if author["name"]]
        + practice.get("author_names", []),
        "author_ids": list(stored["author_ids"]),  # who finds it with scope=mine: as it is now
        "reviewer_id": stored.get("reviewer_id"),
        "published_at": practice.get("published_at"),
        "updated_at": practice["updated_at"],
        "stale": practice.get("stale", False),
        "links": metadata.get("links", []),
    }


class SearchIndex:
    def __init__(
        self,
        search: AsyncOpenSearch,
        practices: AsyncCollection[Document],
        state: AsyncCollection[Document],
        alias: str = ALIAS,
    ) -> None:
        self.search = search
        self.practices = practices
        self.state = state
        self.alias = alias
        self._hints: set[str] = set()
        self._fields: dict[str, set[str]] = {}  # by index name (fields_of)
        self._refusal_said_at = -math.inf
        self._wake = asyncio.Event()

    async def page(self, body: Document) -> tuple[Document, str | None]:
        """One page of a search: from its page sequence's point in time when the body names one
        (a next page), else from the live index. Returns the answer and its point in time."""
        if "pit" not in body:
            return await self.run(body), None
        try:
            answer = await self.search.search(body=body)
        except (NotFoundError, RequestError) as error:  # expired, or not a point in time at all
            raise InvalidInput(
                ("query", "cursor"),
                f"this page sequence has ended (a cursor lasts {POINT_IN_TIME_KEEP_ALIVE} after its page): "
                "search again",
            ) from error
        return answer, answer.get("pit_id") or body["pit"]["id"]

    async def run(self, body: Document) -> Document:
        """A search of the live index."""
        answer: Document = await self.search.search(index=self.alias, body=body)
        return answer

    async def keep_for_next_page(self, point_in_time: str | None) -> str | None:
        """The point in time the next pages read: opened right after a first page that has more
        (so that it sees the library as that page did), none for a single page. None when the
        node refuses one (its limit of open points in time): the next pages read the live index."""
        if point_in_time is not None:
            return point_in_time
        try:
            opened = await self.search.create_pit(index=self.alias, params={"keep_alive": POINT_IN_TIME_KEEP_ALIVE})
        except TransportError as error:
            # Refused when the node holds its limit of open ones (search.max_open_pit_context,
            # decision 0007): said once a minute at most, for it comes in bursts under load.
            now = asyncio.get_running_loop().time()
            if now - self._refusal_said_at > 60:
                self._refusal_said_at = now
                log.warning("no point in time for a page sequence (%s): its pages follow the live index", error)
            return None
        return str(opened["pit_id"])

    async def close(self, point_in_time: str) -> None:
        """The last page was read: the node can let the point in time go now."""
        with contextlib.suppress(TransportError):
            await self.search.delete_pit(body={"pit_id": [point_in_time]})

    def new_index_name(self) -> str:
        return f"{self.alias}-v{MAPPING_VERSION}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}"

    async def ensure(self) -> None:
        """Install the versioned index template with the analyzers this node can build, then
        create the first index behind the alias unless the alias exists."""
        chosen = choose_analyses(await usable_analyses(self.search))
        if degraded := degraded_languages(chosen):
            log.warning(
                "OpenSearch cannot build the analyzers of %s: their text is indexed with standard "
                "analysis (no stemming, so inflected forms do not match); install the missing "
                "plugins, then rebuild the index (python -m deh_practices.admin rebuild)",
                ", ".join(degraded),
            )
        await self.search.indices.put_index_template(
            name=f"{self.alias}-template",
            body={
                "index_patterns": [f"{self.alias}-v*"],
                "version": MAPPING_VERSION,
                "template": index_definition(chosen),
            },
        )
        if not await self.search.indices.exists_alias(name=self.alias):
            await self.search.indices.create(index=self.new_index_name(), body={"aliases": {self.alias: {}}})

    async def live_index(self) -> str:
        aliases = await self.search.indices.get_alias(name=self.alias)
        return str(next(iter(aliases)))

    async def mapping_version(self) -> int | None:
        """The mapping version of the live index (None before there is one)."""
        try:
            mapping = await self.search.indices.get_mapping(index=self.alias)
        except NotFoundError:
            return None
        (live,) = mapping.values()
        return int(live["mappings"].get("_meta", {}).get("mapping_version", 0))

    async def upgrade_when_outdated(self) -> None:
        """Rebuild the index when the live one was made by an older mapping version (a new
        analysis or new fields): a job that one replica runs (see app.py). Until the alias
        moves, the old index keeps serving searches and taking changes in the shape it knows."""
        version = await self.mapping_version()
        if version is None or version >= MAPPING_VERSION:
            return
        log.warning("the live index has mapping version %s, this code %s: rebuilding it", version, MAPPING_VERSION)
        try:
            log.warning("the alias %s now points at %s", self.alias, await self.rebuild())
        except RebuildRunning as running:
            log.warning("not now: %s", running)

    async def resolve(self, target: str) -> tuple[str, set[str]]:
        """The index a target (the alias, or an index being built) names now, and the top-level
        fields it knows: an index made by an older mapping version (dynamic: strict) refuses a
        field added since, so it is written without it."""
        aliases = await self.search.indices.get_alias(index=target)
        index = str(next(iter(aliases)))
        if index not in self._fields:
            mapping = await self.search.indices.get_mapping(index=index)
            self._fields[index] = set(mapping[index]["mappings"]["properties"])
        return index, self._fields[index]

    async def targets(self) -> list[str]:
        state = await self.state.find_one({"_id": self.alias}) or {}
        return [self.alias, *([state["building"]] if state.get("building") else [])]

    # The indexer ---------------------------------------------------------------------------

    def notify(self, practice_ids: Sequence[str]) -> None:
        """These practices were just marked: index them now (the store calls this)."""
        self._hints.update(practice_ids)
        self._wake.set()

    async def run_indexer(self, sweep_seconds: float = 300.0) -> None:
        """Index what the store marks; a sweep at start and every few minutes finds what a
        crash left marked (a scan of the collection, so only then)."""
        loop = asyncio.get_running_loop()
        next_sweep, failures = loop.time(), 0
        while True:
            try:
                if loop.time() >= next_sweep:
                    await self.sweep()
                    next_sweep = loop.time() + sweep_seconds
                while self._hints:
                    await self.index_pending()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("indexing failed; the practices stay marked and are retried")
                await asyncio.sleep(min(0.2 * 2**failures, 10.0))
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.05, next_sweep - loop.time()))

    async def sweep(self) -> int:
        found = [document["_id"] async for document in self.practices.find({PENDING: True}, {"_id": 1})]
        self.notify(found)
        return len(found)

    async def index_pending(self, batch: int = 200) -> int:
        """Index up to `batch` hinted practices that are still marked, then clear their marks
        where the revision is unchanged (a newer change keeps its mark)."""
        ids = [self._hints.pop() for _ in range(min(batch, len(self._hints)))]
        try:
            pending = [document async for document in self.practices.find({"_id": {"$in": ids}, PENDING: True})]
            if pending:
                refused = await self.write(pending, await self.targets())
                await self._clear_marks(pending, refused)
        except BaseException:
            self._hints.update(ids)
            raise
        return len(pending)

    async def _clear_marks(self, indexed: list[Document], refused: dict[str, str]) -> None:
        operations = []
        for document in indexed:
            update: Document = {"$unset": {PENDING: ""}}
            if document["_id"] in refused:
                update["$push"] = {SET_ASIDE_FIELD: self._set_aside_entry(document, refused[document["_id"]])}
            operations.append(UpdateOne({"_id": document["_id"], "revision": document["revision"]}, update))
        await self.practices.bulk_write(operations, ordered=False)

    def _set_aside_entry(self, document: Document, reason: str) -> Document:
        items_set_aside.add(1, {"kind": "search index"})
        log.error("practice %s set aside from the search index: %s", document["_id"], reason)
        return set_aside_entry("search index", reason, revision=document["revision"])

    async def _set_aside(self, documents: list[Document], refused: dict[str, str]) -> None:
        """Record what a rebuild's new index refused (their marks are the live indexer's)."""
        operations = [
            UpdateOne(
                {"_id": document["_id"]},
                {"$push": {SET_ASIDE_FIELD: self._set_aside_entry(document, refused[document["_id"]])}},
            )
            for document in documents
            if document["_id"] in refused
        ]
        if operations:
            await self.practices.bulk_write(operations, ordered=False)

    async def write(self, practices: list[Document], indexes: list[str]) -> dict[str, str]:
        """Bulk-index the practices into every index; returns those OpenSearch refused for good
        (a document it can never take, by id with the reason). Raises when it may take them
        later (overloaded, unavailable), so that they are tried again."""
        operations: list[dict[str, Any]] = []
        # Written to the indexes the targets name now: if the alias moves meanwhile, the old
        # index is gone (a 404: tried again) or the new one has the change from the rebuild.
        known = dict([await self.resolve(target) for target in indexes])
        for practice in practices:
            document = index_document(practice)
            for index in known:
                operations.append(
                    {
                        "index": {
                            "_index": index,
                            "_id": practice["_id"],
                            "version": practice["revision"],
                            "version_type": "external",
                        }
                    }
                )
                operations.append({name: value for name, value in document.items() if name in known[index]})
        response = await self.search.bulk(body=operations)
        refused: dict[str, str] = {}
        for item in response["items"]:
            result = item["index"]
            status = result.get("status", 200)
            # 409: the index already holds this revision or a newer one, which is what we want.
            if status < 300 or status == 409:
                continue
            if status in (404, 429) or status >= 500:
                raise RuntimeError(f"OpenSearch could not index practice {result['_id']} now: {result.get('error')}")
            error = result.get("error", {})
            refused[result["_id"]] = f"{error.get('type', status)}: {str(error.get('reason', ''))[:300]}"
        return refused

    # Rebuild ----------------------------------------------------------------------------------

    async def rebuild(self, progress: Progress | None = None, batch: int = 200) -> str:
        """Copy every practice from MongoDB into a fresh index, then move the alias to it. One
        rebuild at a time (the upgrade job's, an operator's): `RebuildRunning` otherwise."""
        old = await self.live_index()
        new = self.new_index_name()
        started = datetime.now(UTC)
        await self._claim(new, started)
        try:
            await self.ensure()  # the template of this code's mapping version shapes the new index
            await self.search.indices.create(index=new)
            total = await self.practices.count_documents({})
            await self._copy({}, new, total, progress, batch)
            # A pass of the indexer that read the state just before the rebuild began may have
            # written a newer revision to the old index only: copy what changed since then again.
            await self._copy({"updated_at": {"$gte": started - CATCH_UP_MARGIN}}, new, None, None, batch)
            await self.search.indices.refresh(index=new)
            await self.search.indices.update_aliases(
                body={
                    "actions": [
                        {"remove": {"index": old, "alias": self.alias}},
                        {"add": {"index": new, "alias": self.alias}},
                    ]
                }
            )
        except BaseException:
            await self.state.update_one({"_id": self.alias, "building": new}, {"$unset": {"building": ""}})
            await self.search.indices.delete(index=new, ignore_unavailable=True)
            raise
        await self.state.update_one({"_id": self.alias, "building": new}, {"$unset": {"building": ""}})
        with contextlib.suppress(NotFoundError):
            await self.search.indices.delete(index=old)
        return new

    async def _claim(self, new: str, started: datetime) -> None:
        """Record the rebuild (every indexer pass then writes to its index too), unless another
        one is running: one whose copy has not moved for ABANDONED_AFTER died (its index goes)."""
        try:
            before = await self.state.find_one_and_update(
                {
                    "_id": self.alias,
                    "$or": [{"building": None}, {"heartbeat_at": {"$lt": started - ABANDONED_AFTER}}],
                },
                {"$set": {"building": new, "started": started, "heartbeat_at": started}},
                upsert=True,
            )
        except DuplicateKeyError:
            state = await self.state.find_one({"_id": self.alias}) or {}
            raise RebuildRunning(
                f"a rebuild into {state.get('building')} is running since {state.get('started')}"
            ) from None
        if before and before.get("building"):
            log.warning("a rebuild into %s died; its index goes", before["building"])
            await self.search.indices.delete(index=before["building"], ignore_unavailable=True)

    async def _beat(self, new: str) -> None:
        """The rebuild into `new` goes on; it stops if another took over (it was thought dead)."""
        result = await self.state.update_one(
            {"_id": self.alias, "building": new}, {"$set": {"heartbeat_at": datetime.now(UTC)}}
        )
        if not result.matched_count:
            raise RebuildRunning(f"another rebuild took over from the one into {new}")

    async def _copy(
        self, query: Document, index: str, total: int | None, progress: Progress | None, batch: int
    ) -> None:
        done = 0
        chunk: list[Document] = []
        async for document in self.practices.find(query).sort("_id", 1):
            chunk.append(document)
            if len(chunk) == batch:
                await self._beat(index)
                await self._set_aside(chunk, await self.write(chunk, [index]))
                done += len(chunk)
                chunk = []
                if progress and total is not None:
                    progress(done, max(total, done))  # practices written meanwhile are copied too
        if chunk:
            await self._set_aside(chunk, await self.write(chunk, [index]))
            done += len(chunk)
        if progress and total is not None:
            progress(done, max(total, done))
