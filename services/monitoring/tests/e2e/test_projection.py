"""Every domain event is projected into the activity index and counted in its indicator cells,
exactly once however often it is read; a poison event is set aside and the rest are indexed."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from domain_stream import SECTORS, a_day_of_its_own, day_of_activity, records
from hub_testing import ServiceUnderTest, dead_letters, events_on, produce

from deh_contracts import Contract, new_event, to_kafka
from deh_contracts.catalogue.community import ConsultationAnswered, PostWritten, ThreadStarted
from deh_contracts.registry import MEMBERSHIP
from deh_monitoring.adapters.rebuild import rebuild
from deh_monitoring.admin import delete_old_versions
from deh_monitoring.settings import MonitoringSettings
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.e2e
PEOPLE = 40


async def series_total(monitoring: ServiceUnderTest, indicator: str, day: str, **filters: str) -> int:
    response = await monitoring.client.get(
        f"/indicators/{indicator}/series", params={"from": day, "to": day, **filters}
    )
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


async def cell(monitoring: ServiceUnderTest, key: str) -> dict[str, Any]:
    response = await monitoring.client.get(f"/indicators/cells/{key}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_a_day_of_activity_is_counted_exactly_and_a_replay_counts_nothing_twice(
    monitoring: ServiceUnderTest, servers: ServerAddresses
) -> None:
    day = a_day_of_its_own()
    stream = day_of_activity(day, PEOPLE, seed=1)
    await produce(servers, *records(stream))

    expected = Counter(
        (e.type.split(".")[-3] + "." + e.type.split(".")[-2], getattr(e.data, "country", None)) for e in stream
    )
    approved_in_lv = expected[("member.approved", "LV")]

    async def all_projected() -> bool:
        return await series_total(monitoring, "members_approved", day.isoformat()) == PEOPLE

    await eventually(all_projected, within=60, interval=0.5)
    assert await series_total(monitoring, "members_applied", day.isoformat()) == PEOPLE
    assert await series_total(monitoring, "members_approved", day.isoformat(), country="LV") == approved_in_lv
    assert await series_total(monitoring, "practices_published", day.isoformat()) == PEOPLE // 2
    attended = sum(1 for n in range(PEOPLE) if n % 4 != 0)
    assert await series_total(monitoring, "attendances", day.isoformat()) == attended
    assert await series_total(monitoring, "no_shows", day.isoformat()) == PEOPLE - attended

    # The same events again (a redelivery, a replay): nothing counts twice.
    await produce(servers, *records(stream))
    marker = day_of_activity(day, 1, seed=2)  # read after the replay, in one of its partitions
    await produce(servers, *records(marker))

    async def marker_projected() -> bool:
        return await series_total(monitoring, "members_applied", day.isoformat()) == PEOPLE + 1

    await eventually(marker_projected, within=60, interval=0.5)
    assert await series_total(monitoring, "members_approved", day.isoformat()) == PEOPLE + 1

    # Every indicator cell says which events made it, and where they are on Kafka.
    lv_cells = [f"members_approved|{day}|LV|{sector}" for sector in SECTORS]

    async def stored_as_counted() -> list[dict[str, Any]] | None:
        found = [await cell(monitoring, key) for key in lv_cells]
        return found if all(c["stored"] == (c["value"] or None) for c in found) else None

    explained = await eventually(stored_as_counted, within=30, interval=0.3)
    marker_in_lv = getattr(marker[2].data, "country", None) == "LV"
    assert sum(found["value"] for found in explained) == approved_in_lv + marker_in_lv
    on_kafka = {
        (published.headers["ce_id"])
        for published in await events_on(servers, MEMBERSHIP)
        if published.type.endswith("approved.v1")
    }
    for found in explained:
        assert found["value"] == len(found["sources"])
        assert all(source["event_id"] in on_kafka and source["topic"] == MEMBERSHIP.name for source in found["sources"])


async def test_the_activity_index_holds_no_id_of_a_person(
    monitoring: ServiceUnderTest, servers: ServerAddresses
) -> None:
    day = a_day_of_its_own()
    stream = day_of_activity(day, 3, seed=3)
    await produce(servers, *records(stream))
    people = {e.data.member_id for e in stream if hasattr(e.data, "member_id")}

    async def projected() -> bool:
        return await series_total(monitoring, "members_approved", day.isoformat()) == 3

    await eventually(projected, within=60, interval=0.5)
    search = monitoring.runtime.search
    assert search is not None
    found = await search.search(
        index=monitoring.app.state.indexes.activity.alias,
        body={"size": 100, "query": {"term": {"day": day.isoformat()}}},
    )
    stored = str([hit["_source"] for hit in found["hits"]["hits"]])
    assert len(found["hits"]["hits"]) == len(stream)
    assert not any(person in stored for person in people)


async def test_a_poison_event_is_dead_lettered_and_the_rest_are_projected(
    monitoring: ServiceUnderTest, servers: ServerAddresses
) -> None:
    day = a_day_of_its_own()
    stream = day_of_activity(day, 5, seed=4)
    good = records(stream)
    approved = next(record for record in good if b"approved" in dict(record.headers)["ce_type"])
    poison = type(approved)(approved.topic, approved.key, b'{"member_id": 17}', approved.headers)
    await produce(servers, poison, *good)

    async def projected() -> bool:
        return await series_total(monitoring, "members_applied", day.isoformat()) == 5

    await eventually(projected, within=60, interval=0.5)
    # The poison shares its id with a good event: the good one is counted, once.
    assert await series_total(monitoring, "members_approved", day.isoformat()) == 5
    poison_id = dict(poison.headers)["ce_id"].decode()

    async def dead_lettered() -> bool:
        return any(
            letter.data.get("origin_headers", {}).get("ce_id") == poison_id or poison_id in str(letter.data)
            for letter in await dead_letters(servers)
        )

    await eventually(dead_lettered, within=30, interval=0.5)


async def test_a_rebuild_from_kafka_while_events_arrive_keeps_every_number_and_never_shows_one_go_down(
    monitoring: ServiceUnderTest, servers: ServerAddresses
) -> None:
    day = a_day_of_its_own().isoformat()
    await produce(servers, *records(day_of_activity(date.fromisoformat(day), 12, seed=6)))

    async def projected() -> bool:
        return await series_total(monitoring, "members_approved", day) == 12

    await eventually(projected, within=60, interval=0.5)
    settings = monitoring.runtime.settings
    assert isinstance(settings, MonitoringSettings)
    search = monitoring.runtime.search
    assert search is not None
    readings: list[int] = []
    progress: list[tuple[int, int]] = []

    async def keep_reading(stop: asyncio.Event) -> None:
        while not stop.is_set():
            readings.append(await series_total(monitoring, "members_approved", day))
            await asyncio.sleep(0.05)

    expected = 12
    for round_ in range(2):
        stop = asyncio.Event()
        reader = asyncio.create_task(keep_reading(stop))
        building = asyncio.create_task(rebuild(settings, lambda done, total: progress.append((done, total))))
        # More of the day's activity arrives while the rebuild runs (the live service projects it).
        more = day_of_activity(date.fromisoformat(day), 3, seed=7 + round_)
        await produce(servers, *records(more))
        expected += 3
        moves = await building

        async def all_there(wanted: int = expected) -> bool:
            return await series_total(monitoring, "members_approved", day) == wanted

        await eventually(all_there, within=60, interval=0.2)
        stop.set()
        await reader
        for alias, (_, new) in moves.items():
            assert list(await search.indices.get_alias(name=alias)) == [new]
    assert readings == sorted(readings), "readers never saw a number go down, old version or new"
    assert readings[-1] == expected
    assert progress[-1][0] == progress[-1][1] > 0
    # The operator deletes the versions no alias points at; the numbers stay.
    assert "deleted: " in await delete_old_versions(settings)
    live = {alias: new for alias, (_, new) in moves.items()}
    for alias, version in live.items():
        assert list(await search.indices.get(index=f"{alias}-v*")) == [version]
    assert await series_total(monitoring, "members_approved", day) == expected


async def test_participation_in_conversations_and_consultations_is_counted_by_language_and_space(
    monitoring: ServiceUnderTest, servers: ServerAddresses
) -> None:
    day = a_day_of_its_own()
    at = datetime.combine(day, time(10), tzinfo=UTC)
    thread_id, consultation_id = f"thread-{uuid.uuid4().hex[:8]}", f"consultation-{uuid.uuid4().hex[:8]}"
    events: list[Contract] = [
        ThreadStarted(
            thread_id=thread_id, space="squad", squad_id="s-1", language="lv", started_by="person:a", started_at=at
        ),
        *(
            PostWritten(
                thread_id=thread_id,
                post_id=f"p-{n}",
                space="squad",
                language=language,
                author="person:a",
                written_at=at,
            )
            for n, language in enumerate(["lv", "lv", "de"])
        ),
        ConsultationAnswered(consultation_id=consultation_id, first_answer=True, answered_at=at),
        ConsultationAnswered(consultation_id=consultation_id, first_answer=False, answered_at=at),  # changed
    ]
    await produce(servers, *(to_kafka(new_event(data, source="/deh/membership", time=at)) for data in events))

    async def counted() -> bool:
        return await series_total(monitoring, "posts_written", day.isoformat()) == 3

    await eventually(counted, within=60, interval=0.5)
    assert await series_total(monitoring, "threads_started", day.isoformat()) == 1
    assert await series_total(monitoring, "consultation_answers", day.isoformat()) == 1, (
        "a changed answer is no new one"
    )
    found = await monitoring.runtime.search.search(  # type: ignore[union-attr]
        index=f"{monitoring.runtime.settings.index_prefix}-activity",  # type: ignore[attr-defined]
        body={
            "query": {"term": {"short_type": "community.post.written"}},
            "aggs": {"by": {"terms": {"field": "languages"}}},
        },
    )
    languages = {bucket["key"]: bucket["doc_count"] for bucket in found["aggregations"]["by"]["buckets"]}
    assert languages.get("lv", 0) >= 2
    assert languages.get("de", 0) >= 1
