"""The community's search index: posts kept in step with MongoDB by the platform's
`SearchIndex` (rebuilt and upgraded as the practice library's), and searched for a reader."""

from __future__ import annotations

from deh_membership.adapters.conversations import ConversationStore
from deh_membership.domain.thread_search import (
    MAPPING_VERSION,
    ThreadResults,
    ThreadSearch,
    build_query,
    index_definition,
    readable_by,
    results,
    searchable,
)
from deh_platform.identity import Principal
from deh_platform.search_index import IndexShape, SearchIndex

POST_INDEX = IndexShape(
    kind="post",
    version=MAPPING_VERSION,
    definition=index_definition,
    searchable=searchable,
    rebuild_command="python -m deh_membership.admin rebuild",
)


async def search_threads(
    search: ThreadSearch, caller: Principal, index: SearchIndex, talk: ConversationStore
) -> ThreadResults:
    """A page of the threads the caller may read that match, each with its best post: never a
    post hidden or deleted, even in the moment before the index has followed."""
    squads = [] if caller.is_staff else await talk.squads_of(caller)
    found = results(search, await index.run(build_query(search, readable_by(caller, squads))))
    shown = await talk.still_shown([thread.post_id for thread in found.threads])
    return found.model_copy(update={"threads": [thread for thread in found.threads if thread.post_id in shown]})
