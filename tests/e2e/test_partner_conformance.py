"""The conformance kit, run by the example partner in Java (`partners/example-java`), written from
the partner guide alone: as an onboarded partner with its own Kafka user, it sends every case of
`docs/conformance/cases.json` to the practices and monitoring services and gets, for each, the
outcome the kit says."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
from hub_testing import isolated_settings, onboarded, running

from deh_monitoring.app import create_app as create_monitoring
from deh_monitoring.settings import MonitoringSettings
from deh_practices.app import create_app as create_practices
from deh_practices.settings import PracticesSettings
from deh_stack.config import StackConfig
from deh_stack.kafka import KafkaServer
from deh_stack.testing import ServerAddresses
from deh_stack.tools import java

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PARTNER = ROOT / "partners" / "example-java" / "ConformancePartner.java"
KIT = ROOT / "docs" / "conformance" / "cases.json"
RUN_LIMIT = 300  # seconds: compiling the example, sending, and up to 120 s for the outcomes


def kafka_client_jars() -> Path:
    """The Kafka client and Jackson, from the Kafka the stack fetches (Maven Central)."""
    kafka = KafkaServer(StackConfig.from_env("test"))
    if not (kafka.dist / "lib").exists():
        kafka.install()
    return kafka.dist / "lib"


async def test_the_java_example_partner_gets_every_outcome_the_kit_says(servers: ServerAddresses) -> None:
    partner = await onboarded(servers)
    practices = create_practices(isolated_settings(PracticesSettings, servers))
    monitoring = create_monitoring(isolated_settings(MonitoringSettings, servers, index_prefix="{isolated}"))
    environment = {
        "DEH_PARTNER_BOOTSTRAP": servers.kafka_bootstrap,
        "DEH_PARTNER_NAME": partner.name,
        "DEH_PARTNER_PASSWORD": partner.password,
        "DEH_PARTNER_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "PATH": "/usr/bin:/bin",
    }
    command = [java(), "-cp", f"{kafka_client_jars()}/*", str(PARTNER), str(KIT)]
    async with running(practices), running(monitoring):
        finished = await asyncio.to_thread(
            subprocess.run, command, env=environment, capture_output=True, text=True, timeout=RUN_LIMIT, check=False
        )
    report = finished.stdout + finished.stderr
    assert finished.returncode == 0, report
    cases = json.loads(KIT.read_text())["cases"]
    messages = {case["headers"]["ce_id"] for case in cases}
    assert f"{len(messages)} of {len(messages)} messages got the outcomes the kit says" in report
    assert report.count("PASS") == len(messages)
