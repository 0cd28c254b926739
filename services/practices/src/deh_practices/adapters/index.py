"""The practices' search index: what of a stored practice is searchable (the platform's
`SearchIndex` keeps it in step with MongoDB, rebuilds and upgrades it)."""

from __future__ import annotations

from typing import Any

from deh_platform.search_index import IndexShape
from deh_practices.adapters.store import Document
from deh_practices.domain.practices import public_view
from deh_practices.domain.search import FACETS, MAPPING_VERSION, index_definition


def searchable(stored: Document) -> dict[str, Any]:
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


PRACTICE_INDEX = IndexShape(
    kind="practice",
    version=MAPPING_VERSION,
    definition=index_definition,
    searchable=searchable,
    rebuild_command="python -m deh_practices.admin rebuild",
)
