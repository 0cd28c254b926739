"""Images without a container registry (issue 16): a Docker engine of our own, started with no
networking of its own (containers use the host's, and talk to servers on 127.0.0.1), bases
bootstrapped from Debian's packages, the services' images and the servers' (Kafka,
mongo-java-server, OpenSearch made of the stack's own distributions, decision 0022).

The engine is Debian's `docker.io`, started as `dockerd` with its own data root, exec root and
socket, and stopped by its PID with everything it ran; the bases come from `mmdebstrap` (a
minimal Debian with Python 3.11, and a JDK 17 for the servers) and take the machine's CA
bundle, so that builds reach the package registries the machine reaches, through the same TLS
inspection if there is one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from deh_stack.config import SERVICE_NAMES, StackConfig, repo_root
from deh_stack.errors import StackError
from deh_stack.stack import SERVERS, container_server

PYTHON_BASE = "deh-python:3.11-bookworm"
SERVER_BASE = "deh-python-jdk:3.11-17-bookworm"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
REQUIRED = ("dockerd", "docker", "mmdebstrap")
# On a server image: a digest of what it was made of (the launcher's code, the lock, the
# Dockerfile, the distribution's name), so that an image of older code is built again.
SOURCE_LABEL = "eu.deh.source"


def missing() -> list[str]:
    """What this machine lacks to build and run images (root is needed to run an engine)."""
    lacking = [tool for tool in REQUIRED if shutil.which(tool) is None]
    if os.geteuid() != 0:
        lacking.append("root")
    return lacking


@dataclass(frozen=True)
class Engine:
    socket: Path
    data_root: Path

    @classmethod
    def of_environment(cls) -> Engine:
        """The engine DOCKER_HOST names (the default socket without it), e.g. one started by
        `engine()` in another process."""
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        if not host.startswith("unix://"):
            raise StackError(f"DOCKER_HOST={host}: only an engine on this machine's unix socket builds images here")
        found = cls(Path(host.removeprefix("unix://")), Path())
        return cls(found.socket, Path(found.docker("info", "--format={{.DockerRootDir}}", timeout=30).strip()))

    @property
    def exec_root(self) -> Path:
        return self.socket.parent / "exec"

    @property
    def environment(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": f"unix://{self.socket}"}

    def docker(self, *args: str, timeout: float = 900, capture: bool = True) -> str:
        """Run the docker CLI against this engine; its output (raises on failure, with it)."""
        done = subprocess.run(
            ["docker", *args], env=self.environment, capture_output=capture, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args[:3])} failed: {done.stderr or done.stdout}")
        return done.stdout or ""


@contextmanager
def engine() -> Iterator[Engine]:
    """A Docker engine for the length of the block: its images kept under .stack/docker (so that
    the next run builds less), its containers removed and the daemon stopped at the end."""
    data = repo_root() / ".stack" / "docker"
    data.mkdir(parents=True, exist_ok=True)
    # The exec root holds unix sockets, whose paths must stay short.
    with tempfile.TemporaryDirectory(prefix="deh-docker-", dir="/tmp") as run:
        socket = Path(run) / "docker.sock"
        with (data / "dockerd.log").open("ab") as log:
            daemon = subprocess.Popen(
                [
                    "dockerd",
                    "--bridge=none",
                    "--iptables=false",
                    "--ip-forward=false",
                    "--ip-masq=false",
                    f"--data-root={data / 'root'}",
                    f"--exec-root={Path(run) / 'exec'}",
                    f"--pidfile={run}/dockerd.pid",
                    f"--host=unix://{socket}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started = Engine(socket, data / "root")
        try:
            _wait_for(started, daemon)
            _remove_leftovers(started)  # of a run whose engine was killed
            yield started
        finally:
            _stop(started, daemon)


def _wait_for(engine: Engine, daemon: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise RuntimeError(f"dockerd exited with {daemon.returncode} (see .stack/docker/dockerd.log)")
        try:
            engine.docker("info", timeout=10)
            return
        except (RuntimeError, subprocess.TimeoutExpired):
            time.sleep(0.5)
    raise RuntimeError("dockerd did not answer within 60 s (see .stack/docker/dockerd.log)")


def _remove_leftovers(engine: Engine) -> None:
    """Every container and volume, and the images a rebuild left untagged: the engine is the
    tests' own, and only its tagged images (the next run's build cache) are worth keeping."""
    if containers := engine.docker("ps", "-aq", timeout=30).split():
        engine.docker("rm", "-f", "-v", *containers, timeout=120)
    engine.docker("volume", "prune", "-f", timeout=120)
    engine.docker("image", "prune", "-f", timeout=300)


def _stop(engine: Engine, daemon: subprocess.Popen[bytes]) -> None:
    """Every container it ran goes, with its volumes, then the daemon itself (SIGTERM, then SIGKILL)."""
    # If it fails, the daemon is going anyway, and its containers' processes with it.
    with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
        _remove_leftovers(engine)
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(timeout=60)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()
    # dockerd 20.10 leaves its network namespace's mount behind when it stops.
    for mount in reversed(mounts_under(engine.exec_root, engine.data_root)):
        subprocess.run(["umount", "--lazy", mount], check=False, capture_output=True)


def mounts_under(*roots: Path) -> list[str]:
    """The mount points below these folders, in the order they were mounted."""
    points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    return [point for point in points if any(point.startswith(f"{root}/") for root in roots)]


def python_base(engine: Engine) -> str:
    """The services' base: Python 3.11, bootstrapped from Debian's packages once per engine data."""
    return debian_base(engine, PYTHON_BASE, ("python3", "python3-pip", "ca-certificates"))


def server_base(engine: Engine) -> str:
    """The servers' base: Python 3.11 (their launcher is the stack's own) and a JDK 17 (Kafka,
    OpenSearch and mongo-java-server run on it; the Mongo launcher is compiled at start)."""
    return debian_base(engine, SERVER_BASE, ("python3", "python3-pip", "ca-certificates", "openjdk-17-jdk-headless"))


def debian_base(engine: Engine, image: str, packages: tuple[str, ...]) -> str:
    """A minimal Debian bookworm with these packages and the machine's CA bundle, imported once."""
    if engine.docker("images", "-q", image, timeout=30).strip():
        return image
    with tempfile.TemporaryDirectory() as work:
        rootfs = Path(work) / "rootfs.tar"
        subprocess.run(
            [
                "mmdebstrap",
                "--variant=minbase",
                f"--include={','.join(packages)}",
                f"--customize-hook=copy-in {CA_BUNDLE} {CA_BUNDLE.parent}/",
                "bookworm",
                str(rootfs),
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
        engine.docker(
            "import",
            "--change",
            f"ENV SSL_CERT_FILE={CA_BUNDLE}",
            "--change",
            "ENV LANG=C.UTF-8",
            str(rootfs),
            image,
        )
    return image


def service_image(engine: Engine, service: str, tag: str) -> str:
    """A service's image from deploy/Dockerfile on the bootstrapped base, built on the host's network."""
    image = f"deh-{service}:{tag}"
    base = python_base(engine)
    engine.docker(
        "build",
        "--network=host",
        f"--build-arg=BASE={base}",
        f"--build-arg=SERVICE={service}",
        f"--file={repo_root() / 'deploy' / 'Dockerfile'}",
        f"--tag={image}",
        str(repo_root()),
    )
    return image


def server_image_name(name: str) -> str:
    """The server's image as compose names it: deh-kafka:4.1.1 (the version of its distribution)."""
    return f"deh-{name}:{distribution(name).rsplit('-', 1)[1]}"


def distribution(name: str) -> str:
    """The folder of .stack/dist that a server's image is made of (kafka-4.1.1)."""
    return container_server(StackConfig.from_env(), name).dist.name


def server_image(engine: Engine, name: str, *, build_if_missing: bool = False) -> str:
    """A server's image (kafka, mongo, opensearch) from deploy/server.Dockerfile: the
    distribution the local stack assembles (fetched once into its cache), on the servers' base.
    Built again (mostly from the engine's cache) unless `build_if_missing` and the engine has it."""
    server = container_server(StackConfig.from_env(), name)
    image = server_image_name(name)
    source = _source_digest(server.dist.name)
    if build_if_missing and _label(engine, image, SOURCE_LABEL) == source:
        return image
    server.install()
    context = repo_root()
    if not server.dist.is_relative_to(context / ".stack" / "dist"):
        raise StackError(f"{server.dist} is outside {context}/.stack/dist, which the image is built from")
    engine.docker(
        "build",
        "--network=host",
        f"--build-arg=BASE={server_base(engine)}",
        f"--build-arg=SERVER={name}",
        f"--build-arg=DIST={server.dist.name}",
        f"--label={SOURCE_LABEL}={source}",
        f"--file={context / 'deploy' / 'server.Dockerfile'}",
        f"--tag={image}",
        str(context),
    )
    return image


def hub_images(engine: Engine, version: str) -> list[str]:
    """Every image deploy/compose.yaml runs where no registry is reachable: the servers' and the
    services' (tagged `version`)."""
    return [
        *(server_image(engine, name) for name in SERVERS),
        *(service_image(engine, service, version) for service in SERVICE_NAMES),
    ]


def server_images_ready(engine: Engine) -> bool:
    """Whether the engine has every server image, made of the code as it is now."""
    return all(
        _label(engine, server_image_name(name), SOURCE_LABEL) == _source_digest(distribution(name)) for name in SERVERS
    )


def _label(engine: Engine, image: str, label: str) -> str | None:
    try:
        found = engine.docker("image", "inspect", f"--format={{{{index .Config.Labels {json.dumps(label)}}}}}", image)
    except RuntimeError:
        return None  # no such image
    return found.strip() or None


def _source_digest(dist: str) -> str:
    root = repo_root()
    files = sorted(
        [
            *root.glob("libs/*/src/**/*.py"),
            *root.glob("libs/*/src/**/resources/*"),
            *root.glob("libs/*/pyproject.toml"),
            root / "uv.lock",
            root / "deploy" / "server.Dockerfile",
        ]
    )
    digest = hashlib.sha256(dist.encode())
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
