"""The whole hub as compose deploys it (issue 16), where no container registry is reachable:
every image built locally (the servers from the distributions the local stack assembles, the
services on a Python base bootstrapped from Debian's packages), the hub started by a Docker
engine of our own with deploy/compose.yaml and its host-network override, from the example env
file with every secret set. A member's journey then crosses all four services through the
containers; monitoring's numbers reconcile exactly with what was done (the hub starts empty).
Stopped, the hub and its engine leave no container, volume, network, mount or process."""

from __future__ import annotations

import functools
import ipaddress
import secrets
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hub_samples import event_draft, member_application, practice_metadata

from deh_contracts.registry import SERVICES
from deh_platform.auth import issue_token
from deh_platform.settings import ServiceSettings
from deh_stack.config import repo_root
from deh_stack.docker import PYTHON_BASE, Engine, engine, hub_images, missing, mounts_under
from deh_stack.stack import SERVERS
from deh_stack.testing import free_port
from deh_stack.tools import compose

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.skipif(bool(missing()), reason=f"needs {', '.join(missing())} (Debian: docker.io, mmdebstrap)"),
]

DEPLOY = repo_root() / "deploy"
VERSION = "0.1.0"
# The host-network override's ports (chosen free here, so that nothing else on the machine collides).
PORTS = (
    "DEH_KAFKA_PORT",
    "DEH_KAFKA_CONTROLLER_PORT",
    "DEH_MONGO_PORT",
    "DEH_OPENSEARCH_PORT",
    "DEH_OPENSEARCH_TRANSPORT_PORT",
    *(f"DEH_{service.upper()}_PORT" for service in SERVICES),
)


def hub_environment() -> dict[str, str]:
    """deploy/hub.env.example as an operator fills it: every empty value a new secret."""
    filled = {}
    for line in (DEPLOY / "hub.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            filled[name] = value or secrets.token_urlsafe(24)
    return {
        **filled,
        "DEH_PYTHON_BASE": PYTHON_BASE,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
        **{p: str(free_port()) for p in PORTS},
    }


class Hub:
    """The compose project of one test: its own name, env file and engine."""

    def __init__(self, docker: Engine, binary: Path, env_file: Path) -> None:
        self.docker, self.binary, self.env_file = docker, binary, env_file
        self.name = f"deh-test-{uuid.uuid4().hex[:8]}"

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        files = [f"--file={DEPLOY / name}" for name in ("compose.yaml", "compose.host.yaml")]
        command = [str(self.binary), f"--project-name={self.name}", *files, f"--env-file={self.env_file}", *args]
        # Only the env file fills the compose files: compose prefers the shell's variables, and
        # this process has the test session's (its own DEH_AUTH_SECRET among them).
        clean = {
            name: value for name, value in self.docker.environment.items() if name in ("PATH", "HOME", "DOCKER_HOST")
        }
        return subprocess.run(command, env=clean, capture_output=True, text=True, timeout=timeout, check=False)

    def run(self, *args: str) -> None:
        done = self.compose(*args)
        assert done.returncode == 0, f"compose {' '.join(args)}:\n{done.stdout}\n{done.stderr}"

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail=40").stdout


@pytest.fixture
def compose_binary() -> Path:
    binary = compose()
    if binary is None:
        pytest.skip("docker compose is built from its Go module: needs Go")
    return binary


def test_the_hub_started_with_compose_serves_a_members_journey_and_leaves_nothing_behind(
    compose_binary: Path, tmp_path: Path
) -> None:
    environment = hub_environment()
    env_file = tmp_path / "hub.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in environment.items()))
    with engine() as docker:  # a fresh one: no container or volume of an earlier run
        hub_images(docker, VERSION)
        hub = Hub(docker, compose_binary, env_file)
        try:
            hub.run("up", "--wait", "--no-build", "--wait-timeout=300")
            urls = {service: f"http://127.0.0.1:{environment[f'DEH_{service.upper()}_PORT']}" for service in SERVICES}
            journey(urls, environment["DEH_AUTH_SECRET"])
            assert_every_container_locked_down(docker, hub.name)
            ports = [int(environment[name]) for name in PORTS]
            assert {port: listening_on(port) for port in ports} == {port: {"127.0.0.1"} for port in ports}
        except Exception as failure:
            raise AssertionError(f"{failure}\n{hub.logs()}") from failure
        finally:
            stopped = hub.compose("down", "--volumes", "--timeout=30")  # reported below, never hiding a failure
        assert stopped.returncode == 0, stopped.stderr
        assert docker.docker("ps", "--all", "--quiet").split() == []
        assert docker.docker("volume", "ls", "--quiet").split() == []
        assert set(docker.docker("network", "ls", "--format={{.Name}}").split()) <= {"host", "none"}, (
            "no container network is ever made"
        )
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


def listening_on(port: int) -> set[str]:
    """The addresses a TCP socket listens on at `port` on this machine (/proc/net/tcp, tcp6;
    an IPv6 socket bound to 127.0.0.1, as Java's are, counts as 127.0.0.1)."""
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(str(_address(address)))
    return found


def _address(written: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """/proc/net/tcp writes an address as 32-bit words in the machine's (little-endian) order."""
    raw = bytes.fromhex(written)
    in_order = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(in_order)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def assert_every_container_locked_down(docker: Engine, project: str) -> None:
    containers = docker.docker("ps", "--quiet", f"--filter=label=com.docker.compose.project={project}").split()
    assert len(containers) == len(SERVERS) + len(SERVICES)
    template = "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.NetworkMode}} {{.HostConfig.CapDrop}}"
    for container in containers:
        assert docker.docker("inspect", f"--format={template}", container).split() == ["10001", "true", "host", "[ALL]"]


def journey(urls: dict[str, str], auth_secret: str) -> None:
    """Two people apply and are approved; one publishes a practice the other reviews, found by an
    inflected word; a moderator schedules an event, both register; monitoring counts it all."""
    settings = ServiceSettings(service_name="deploy-test", auth_secret=auth_secret)

    def caller(member_id: str, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(settings, member_id, list(roles) or ['member'])}"}

    staff = caller("staff-1", "admin", "moderator")
    author, reviewer = f"m-{uuid.uuid4().hex[:8]}", f"m-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=urls["membership"], timeout=10) as membership:
        for person in (author, reviewer):
            applied = membership.post("/members", json=member_application(person), headers=caller(person))
            assert applied.status_code == 201, applied.text
            assert membership.post(f"/members/{person}/approve", json={}, headers=staff).status_code == 200

    with httpx.Client(base_url=urls["practices"], timeout=10) as practices:
        # Practices learns of new members from membership's events on Kafka, a moment later.
        submitted = once_known(
            lambda: practices.post("/practices", json=practice(), headers=caller(author)), refused_with=403
        )
        practice_id = submitted["id"]
        once_known(
            lambda: practices.post(f"/practices/{practice_id}/reviewer", json={"reviewer_id": reviewer}, headers=staff),
            refused_with=422,
        )
        review = {"scores": dict.fromkeys(SCORED, 4), "decision": "publish"}
        reviewed = practices.post(
            f"/practices/{practice_id}/reviews", json=review, headers=caller(reviewer, "member", "reviewer")
        )
        assert reviewed.json()["status"] == "published", reviewed.text

        # "Schule" finds "Schulen" through OpenSearch's German analysis.

        def found() -> list[str]:
            hits = answer_of(practices.get("/search", params={"q": "Schule"}), "hits") or []
            return [hit["id"] for hit in hits]

        wait_for(lambda: found() == [practice_id], describe=found)

    with httpx.Client(base_url=urls["events"], timeout=10) as events:
        event = events.post("/events", json=event_draft(), headers=staff)
        assert event.status_code == 201, event.text
        event_id = event.json()["event_id"]
        for person in (author, reviewer):
            register = functools.partial(
                events.post, f"/events/{event_id}/registrations", json={}, headers=caller(person)
            )
            once_known(register, refused_with=409)

    with httpx.Client(base_url=urls["monitoring"], timeout=10) as monitoring:
        expected = {
            "members_applied": 2,
            "members_approved": 2,
            "practices_published": 1,
            "events_scheduled": 1,
            "registrations": 2,
        }

        def counted() -> dict[str, int | None]:
            series = {
                indicator: monitoring.get(f"/indicators/{indicator}/series", headers=staff) for indicator in expected
            }
            return {indicator: answer_of(response, "total") for indicator, response in series.items()}

        wait_for(lambda: counted() == expected, describe=counted)


SCORED = ("relevance", "transferability", "evidence_of_impact", "accessibility", "clarity")


def practice() -> dict[str, Any]:
    """A practice with a German title, whose words the German analysis inflects."""
    metadata = practice_metadata(
        title={"en": "Coding clubs in rural schools", "de": "Programmierclubs an ländlichen Schulen"},
        languages=["en", "de"],
        countries=["DE"],
    )
    return {"metadata": metadata, "body": "Step one: find a room.", "submit": True}


def once_known(request: Callable[[], httpx.Response], refused_with: int, within: float = 60) -> dict[str, Any]:
    """The request's answer once the service knows the member (it refuses with `refused_with` until then)."""
    deadline = time.monotonic() + within
    response = request()
    while response.status_code == refused_with and time.monotonic() < deadline:
        time.sleep(0.2)
        response = request()
    assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.text}"
    answer: dict[str, Any] = response.json()
    return answer


def answer_of(response: httpx.Response, field: str) -> Any:
    """A field of a 200 answer; None for any other (not yet: a server the service needs is away)."""
    return response.json()[field] if response.status_code == 200 else None


def wait_for(condition: Callable[[], bool], within: float = 60, describe: Callable[[], object] | None = None) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not so within {within} s: {describe() if describe else ''}")
        time.sleep(0.3)
