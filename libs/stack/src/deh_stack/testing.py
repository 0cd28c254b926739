"""Real servers for a test session: given by environment, started by testcontainers where a
Docker engine has the servers' images (or DEH_TESTCONTAINERS=on), or else started here from the
package registries (and stopped after)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import secrets
import shutil
import socket
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from deh_platform.access import ADMIN
from deh_platform.settings import sasl_options
from deh_stack.config import SERVICE_NAMES, StackConfig
from deh_stack.errors import StackError
from deh_stack.kafka import KafkaServer
from deh_stack.server import Server
from deh_stack.services import uvicorn_command
from deh_stack.stack import SERVERS, Stack, provision_services

T = TypeVar("T")

ADDRESS_VARIABLES = ("DEH_KAFKA_BOOTSTRAP", "DEH_MONGO_URL", "DEH_OPENSEARCH_URL")
# With servers given by environment, the Kafka user that tests and services connect as (if any).
KAFKA_USER_VARIABLES = ("DEH_KAFKA_USER", "DEH_KAFKA_PASSWORD")
# Ports for private servers and services in their own process: above the stack's profiles
# (17017 to 21300), below the kernel's ephemeral ports.
PRIVATE_PORTS_FROM, PRIVATE_PORTS_UPTO = 22000, 32000


@dataclass(frozen=True)
class ServerAddresses:
    kafka_bootstrap: str
    mongo_url: str
    opensearch_url: str
    origin: str
    # Kafka's users and their passwords: the admin (the first), then each service's own. None
    # for a broker without authentication.
    kafka_users: dict[str, str] | None = dataclasses.field(default=None, repr=False)

    def kafka_user(self, service: str | None = None) -> tuple[str, str] | None:
        """The user a service connects as (its own if the servers have one for it, or else the
        admin); the admin for tests themselves."""
        if not self.kafka_users:
            return None
        user = service if service in self.kafka_users else next(iter(self.kafka_users))
        return user, self.kafka_users[user]

    def kafka_options(self, service: str | None = None) -> dict[str, Any]:
        """What an aiokafka client passes to connect (as the admin, or as `service`)."""
        found = self.kafka_user(service)
        return {"bootstrap_servers": self.kafka_bootstrap, **(sasl_options(*found) if found else {})}

    def kafka_fields(self, service: str | None = None) -> dict[str, str]:
        """The Kafka fields of a service's settings (ServiceSettings): the brokers and its user."""
        found = self.kafka_user(service)
        user = {} if found is None else {"kafka_user": found[0], "kafka_password": found[1]}
        return {"kafka_bootstrap": self.kafka_bootstrap, **user}

    def environment(self, service: str | None = None) -> dict[str, str]:
        """The DEH_* variables that point a service (as its own Kafka user) at these servers."""
        addresses = dict(
            zip(ADDRESS_VARIABLES, (self.kafka_bootstrap, self.mongo_url, self.opensearch_url), strict=True)
        )
        found = self.kafka_user(service)
        return {**addresses, **(dict(zip(KAFKA_USER_VARIABLES, found, strict=True)) if found else {})}


@contextmanager
def provide_servers() -> Iterator[ServerAddresses]:
    given = [os.environ.get(name) for name in ADDRESS_VARIABLES]
    if all(given):
        kafka, mongo, search = (value or "" for value in given)
        user, password = (os.environ.get(name) for name in KAFKA_USER_VARIABLES)
        users = {user: password or ""} if user else None
        yield ServerAddresses(kafka, mongo, search, origin="environment", kafka_users=users)
    elif testcontainers_wanted():
        with _testcontainers() as addresses:
            yield addresses
    else:
        with _local_stack() as addresses:
            yield addresses


def testcontainers_wanted() -> bool:
    """DEH_TESTCONTAINERS=on or off; by default (auto) only where a Docker engine answers on this
    machine's socket and already has the server images of the code as it is (`deh-stack
    images`): an engine alone never changes where the tests take their servers from."""
    wanted = os.environ.get("DEH_TESTCONTAINERS", "auto")
    if wanted != "auto":
        return wanted == "on"
    if not docker_engine_answers():
        return False
    from deh_stack.docker import Engine, server_images_ready

    try:
        return server_images_ready(Engine.of_environment())
    except StackError:
        return False


def docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@contextmanager
def _local_stack() -> Iterator[ServerAddresses]:
    stack = Stack(StackConfig.from_env("test"))
    # A test stack that someone keeps running (deh-stack --profile test up) is reused as it is;
    # otherwise each session starts from empty data and stops everything at the end.
    reuse = all(server.running() for server in stack.servers)
    if not reuse:
        stack.clean()
    stack.up(with_services=False)
    try:
        config = stack.config
        yield ServerAddresses(
            config.kafka_bootstrap,
            config.mongo_url,
            config.opensearch_url,
            origin="local stack",
            kafka_users=config.kafka_passwords(),
        )
    finally:
        if not reuse:
            stack.down()


@contextmanager
def _testcontainers() -> Iterator[ServerAddresses]:
    """The servers as containers of the images made of the stack's own distributions (built on
    the engine first if it lacks them: deh_stack.docker), on the host's network at free ports of
    127.0.0.1, Kafka with SASL/SCRAM and each service's user; removed at the end, with their data."""
    from testcontainers.core.config import testcontainers_config
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import HealthcheckWaitStrategy

    from deh_stack.docker import Engine, server_image

    # Ryuk, testcontainers' reaper, is an image from a registry: the containers are removed here.
    testcontainers_config.ryuk_disabled = True
    shared = StackConfig.from_env("test")
    config = dataclasses.replace(shared, ports={name: free_port() for name in shared.ports}, advertised_host="")
    passwords = {user: secrets.token_urlsafe(24) for user in (ADMIN, *SERVICE_NAMES)}
    settings = {
        "DEH_STACK_HOST": config.host,
        "DEH_KAFKA_ADMIN_PASSWORD": passwords[ADMIN],
        **{f"DEH_{name.upper()}_PORT": str(port) for name, port in config.ports.items()},
    }
    engine = Engine.of_environment()
    with ExitStack() as containers:
        started = [
            containers.enter_context(
                DockerContainer(server_image(engine, name, build_if_missing=True))
                .with_envs(**settings)
                .with_tmpfs_mount("/tmp")
                .with_kwargs(network_mode="host", read_only=True)
            )
            for name in SERVERS
        ]
        for container in started:  # started together, their JVMs warm up together
            HealthcheckWaitStrategy().with_startup_timeout(300).wait_until_ready(container)
        kafka = KafkaServer(config, users={ADMIN: passwords[ADMIN]})
        asyncio.run(provision_services(kafka, passwords))
        yield ServerAddresses(
            config.kafka_bootstrap, config.mongo_url, config.opensearch_url, "testcontainers", kafka_users=passwords
        )


ServerT = TypeVar("ServerT", bound=Server)


@contextmanager
def private_server(kind: Callable[[StackConfig], ServerT], home: Path) -> Iterator[ServerT]:
    """A server of a test's own (data under `home`, free ports), for tests that kill, restart or
    change it without disturbing the shared one. Stopped at the end."""
    shared = StackConfig.from_env("test")
    server = kind(dataclasses.replace(shared, home=home, ports={name: free_port() for name in shared.ports}))
    server.launch()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


async def restarted(server: Server) -> None:
    """Start a stopped or killed server again and wait until it answers."""
    server.launch()
    await asyncio.to_thread(server.wait_ready)


def free_port() -> int:
    """A free port between the stack's profiles and the kernel's ephemeral range: a port from that
    range can be taken by any outgoing connection in the moment a killed server restarts on it."""
    low, _ = _ephemeral_range()
    for _ in range(200):
        port = random.randint(PRIVATE_PORTS_FROM, min(PRIVATE_PORTS_UPTO, low - 1))
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found below the ephemeral range")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


async def eventually(probe: Callable[[], Awaitable[T | None]], *, within: float = 30.0, interval: float = 0.1) -> T:
    """Poll an async probe until it returns a truthy value (asynchronous effects take a moment)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s (last value: {result!r})")
        await asyncio.sleep(interval)


@dataclass
class ServiceProcess:
    """A hub service run as deployed, uvicorn in its own process on 127.0.0.1, with its
    settings as DEH_* variables: for tests that kill it (SIGKILL) and benchmarks that measure it."""

    service: str  # its name, e.g. "events"
    environment: dict[str, str]
    port: int = dataclasses.field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        argv = uvicorn_command(self.service, "127.0.0.1", self.port)
        self.process = subprocess.Popen(  # noqa: ASYNC220 (started once; readiness is awaited below)
            argv, env={**os.environ, **self.environment}, stdout=subprocess.DEVNULL
        )

        async def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.service} exited with {self.process.returncode} while starting")
            try:
                async with httpx.AsyncClient(base_url=self.url) as client:
                    return (await client.get("/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(ready, within=180, interval=0.2)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, as when a machine dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait()

    def peak_memory_mib(self) -> float:
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(kib) / 1024
