"""A search index that follows a MongoDB collection (decision 0007): the versioned index behind
an alias, the indexer, the zero-downtime rebuild, mapping upgrades, and running searches. Each
service that searches says what it indexes in an `IndexShape` (the practices of the library,
the posts of the community's threads).

The indexer is the outbox idea again: a change marks the document `search_pending` and advances
its `revision` in the same write (`marked`) and tells the indexer its id; the indexer reads
those documents by id, indexes them with their revision as external version (so an older copy
can never overwrite a newer one), then clears the mark if the revision is unchanged. A sweep at
start and every few minutes finds marks a crash left. A document OpenSearch refuses for good is
set aside with the reason (`_set_aside`), and the rest are indexed.
During a rebuild it writes to both the live index and the one being built (read from MongoDB
at every pass), so no change made while the rebuild copies is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from deh_platform.errors import InvalidInput
from deh_platform.operations import progress_bar
from deh_platform.outbox import SET_ASIDE_FIELD, set_aside_entry
from deh_platform.query_text import POINT_IN_TIME_KEEP_ALIVE
from deh_platform.records import REVISION_FIELD, SEARCH_PENDING_FIELD, now
from deh_platform.runtime import ServiceRuntime
from deh_platform.search_node import usable_analyses
from deh_platform.settings import SearchingServiceSettings
from deh_platform.telemetry import items_set_aside
from deh_platform.text_analysis import Analysis, choose_analyses, degraded_languages

log = logging.getLogger(__name__)
Document = dict[str, Any]
PENDING = SEARCH_PENDING_FIELD
CATCH_UP_MARGIN = timedelta(minutes=2)
# A rebuild whose copy has not moved for this long died (a crash): the next one takes over.
ABANDONED_AFTER = timedelta(minutes=5)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class IndexShape:
    """What an index holds: `searchable` makes a stored document's searchable one, `definition`
    the index's settings and mappings from the analyses the node can build (its `_meta` names
    `mapping_version`, which `version` is); `kind` and `rebuild_command` are for messages."""

    kind: str
    version: int
    definition: Callable[[Mapping[str, Analysis]], dict[str, Any]]
    searchable: Callable[[Document], dict[str, Any]]
    rebuild_command: str


def mark(set_fields: Document | None = None) -> Document:
    """The `$set` of a change that marks its document for the search index: the mark and a new
    `updated_at` (a rebuild copies again what changed while it copied)."""
    return {**(set_fields or {}), PENDING: True, "updated_at": now()}


def marked(update: Document) -> Document:
    """A MongoDB update that reads nothing first (no `ServiceRuntime.change`), marked for the
    search index and advancing the document's revision: the version the index keeps, and a
    change computed from the document as read before fails rather than undoes this one."""
    return {**update, "$set": mark(update.get("$set")), "$inc": {**update.get("$inc", {}), REVISION_FIELD: 1}}


class RebuildRunning(Exception):
    """Another rebuild of the index is running."""


class SearchIndex:
    def __init__(
        self,
        shape: IndexShape,
        search: AsyncOpenSearch,
        stored: AsyncCollection[Document],
        state: AsyncCollection[Document],
        alias: str,
    ) -> None:
        self.shape = shape
        self.search = search
        self.stored = stored
        self.state = state
        self.alias = alias
        self._hints: set[str] = set()
        self._fields: dict[str, set[str]] = {}  # by index name (fields_of)
        self._refusal_said_at = -math.inf
        self._wake = asyncio.Event()
        self._ensured = False  # the template and the alias exist (ensure)
        self._ensuring = asyncio.Lock()

    @classmethod
    def of(cls, shape: IndexShape, runtime: ServiceRuntime, collection: str, alias: str) -> SearchIndex:
        """The index of a service's collection, behind `alias` (its state beside, in MongoDB)."""
        assert runtime.search is not None, "a service that searches uses OpenSearch"
        return cls(shape, runtime.search, runtime.db[collection], runtime.db.search_state, alias)

    def run_in(self, runtime: ServiceRuntime, settings: SearchingServiceSettings) -> None:
        """The indexer on every replica; the upgrade job on the one holding its lease."""
        runtime.run_in_background("search indexer", functools.partial(self.run_indexer, settings.sweep_seconds))
        if every := settings.search_upgrade_check_seconds:
            runtime.run_exclusively(
                "search index upgrade", self.upgrade_when_outdated, every_seconds=every, lease_seconds=3 * every
            )

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
        """A search of the live index (made first if OpenSearch was away when the service started)."""
        if not self._ensured:
            await self.ensure()
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
        return f"{self.alias}-v{self.shape.version}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}"

    async def ensure(self) -> None:
        """Install the versioned index template with the analyzers this node can build, then
        create the first index behind the alias unless the alias exists."""
        async with self._ensuring:  # the indexer and a first search may ask at once
            chosen = choose_analyses(await usable_analyses(self.search))
            if degraded := degraded_languages(chosen):
                log.warning(
                    "OpenSearch cannot build the analyzers of %s: their text is indexed with standard "
                    "analysis (no stemming, so inflected forms do not match); install the missing "
                    "plugins, then rebuild the index (%s)",
                    ", ".join(degraded),
                    self.shape.rebuild_command,
                )
            await self.search.indices.put_index_template(
                name=f"{self.alias}-template",
                body={
                    "index_patterns": [f"{self.alias}-v*"],
                    "version": self.shape.version,
                    "template": self.shape.definition(chosen),
                },
            )
            if not await self.search.indices.exists_alias(name=self.alias):
                await self._create_first_index()
            self._ensured = True

    async def _create_first_index(self) -> None:
        """The first index behind the alias, under one name, so that replicas starting together
        make one (and the others find it made)."""
        first = f"{self.alias}-v{self.shape.version}-first"
        try:
            await self.search.indices.create(index=first, body={"aliases": {self.alias: {}}})
        except RequestError as error:
            if error.error != "resource_already_exists_exception":
                raise
            await self.search.indices.put_alias(index=first, name=self.alias)

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
        if version is None or version >= self.shape.version:
            return
        log.warning("the live index has mapping version %s, this code %s: rebuilding it", version, self.shape.version)
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

    def notify(self, ids: Sequence[str]) -> None:
        """These documents were just marked: index them now (the store calls this)."""
        self._hints.update(ids)
        self._wake.set()

    async def run_indexer(self, sweep_seconds: float = 300.0) -> None:
        """Index what the store marks; a sweep at start and every few minutes finds what a
        crash left marked (a scan of the collection, so only then)."""
        loop = asyncio.get_running_loop()
        next_sweep, failures = loop.time(), 0
        while True:
            try:
                if not self._ensured:  # a service whose search is optional starts without OpenSearch
                    await self.ensure()
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
                log.exception("indexing failed; the %ss stay marked and are retried", self.shape.kind)
                await asyncio.sleep(min(0.2 * 2**failures, 10.0))
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.05, next_sweep - loop.time()))

    async def sweep(self) -> int:
        found = [document["_id"] async for document in self.stored.find({PENDING: True}, {"_id": 1})]
        self.notify(found)
        return len(found)

    async def index_pending(self, batch: int = 200) -> int:
        """Index up to `batch` hinted documents that are still marked, then clear their marks
        where the revision is unchanged (a newer change keeps its mark)."""
        ids = [self._hints.pop() for _ in range(min(batch, len(self._hints)))]
        try:
            pending = [document async for document in self.stored.find({"_id": {"$in": ids}, PENDING: True})]
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
        await self.stored.bulk_write(operations, ordered=False)

    def _set_aside_entry(self, document: Document, reason: str) -> Document:
        items_set_aside.add(1, {"kind": "search index"})
        log.error("%s %s set aside from the search index: %s", self.shape.kind, document["_id"], reason)
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
            await self.stored.bulk_write(operations, ordered=False)

    async def write(self, documents: list[Document], indexes: list[str]) -> dict[str, str]:
        """Bulk-index the documents into every index; returns those OpenSearch refused for good
        (a document it can never take) and those of a shape this code cannot index (a document
        an older version wrote), by id with the reason. Raises when it may take them
        later (overloaded, unavailable), so that they are tried again."""
        operations: list[dict[str, Any]] = []
        # Written to the indexes the targets name now: if the alias moves meanwhile, the old
        # index is gone (a 404: tried again) or the new one has the change from the rebuild.
        known = dict([await self.resolve(target) for target in indexes])
        refused: dict[str, str] = {}
        for stored in documents:
            try:
                searchable, version = self.shape.searchable(stored), stored[REVISION_FIELD]
            except (KeyError, TypeError, ValueError) as problem:  # a shape this code does not know
                refused[stored["_id"]] = f"not searchable: {type(problem).__name__}: {problem}"
                continue
            for index in known:
                operations.append(
                    {
                        "index": {
                            "_index": index,
                            "_id": stored["_id"],
                            "version": version,
                            "version_type": "external",
                        }
                    }
                )
                operations.append({name: value for name, value in searchable.items() if name in known[index]})
        if not operations:
            return refused
        response = await self.search.bulk(body=operations)
        for item in response["items"]:
            result = item["index"]
            status = result.get("status", 200)
            # 409: the index already holds this revision or a newer one, which is what we want.
            if status < 300 or status == 409:
                continue
            if status in (404, 429) or status >= 500:
                raise RuntimeError(
                    f"OpenSearch could not index {self.shape.kind} {result['_id']} now: {result.get('error')}"
                )
            error = result.get("error", {})
            refused[result["_id"]] = f"{error.get('type', status)}: {str(error.get('reason', ''))[:300]}"
        return refused

    # Rebuild ----------------------------------------------------------------------------------

    async def rebuild(self, progress: Progress | None = None, batch: int = 200) -> str:
        """Copy every document from MongoDB into a fresh index, then move the alias to it. One
        rebuild at a time (the upgrade job's, an operator's): `RebuildRunning` otherwise."""
        old = await self.live_index()
        new = self.new_index_name()
        started = datetime.now(UTC)
        await self._claim(new, started)
        try:
            await self.ensure()  # the template of this code's mapping version shapes the new index
            await self.search.indices.create(index=new)
            total = await self.stored.count_documents({})
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
        async for document in self.stored.find(query).sort("_id", 1):
            chunk.append(document)
            if len(chunk) == batch:
                await self._beat(index)
                await self._set_aside(chunk, await self.write(chunk, [index]))
                done += len(chunk)
                chunk = []
                if progress and total is not None:
                    progress(done, max(total, done))  # documents written meanwhile are copied too
        if chunk:
            await self._set_aside(chunk, await self.write(chunk, [index]))
            done += len(chunk)
        if progress and total is not None:
            progress(done, max(total, done))


async def rebuild_for_an_operator(index: SearchIndex) -> str:
    """A service's `admin rebuild` command: the rebuild with a progress bar, and what came of it."""
    await index.ensure()
    try:
        return f"the alias {index.alias} now points at {await index.rebuild(progress=progress_bar)}"
    except RebuildRunning as running:
        return f"not now: {running} (a rebuild whose copy stops for 5 minutes is taken over)"
