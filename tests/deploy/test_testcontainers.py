"""The test fixture's testcontainers path runs for real (issue 16): with a Docker engine of our
own and the server images made of the stack's distributions, integration tests of each server
(Kafka with its users and grants, MongoDB, OpenSearch) pass on servers that testcontainers
started, on the host's network, and removed after."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from deh_stack.config import repo_root
from deh_stack.docker import engine, missing, server_image
from deh_stack.stack import SERVERS
from deh_stack.testing import ADDRESS_VARIABLES, KAFKA_USER_VARIABLES

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.skipif(bool(missing()), reason=f"needs {', '.join(missing())} (Debian: docker.io, mmdebstrap)"),
]

# Tests that need all three servers, Kafka's SASL/SCRAM users among them.
ON_EVERY_SERVER = [
    "libs/platform/tests/integration/test_outbox.py",
    "libs/platform/tests/integration/test_search_index.py",
    "libs/platform/tests/integration/test_onboarding.py",
]


def test_integration_tests_pass_on_servers_from_testcontainers() -> None:
    with engine() as docker:
        images = {server_image(docker, name) for name in SERVERS}
        began = datetime.now(UTC).isoformat()
        given = (*ADDRESS_VARIABLES, *KAFKA_USER_VARIABLES)
        environment = {name: value for name, value in os.environ.items() if name not in given}
        environment.update(DOCKER_HOST=docker.environment["DOCKER_HOST"], DEH_TESTCONTAINERS="on")
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not deploy", *ON_EVERY_SERVER],
            cwd=repo_root(),
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
        assert re.search(r"\d+ passed", run.stdout)
        assert "skipped" not in run.stdout.splitlines()[-1], run.stdout.splitlines()[-1]
        created = docker.docker(
            "events",
            f"--since={began}",
            f"--until={datetime.now(UTC).isoformat()}",
            "--filter=type=container",
            "--filter=event=create",
            "--format={{.Actor.Attributes.image}}",
        ).split()
        assert sorted(created) == sorted(images), "the servers came from the engine, once each"
        assert docker.docker("ps", "--all", "--quiet").split() == [], "and were removed"
