"""The platform's messaging guarantees, on the real Kafka and MongoDB servers: a redelivered
event has one effect, a malformed message is dead-lettered while the next one is processed, and
one trace spans HTTP, producer and consumer (the outbox relay: test_outbox.py)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from counters_service import CountersService, CounterStream
from hub_testing import produce, published_events, records_on
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from deh_contracts import new_event, to_kafka
from deh_contracts.envelope import KafkaRecord
from deh_contracts.registry import DEAD_LETTERS
from deh_stack.testing import ServerAddresses, eventually

pytestmark = pytest.mark.integration


async def test_a_redelivered_event_has_one_effect(
    servers: ServerAddresses, counters: CountersService, counter_stream: CounterStream
) -> None:
    counter = f"c-{uuid.uuid4().hex[:8]}"
    twice = to_kafka(new_event(CounterStream.increment(counter, 5), source="/deh/test"))
    later = to_kafka(new_event(CounterStream.increment(counter, 100), source="/deh/test"))

    await produce(servers, twice, twice, later)

    # Same key, same partition: once the later event counts, the duplicate was handled too.
    assert await eventually(lambda: _total_reaches(counters, counter, 100)) == 105


async def test_a_tombstone_leaves_through_the_outbox_and_its_readers_forget_the_key(
    servers: ServerAddresses, counters: CountersService, counter_stream: CounterStream
) -> None:
    counter = f"c-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=counters.app), base_url="http://counters") as client:
        await client.post(f"/counters/{counter}/increment", json={"by": 7})
        assert await eventually(lambda: _total_reaches(counters, counter, 7)) == 7
        assert (await client.delete(f"/counters/{counter}")).status_code == 202

    async def forgotten() -> bool:
        return await counters.runtime.db.totals.find_one({"_id": counter}) is None

    await eventually(forgotten)
    mine = [record for record in await records_on(servers, counter_stream.topic.name) if record[0] == counter.encode()]
    assert mine[-1][1] is None, "the last record of the key is a tombstone: compaction removes the rest"
    assert len(mine) == 2


async def _total_reaches(service: CountersService, counter: str, minimum: int) -> int:
    total = await service.total(counter)
    return total if total >= minimum else 0


async def test_a_malformed_message_is_dead_lettered_and_the_next_one_is_processed(
    servers: ServerAddresses, counters: CountersService, counter_stream: CounterStream
) -> None:
    counter = f"c-{uuid.uuid4().hex[:8]}"
    good = to_kafka(new_event(CounterStream.increment(counter, 7), source="/deh/test"))
    malformed = KafkaRecord(good.topic, good.key, b'{"counter_id": 42}', good.headers)
    not_json = KafkaRecord(good.topic, good.key, b"\xff\xfe garbage", good.headers)

    await produce(servers, malformed, not_json, good)

    assert await eventually(lambda: _total_reaches(counters, counter, 7)) == 7
    topic = DEAD_LETTERS.of_service(counters.runtime.name)
    letters = [event.data for event in await published_events(servers, topic, [counter], at_least=2)]
    mine = [
        letter
        for letter in letters
        if letter["origin_topic"] == counter_stream.topic.name and letter["origin_key"] == counter
    ]
    assert len(mine) == 2
    first, second = sorted(mine, key=lambda letter: letter["origin_offset"])
    assert first["error_type"] == "ContractError"
    assert "data.counter_id: Input should be a valid string" in first["reason"]
    assert "data.by: Field required" in first["reason"]
    assert first["origin_value"] == '{"counter_id": 42}'
    assert first["origin_headers"]["ce_type"] == "eu.deh.test.counter.incremented.v1"
    assert first["consumer_group"] == counters.runtime.name
    assert second["origin_value_encoding"] == "base64"
    assert second["origin_offset"] == first["origin_offset"] + 1
    assert await counters.ready()


async def test_one_trace_spans_the_http_request_the_producer_and_the_consumer(
    counters: CountersService, span_exporter: InMemorySpanExporter
) -> None:
    counter = f"c-{uuid.uuid4().hex[:8]}"
    span_exporter.clear()
    transport = httpx.ASGITransport(app=counters.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://counters") as client:
        response = await client.post(f"/counters/{counter}/increment", json={"by": 3})
    assert response.status_code == 202
    await eventually(lambda: _total_reaches(counters, counter, 3))

    spans = span_exporter.get_finished_spans()
    request = next(span for span in spans if span.kind == SpanKind.SERVER and "/counters/" in span.name)
    publish = next(
        span
        for span in spans
        if span.kind == SpanKind.PRODUCER
        and (span.attributes or {}).get("messaging.message.id") == response.json()["event_id"]
    )
    consume = next(
        span
        for span in spans
        if span.kind == SpanKind.CONSUMER and span.parent is not None and span.parent.span_id == publish.context.span_id
    )
    assert request.context.trace_id == publish.context.trace_id == consume.context.trace_id
    assert publish.parent is not None
    assert any(
        span.context.span_id == publish.parent.span_id
        for span in spans
        if span.context.trace_id == request.context.trace_id
    )
    database_writes = [
        span for span in spans if span.context.trace_id == request.context.trace_id and span.kind == SpanKind.CLIENT
    ]
    assert database_writes, "the MongoDB update inside the request is part of the trace"


async def test_readiness_reports_a_consumer_whose_loop_stopped(counters: CountersService) -> None:
    transport = httpx.ASGITransport(app=counters.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://counters") as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"][f"consumer {counters.runtime.name}"] == "ok"

        # What aiokafka does after some broker restarts: the consumer stops and nothing says so.
        kafka = counters.runtime.consumers[0]._kafka
        assert kafka is not None
        await kafka.stop()

        not_ready = await eventually(lambda: _status_is(client, 503))
        assert not_ready.json()["checks"][f"consumer {counters.runtime.name}"] != "ok"


async def _status_is(client: httpx.AsyncClient, status: int) -> httpx.Response | None:
    response = await client.get("/readyz")
    return response if response.status_code == status else None


def data_points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


async def test_metrics_count_messages_and_report_lag_and_outbox_backlog(
    counters: CountersService, metric_reader: InMemoryMetricReader
) -> None:
    counter = f"c-{uuid.uuid4().hex[:8]}"
    transport = httpx.ASGITransport(app=counters.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://counters") as client:
        for by in (1, 2):
            assert (await client.post(f"/counters/{counter}/increment", json={"by": by})).status_code == 202
    await eventually(lambda: _total_reaches(counters, counter, 3))

    group = counters.runtime.name
    consumed = [
        point for point in data_points(metric_reader, "deh.messages.consumed") if point.attributes["group"] == group
    ]
    assert sum(point.value for point in consumed) >= 2
    assert sum(point.value for point in data_points(metric_reader, "deh.outbox.published")) >= 2
    lags = [point for point in data_points(metric_reader, "deh.consumer.lag") if point.attributes["group"] == group]
    assert lags, "a lag reading per partition the consumer has read"
    assert all(point.value >= 0 for point in lags)
    backlog = [
        point
        for point in data_points(metric_reader, "deh.outbox.backlog")
        if point.attributes["collections"] == "counters"
    ]
    assert backlog
