"""A service's image, built where no container registry is reachable (issue 16): on a Python
base bootstrapped from Debian's packages, by a Docker engine of our own with no networking of
its own; run as deployments run it (not root, read-only root filesystem, no capabilities, the
host's network) against the real servers, it becomes healthy on the port it is told. The
engine leaves nothing behind: no container, no mount, no daemon."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from deh_stack.docker import engine, missing, mounts_under, service_image
from deh_stack.testing import ServerAddresses, free_port

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.skipif(bool(missing()), reason=f"needs {', '.join(missing())} (Debian: docker.io, mmdebstrap)"),
]


def test_a_service_image_built_without_a_registry_runs_locked_down_and_becomes_healthy(
    servers: ServerAddresses, unique_name: str
) -> None:
    port = free_port()
    settings = {
        "MONGO_DATABASE": unique_name[:60],
        "CONSUMER_GROUP": f"membership-{unique_name}",
        "SEARCH_ALIAS": unique_name,
        "LOG_LEVEL": "WARNING",
    }
    environment = {
        **servers.environment("membership"),
        **{f"DEH_MEMBERSHIP_{name}": value for name, value in settings.items()},
        "DEH_AUTH_SECRET": os.environ["DEH_AUTH_SECRET"],
        "DEH_HTTP_PORT": str(port),
    }
    with engine() as docker:
        image = service_image(docker, "membership", "test")
        assert docker.docker("image", "inspect", "--format={{.Config.User}}", image).strip() == "10001"
        container = docker.docker(
            "run",
            "--detach",
            "--network=host",
            "--read-only",
            "--tmpfs=/tmp",
            "--cap-drop=ALL",
            "--security-opt=no-new-privileges",
            *(f"--env={name}={value}" for name, value in environment.items()),
            image,
        ).strip()

        def health() -> str:
            return docker.docker("inspect", "--format={{.State.Health.Status}}", container).strip()

        deadline = time.monotonic() + 120
        while health() != "healthy" and time.monotonic() < deadline:
            assert docker.docker("inspect", "--format={{.State.Running}}", container).strip() == "true", docker.docker(
                "logs", container
            )
            time.sleep(1)
        assert health() == "healthy", docker.docker("logs", container)
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).json()
        assert ready["status"] == "ready", ready
    assert mounts_under(docker.exec_root, docker.data_root) == [], "the engine's mounts go with it"
    assert processes_naming(docker.exec_root) == [], "the engine and what it ran are gone"


def processes_naming(path: Path) -> list[str]:
    """The command lines of running processes that name `path` (dockerd and its containerd do)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # it ended meanwhile
        if str(path) in command:
            found.append(command)
    return found
