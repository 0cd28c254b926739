"""The overview page in a real headless browser (Debian's Chromium, fetched by the stack): the
monitoring service in its own process, as deployed, shows progress towards a target, the
month's activity and the knowledge map."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from domain_stream import day_of_activity, records
from hub_testing import onboarded, produce

from deh_contracts import new_event, to_kafka
from deh_contracts.catalogue.inbound import ObservationSubmitted
from deh_contracts.catalogue.monitoring import ObservationValue
from deh_stack.browser import HeadlessChromium
from deh_stack.config import StackConfig
from deh_stack.testing import ServerAddresses, ServiceProcess, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser() -> HeadlessChromium:
    why_not = HeadlessChromium.available()
    if why_not:
        pytest.skip(why_not)
    chromium = HeadlessChromium.for_stack(StackConfig.from_env("test"))
    chromium.ensure()
    return chromium


async def test_the_overview_page_shows_the_action_plan_in_a_real_browser(
    browser: HeadlessChromium, servers: ServerAddresses, tmp_path: Path
) -> None:
    prefix = f"monitoring-page-{uuid.uuid4().hex[:8]}"
    settings = {"INDEX_PREFIX": prefix, "CONSUMER_GROUP": prefix, "LOG_LEVEL": "WARNING"}
    service = ServiceProcess(
        "monitoring", {**servers.environment("monitoring"), **{f"DEH_MONITORING_{k}": v for k, v in settings.items()}}
    )
    now = datetime.now(UTC)
    observation = ObservationValue(
        indicator="employed_ict_specialists",
        target="ict_specialists",
        period_start=now - timedelta(days=365),
        period_end=now,
        value=10.3,
        unit="million persons",
        source="Eurostat isoc_sks_itspt",
    )
    submitted = ObservationSubmitted(partner="eurostat-importer", external_id=prefix, observation=observation)
    await onboarded(servers, "eurostat-importer")  # the partner's topics, for the observation
    await produce(
        servers, *records(day_of_activity(now.date(), 4)), to_kafka(new_event(submitted, source="/partners/x"))
    )
    await service.start()
    try:
        async with httpx.AsyncClient(base_url=service.url) as client:

            async def observed() -> bool:  # the observation recorded, and the day's activity projected
                page = (await client.get("/overview")).text
                return "latest 10.3 million persons" in page and '<table class="knowledge-map">' in page

            await eventually(observed, within=120, interval=0.5)
        shown = browser.dump_dom(f"{service.url}/overview")
        screenshot = browser.screenshot(f"{service.url}/overview", tmp_path / "overview.png")
    finally:
        service.stop()
        async with httpx.AsyncClient(base_url=servers.opensearch_url) as search:
            await search.delete(f"/{prefix}-*")

    assert "<h1>Digital Education Action Plan: overview</h1>" in shown
    assert shown.count('<figure class="target"') == 3
    assert "20 million employed ICT specialists" in shown
    assert "latest 10.3 million persons" in shown
    assert "progress 13%" in shown  # (10.3 - 8.9) / (20 - 8.9)
    assert shown.count('<figure class="trend"') == 4
    assert '<table class="knowledge-map">' in shown
    assert shown.count("<tr>") >= 2  # competences by country (over everything on the shared topics)
    assert screenshot.stat().st_size > 10_000  # the browser drew the page
