"""Monitoring's OpenSearch indexes: templates, versioned indexes behind aliases, created at start.

Dashboards and the API read the aliases (`<prefix>-activity`, `<prefix>-indicators`); each alias
points at one version (`<prefix>-activity-v1-<time>`), so that a rebuild can fill a new version
and swap the alias without downtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import RequestError

MAPPING_VERSION = 1
KEYWORDS = (
    "event_id",
    "type",
    "short_type",
    "service",
    "subject",
    "countries",
    "sectors",
    "organisation_type",
    "languages",
    "competences",
    "topics",
    "result_type",
    "origin_kind",
    "event_kind",
    "audience",
    "decision",
    "reason",
    "status_from",
    "status_to",
    "indicators",
    "cells",
    "source_topic",
)

ACTIVITY_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        **{name: {"type": "keyword"} for name in KEYWORDS},
        "at": {"type": "date"},
        "day": {"type": "date", "format": "strict_date"},
        "attended": {"type": "boolean"},
        "figures": {"type": "object", "dynamic": True},
        "source_partition": {"type": "integer"},
        "source_offset": {"type": "long"},
    },
}

INDICATOR_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "cell": {"type": "keyword"},
        "indicator": {"type": "keyword"},
        "day": {"type": "date", "format": "strict_date"},
        "country": {"type": "keyword"},
        "sector": {"type": "keyword"},
        "value": {"type": "long"},
        "updated_at": {"type": "date"},
    },
}


OBSERVATION_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        **{
            name: {"type": "keyword"}
            for name in ("observation_id", "indicator", "target", "country", "unit", "source", "reference", "partner")
        },
        "period_start": {"type": "date"},
        "period_end": {"type": "date"},
        "value": {"type": "double"},
        "recorded_at": {"type": "date"},
        "event_id": {"type": "keyword"},
    },
}


@dataclass(frozen=True)
class VersionedIndex:
    """An alias and the template of the index versions behind it."""

    alias: str
    mappings: dict[str, Any]

    def new_version(self) -> str:
        return f"{self.alias}-v{MAPPING_VERSION}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}"

    async def live_version(self, search: AsyncOpenSearch) -> str:
        return str(next(iter(await search.indices.get_alias(name=self.alias))))

    async def ensure(self, search: AsyncOpenSearch) -> None:
        """Install the template, then create the first version behind the alias unless it exists."""
        await search.indices.put_index_template(
            name=f"{self.alias}-template",
            body={
                "index_patterns": [f"{self.alias}-v*"],
                "version": MAPPING_VERSION,
                "template": {"settings": {"number_of_shards": 1}, "mappings": self.mappings},
            },
        )
        if not await search.indices.exists_alias(name=self.alias):
            # One fixed name for the first version: replicas starting together create it once.
            first = f"{self.alias}-v{MAPPING_VERSION}-first"
            try:
                await search.indices.create(index=first, body={"aliases": {self.alias: {}}})
            except RequestError as error:
                if error.error != "resource_already_exists_exception":
                    raise
            return
        # Fields added since the live version was made are added to it (OpenSearch refuses any
        # other change of a mapping: that takes a rebuild, python -m deh_monitoring.admin rebuild).
        await search.indices.put_mapping(index=self.alias, body=self.mappings)


@dataclass(frozen=True)
class MonitoringIndexes:
    activity: VersionedIndex
    indicators: VersionedIndex
    # What later events need from earlier ones (an event's kind, a squad's topic), by the
    # aggregate's id; and partners' observations, their newest value each. Not versioned: their
    # content follows from the events alone, so a rebuild writes the same documents again.
    context: str
    observations: str

    @classmethod
    def named(cls, prefix: str) -> MonitoringIndexes:
        return cls(
            VersionedIndex(f"{prefix}-activity", ACTIVITY_MAPPINGS),
            VersionedIndex(f"{prefix}-indicators", INDICATOR_MAPPINGS),
            f"{prefix}-context",
            f"{prefix}-observations",
        )

    async def ensure(self, search: AsyncOpenSearch) -> None:
        for index in (self.activity, self.indicators):
            await index.ensure(search)
        context_mappings = {"dynamic": "strict", "properties": {"fields": {"type": "object", "enabled": False}}}
        for name, mappings in ((self.context, context_mappings), (self.observations, OBSERVATION_MAPPINGS)):
            if not await search.indices.exists(index=name):
                await search.indices.create(index=name, body={"mappings": mappings})


async def swap(search: AsyncOpenSearch, moves: dict[str, tuple[str, str]]) -> None:
    """Point each alias from its old version at its new one (no longer marked as rebuilding),
    all in one atomic request, so that readers see either every old version or every new one."""
    actions: list[dict[str, Any]] = []
    for alias, (old, new) in moves.items():
        actions += [
            {"remove": {"index": old, "alias": alias}},
            {"add": {"index": new, "alias": alias}},
            {"remove": {"index": new, "alias": rebuilding(alias)}},
        ]
    await search.indices.update_aliases(body={"actions": actions})


def rebuilding(alias: str) -> str:
    """The alias that marks a version a rebuild is filling (no reader uses it, and deleting old
    versions leaves it alone)."""
    return f"{alias}-rebuilding"
