"""The deploy files agree with the code: every service, its port, the variables it reads, its probes."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from deh_platform.settings import ServiceSettings
from deh_stack.config import SERVICE_NAMES, StackConfig

pytestmark = pytest.mark.unit

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVER_VARIABLES = {f"DEH_{name.upper()}" for name in ("kafka_bootstrap", "mongo_url", "opensearch_url")}


def test_compose_runs_every_service_with_the_server_addresses_it_reads() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    local_ports = StackConfig.from_env("local").ports

    for name in SERVICE_NAMES:
        service = compose["services"][name]
        assert service["build"]["args"]["SERVICE"] == name
        assert service["ports"] == [f"127.0.0.1:{local_ports[name]}:8000"]
        assert set(service["environment"]) >= SERVER_VARIABLES
    assert {"kafka", "mongo", "opensearch", "dashboards"} <= set(compose["services"])


def test_the_variables_deployments_set_are_ones_the_services_read() -> None:
    readable = {f"DEH_{field.upper()}" for field in ServiceSettings.model_fields}
    documents: list[dict[str, Any]] = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "services.yaml").read_text()))
    config = next(document for document in documents if document["kind"] == "ConfigMap")

    assert set(config["data"]) <= readable
    deployments = {document["metadata"]["name"]: document for document in documents if document["kind"] == "Deployment"}
    assert set(deployments) == {f"deh-{name}" for name in SERVICE_NAMES}
    for deployment in deployments.values():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_deployments_ask_mongodb_for_majority_journaled_writes() -> None:
    # What the local server gives by committing and syncing every write (decision 0002).
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    documents = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "services.yaml").read_text()))
    config = next(document for document in documents if document["kind"] == "ConfigMap")
    urls = [compose["services"][name]["environment"]["DEH_MONGO_URL"] for name in SERVICE_NAMES]
    urls.append(config["data"]["DEH_MONGO_URL"])

    for url in urls:
        options = parse_qs(urlsplit(url).query)
        assert (options["w"], options["journal"]) == (["majority"], ["true"]), url
