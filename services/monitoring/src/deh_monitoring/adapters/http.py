"""The monitoring HTTP API for dashboards and the portal: indicator series, breakdowns, the
sources of an indicator cell, and the projection's freshness. Counts only: public."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from opensearchpy import AsyncOpenSearch
from pydantic import BaseModel, Field

from deh_contracts.catalogue.membership import MEMBER_STATUSES
from deh_monitoring.adapters.indexes import MonitoringIndexes
from deh_monitoring.adapters.overview import MapRow, TargetLine, Trend, page
from deh_monitoring.adapters.projection import Projection
from deh_monitoring.domain.activity import DECIDED_BY_DATA, INDICATORS, cell_parts
from deh_monitoring.domain.targets import TARGETS, Target
from deh_platform.errors import InvalidInput
from deh_platform.http import ResourceId, from_app
from deh_platform.runtime import ServiceRuntime

router = APIRouter()
KNOWN_INDICATORS = sorted({name for names in INDICATORS.values() for name in names} | set(DECIDED_BY_DATA))
Indicator = Annotated[str, Path(max_length=100, description="One of: " + ", ".join(KNOWN_INDICATORS))]
BREAKDOWNS = {
    "country": "countries",
    "sector": "sectors",
    "competence": "competences",
    "topic": "topics",
    "event_kind": "event_kind",
    "result_type": "result_type",
    "organisation_type": "organisation_type",
    "language": "languages",
}


def _search(request: Request) -> AsyncOpenSearch:
    runtime: ServiceRuntime = request.app.state.runtime
    assert runtime.search is not None
    return runtime.search


Search = Annotated[AsyncOpenSearch, Depends(_search)]
Indexes = Annotated[MonitoringIndexes, Depends(from_app("indexes"))]


class Point(BaseModel):
    period: date
    value: int


class Series(BaseModel):
    indicator: str
    interval: str
    country: str | None
    sector: str | None
    points: list[Point]
    total: int


def _known(indicator: str) -> str:
    if indicator not in KNOWN_INDICATORS:
        raise InvalidInput(("path", "indicator"), f"unknown indicator; known: {', '.join(KNOWN_INDICATORS)}")
    return indicator


def _filters(
    indicator: str, since: date | None, until: date | None, country: str | None, sector: str | None
) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = [{"term": {"indicators": indicator}}]
    if since or until:
        filters.append(
            {"range": {"day": {key: value.isoformat() for key, value in (("gte", since), ("lte", until)) if value}}}
        )
    if country:
        filters.append({"term": {"countries": country}})
    if sector:
        filters.append({"term": {"sectors": sector}})
    return filters


@router.get("/indicators", tags=["indicators"])
async def indicators() -> list[str]:
    """The indicators the projection counts."""
    return KNOWN_INDICATORS


@router.get("/indicators/{indicator}/series", response_model=Series, tags=["indicators"])
async def series(
    indicator: Indicator,
    search: Search,
    indexes: Indexes,
    since: Annotated[date | None, Query(alias="from")] = None,
    until: Annotated[date | None, Query(alias="to")] = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    sector: Annotated[str | None, Query(max_length=40)] = None,
    interval: Literal["day", "week", "month", "year"] = "day",
) -> Any:
    """How many events counted in the indicator per period (each event once, however many
    countries or sectors it names)."""
    points, total = await _points(search, indexes, _known(indicator), since, until, country, sector, interval)
    return Series(indicator=indicator, interval=interval, country=country, sector=sector, points=points, total=total)


async def _points(
    search: AsyncOpenSearch,
    indexes: MonitoringIndexes,
    indicator: str,
    since: date | None,
    until: date | None,
    country: str | None,
    sector: str | None,
    interval: str,
) -> tuple[list[Point], int]:
    body = {
        "size": 0,
        "query": {"bool": {"filter": _filters(indicator, since, until, country, sector)}},
        "aggs": {
            "periods": {"date_histogram": {"field": "day", "calendar_interval": interval, "format": "yyyy-MM-dd"}}
        },
    }
    response = await search.search(index=indexes.activity.alias, body=body)
    buckets = response["aggregations"]["periods"]["buckets"]
    points = [Point(period=bucket["key_as_string"], value=bucket["doc_count"]) for bucket in buckets]
    return points, response["hits"]["total"]["value"]


class Share(BaseModel):
    key: str
    value: int


@router.get("/indicators/{indicator}/breakdown", response_model=list[Share], tags=["indicators"])
async def breakdown(
    indicator: Indicator,
    search: Search,
    indexes: Indexes,
    by: Literal[
        "country", "sector", "competence", "topic", "event_kind", "result_type", "organisation_type", "language"
    ],
    top: Annotated[int, Query(ge=1, le=100)] = 10,
    since: Annotated[date | None, Query(alias="from")] = None,
    until: Annotated[date | None, Query(alias="to")] = None,
) -> Any:
    """The top values of a dimension among the indicator's events."""
    body = {
        "size": 0,
        "query": {"bool": {"filter": _filters(_known(indicator), since, until, None, None)}},
        "aggs": {"top": {"terms": {"field": BREAKDOWNS[by], "size": top}}},
    }
    response = await search.search(index=indexes.activity.alias, body=body)
    return [
        Share(key=bucket["key"], value=bucket["doc_count"]) for bucket in response["aggregations"]["top"]["buckets"]
    ]


class Source(BaseModel):
    event_id: str
    type: str
    at: datetime
    topic: str
    partition: int
    offset: int


class Cell(BaseModel):
    cell: str
    indicator: str
    day: str
    country: str
    sector: str
    value: int = Field(description="How many events count in the cell now (from the activity index).")
    stored: int | None = Field(
        description="The indicator document's value (what dashboards read); equal once projected."
    )
    sources: list[Source]


@router.get("/indicators/cells/{cell}", response_model=Cell, tags=["indicators"])
async def explain_cell(
    cell: Annotated[str, Path(max_length=200, description="indicator|day|country|sector")],
    search: Search,
    indexes: Indexes,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Any:
    """An indicator cell's value and the events behind it: their ids and where they are on Kafka."""
    if cell.count("|") != 3:
        raise InvalidInput(("path", "cell"), "a cell is indicator|day|country|sector")
    body = {
        "size": limit,
        "query": {"term": {"cells": cell}},
        "sort": [{"at": "asc"}, {"event_id": "asc"}],
        "track_total_hits": True,
        "_source": ["event_id", "type", "at", "source_topic", "source_partition", "source_offset"],
    }
    response = await search.search(index=indexes.activity.alias, body=body)
    sources = [
        Source(
            event_id=hit["_source"]["event_id"],
            type=hit["_source"]["type"],
            at=hit["_source"]["at"],
            topic=hit["_source"]["source_topic"],
            partition=hit["_source"]["source_partition"],
            offset=hit["_source"]["source_offset"],
        )
        for hit in response["hits"]["hits"]
    ]
    stored = await search.get(index=indexes.indicators.alias, id=cell, ignore=[404])
    value = stored["_source"]["value"] if stored.get("found") else None
    return Cell(cell=cell, **cell_parts(cell), value=response["hits"]["total"]["value"], stored=value, sources=sources)


class PartitionFreshness(BaseModel):
    topic: str
    partition: int
    lag_events: int
    lag_seconds: float


@router.get("/freshness", response_model=list[PartitionFreshness], tags=["projection"])
async def freshness(request: Request) -> Any:
    """How far the projection is behind, per partition: events not yet projected, and how old
    the last projected event is while some wait (0 when none wait)."""
    runtime: ServiceRuntime = request.app.state.runtime
    projection: Projection = request.app.state.projection
    now = datetime.now(UTC)
    found = []
    for consumer in runtime.consumers:
        for (topic, partition), lag in sorted(consumer.lag.items()):
            last = projection.last_event_at.get((topic, partition))
            seconds = (now - last).total_seconds() if lag and last else 0.0
            found.append(PartitionFreshness(topic=topic, partition=partition, lag_events=lag, lag_seconds=seconds))
    return found


class MembersByStatus(BaseModel):
    on: date
    country: str | None
    sector: str | None
    members: dict[str, int]


@router.get("/members/by-status", response_model=MembersByStatus, tags=["indicators"])
async def members_by_status(
    search: Search,
    indexes: Indexes,
    on: date | None = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    sector: Annotated[str | None, Query(max_length=40)] = None,
) -> Any:
    """How many members are in each status at the end of a day (default: today), in a country or
    sector: the changes into a status minus the changes out of it, up to that day."""
    day = on or datetime.now(UTC).date()
    filters: list[dict[str, Any]] = [
        {"range": {"day": {"lte": day.isoformat()}}},
        {"prefix": {"short_type": "membership.member."}},
    ]
    if country:
        filters.append({"term": {"countries": country}})
    if sector:
        filters.append({"term": {"sectors": sector}})
    body = {
        "size": 0,
        "query": {"bool": {"filter": filters}},
        "aggs": {
            "entered": {"terms": {"field": "status_to", "size": 10}},
            "left": {"terms": {"field": "status_from", "size": 10}},
        },
    }
    response = await search.search(index=indexes.activity.alias, body=body)
    counts = {bucket["key"]: bucket["doc_count"] for bucket in response["aggregations"]["entered"]["buckets"]}
    for bucket in response["aggregations"]["left"]["buckets"]:
        counts[bucket["key"]] = counts.get(bucket["key"], 0) - bucket["doc_count"]
    members = {status: counts.get(status, 0) for status in MEMBER_STATUSES}
    return MembersByStatus(on=day, country=country, sector=sector, members=members)


class Expertise(BaseModel):
    """How many, in one country, for one competence, topic or kind of NAS activity."""

    key: str
    country: str
    count: int


KNOWLEDGE = {
    # what the map is of -> (indicator counted, the field its rows are by)
    "competences": ({"term": {"indicators": "practices_published"}}, "competences"),
    "squad_topics": ({"term": {"indicators": "squad_applications"}}, "topics"),
    "nas": (
        {"bool": {"should": [{"term": {"indicators": "nas_registered"}}, {"term": {"event_kind": "nas_meeting"}}]}},
        "short_type",
    ),
}


@router.get("/knowledge-map", response_model=list[Expertise], tags=["knowledge map"])
async def knowledge_map(
    search: Search,
    indexes: Indexes,
    of: Literal["competences", "squad_topics", "nas"],
    since: Annotated[date | None, Query(alias="from")] = None,
    until: Annotated[date | None, Query(alias="to")] = None,
) -> Any:
    """Where expertise sits, as counts only: practices published by DigComp/DigCompEdu
    competence and country, squad applications by topic and applicant's country, NAS activity
    (registrations of NAS, registrations for NAS meetings) by country."""
    return await _expertise(search, indexes, of, since, until)


async def _expertise(
    search: AsyncOpenSearch, indexes: MonitoringIndexes, of: str, since: date | None, until: date | None
) -> list[Expertise]:
    selection, rows_by = KNOWLEDGE[of]
    period = {key: value.isoformat() for key, value in (("gte", since), ("lte", until)) if value}
    filters = [selection, *([{"range": {"day": period}}] if period else [])]
    by_country = {"countries": {"terms": {"field": "countries", "size": 60}}}
    body = {
        "size": 0,
        "query": {"bool": {"filter": filters}},
        "aggs": {"rows": {"terms": {"field": rows_by, "size": 200}, "aggs": by_country}},
    }
    response = await search.search(index=indexes.activity.alias, body=body)
    return [
        Expertise(key=row["key"], country=country["key"], count=country["doc_count"])
        for row in response["aggregations"]["rows"]["buckets"]
        for country in row["countries"]["buckets"]
    ]


class Observed(BaseModel):
    value: float
    unit: str
    country: str | None
    period_start: datetime
    period_end: datetime
    source: str
    reference: str | None
    partner: str


class TargetProgress(BaseModel):
    target: Target
    latest: Observed | None = None
    progress: float | None = None
    reached: bool | None = None


async def _observed(
    search: AsyncOpenSearch, indexes: MonitoringIndexes, target: str, country: str | None, size: int
) -> list[Observed]:
    where: list[dict[str, Any]] = [{"term": {"target": target}}]
    place: dict[str, Any] = (
        {"term": {"country": country}} if country else {"bool": {"must_not": {"exists": {"field": "country"}}}}
    )
    body = {"size": size, "query": {"bool": {"filter": [*where, place]}}, "sort": [{"period_end": "desc"}]}
    response = await search.search(index=indexes.observations, body=body)
    return [Observed.model_validate(hit["_source"]) for hit in response["hits"]["hits"]]


@router.get("/targets", response_model=list[TargetProgress], tags=["action plan"])
async def targets(search: Search, indexes: Indexes) -> Any:
    """The EU-level targets, each with its latest EU-wide observation and the progress from the
    baseline towards the target (0 at the baseline, 1 when reached)."""
    found = []
    for target in TARGETS.values():
        latest = next(iter(await _observed(search, indexes, target.id, None, 1)), None)
        progress = round(target.progress(latest.value), 3) if latest else None
        found.append(
            TargetProgress(
                target=target,
                latest=latest,
                progress=progress,
                reached=target.reached(latest.value) if latest else None,
            )
        )
    return found


@router.get("/targets/{target_id}/observations", response_model=list[Observed], tags=["action plan"])
async def target_observations(
    target_id: ResourceId, search: Search, indexes: Indexes, country: Annotated[str | None, Query(max_length=2)] = None
) -> Any:
    """What partners observed for a target, newest period first (EU-wide, or one country's)."""
    if target_id not in TARGETS:
        raise InvalidInput(("path", "target_id"), f"unknown target; known: {', '.join(TARGETS)}")
    return await _observed(search, indexes, target_id, country, 100)


TRENDS = {
    "members_approved": "Members approved",
    "practices_published": "Practices published",
    "registrations": "Seats taken at events",
    "attendances": "Attendances",
}


@router.get("/overview", response_class=HTMLResponse, tags=["overview"])
async def overview(search: Search, indexes: Indexes) -> HTMLResponse:
    """The Action Plan in numbers as one page: progress towards the targets, the last twelve
    months of activity, and where expertise sits (for machines without OpenSearch Dashboards)."""
    lines = []
    for target in TARGETS.values():
        latest = next(iter(await _observed(search, indexes, target.id, None, 1)), None)
        seen = (latest.value, latest.period_end.year, latest.source) if latest else (None, None, None)
        lines.append(TargetLine(target, *seen))
    today = datetime.now(UTC).date()
    since = date(today.year - (1 if today.month < 12 else 0), today.month % 12 + 1, 1)
    trends = []
    for indicator, title in TRENDS.items():
        points, _ = await _points(search, indexes, indicator, since, today, None, None, "month")
        trends.append(Trend(title, [(point.period.isoformat()[:7], point.value) for point in points]))
    expertise = await _expertise(search, indexes, "competences", None, None)
    totals: dict[str, int] = {}
    for row in expertise:
        totals[row.country] = totals.get(row.country, 0) + row.count
    countries = sorted(totals, key=lambda country: -totals[country])[:8]
    rows: dict[str, dict[str, int]] = {}
    for row in expertise:
        rows.setdefault(row.key, {})[row.country] = row.count
    top = sorted(rows, key=lambda key: -sum(rows[key].values()))[:10]
    return HTMLResponse(page(lines, trends, countries, [MapRow(key, rows[key]) for key in top]))
