"""The stack explains bad configuration instead of hanging (a missing JDK, a port in use) and
formats its servers safely."""

from __future__ import annotations

import base64
import dataclasses
import socket
from pathlib import Path

import pytest

from deh_stack import tools
from deh_stack.config import StackConfig
from deh_stack.errors import StackError
from deh_stack.kafka import KafkaServer, new_cluster_id
from deh_stack.mongo import MongoServer
from deh_stack.stack import container_server

pytestmark = pytest.mark.unit


def test_a_missing_jdk_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    tools.java_home.cache_clear()
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr("deh_stack.tools.shutil.which", lambda name: None)

    with pytest.raises(StackError, match="openjdk-17-jdk-headless"):
        tools.java_home()
    tools.java_home.cache_clear()


def test_a_port_in_use_names_the_port_and_the_variable(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        shared = StackConfig.from_env("test")
        config = dataclasses.replace(shared, home=tmp_path, ports={**shared.ports, "mongo": port})

        with pytest.raises(StackError, match=f"Port {port} \\(mongo\\).*DEH_MONGO_PORT"):
            MongoServer(config).launch()


def test_profiles_never_share_a_port() -> None:
    local, test = StackConfig.from_env("local").ports, StackConfig.from_env("test").ports

    assert not set(local.values()) & set(test.values())
    assert all(port < 32768 for port in [*local.values(), *test.values()]), "below the ephemeral range"


def test_kafka_cluster_ids_never_read_as_an_option() -> None:
    # One random id in 64 would begin with "-" if drawn naively; 10,000 draws would hit it.
    ids = [new_cluster_id() for _ in range(10_000)]

    assert not [cluster_id for cluster_id in ids if cluster_id.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(cluster_id + "==")) == 16 for cluster_id in ids)
    assert len(set(ids)) == len(ids)


def test_kafka_in_a_container_listens_everywhere_and_is_reached_by_its_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As compose's production form runs it: on 0.0.0.0, its clients told to come to "kafka".
    monkeypatch.setenv("DEH_STACK_HOST", "0.0.0.0")
    monkeypatch.setenv("DEH_STACK_ADVERTISED_HOST", "kafka")
    monkeypatch.setenv("DEH_KAFKA_ADMIN_PASSWORD", "admin-password")
    config = dataclasses.replace(StackConfig.from_env(), home=tmp_path)
    kafka = container_server(config, "kafka")
    assert isinstance(kafka, KafkaServer)
    properties = dict(line.split("=", 1) for line in kafka._properties().splitlines())
    port = config.ports["kafka"]
    assert properties["listeners"].startswith(f"SASL_PLAINTEXT://0.0.0.0:{port},CONTROLLER://127.0.0.1:")
    assert properties["advertised.listeners"] == f"SASL_PLAINTEXT://kafka:{port}"
    assert properties["super.users"] == "User:admin;User:ANONYMOUS"
