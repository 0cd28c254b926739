"""Where the stack lives and which ports it uses; every value can be overridden by environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from deh_contracts.registry import SERVICES
from deh_platform.access import ADMIN

KAFKA_VERSION = "4.1.1"
OPENSEARCH_VERSION = "2.19.6"
LUCENE_VERSION = "9.12.3"  # the Lucene inside OpenSearch 2.19.6: modules built on Lucene jars match it
MONGO_SERVER_VERSION = "1.47.0"

# Two profiles so that the test suite never collides with a hub a developer keeps running.
# All ports sit below Linux's ephemeral range (32768+), where outgoing connections could take them.
_PORT_BASES = {"local": 0, "test": 1000}
_DEFAULT_PORTS = {
    "kafka": 19092,
    "kafka_controller": 19093,
    "opensearch": 19200,
    "opensearch_transport": 19300,
    "mongo": 17017,
    "membership": 18101,
    "practices": 18102,
    "events": 18103,
    "monitoring": 18104,
}
SERVICE_NAMES = SERVICES


def repo_root() -> Path:
    """The workspace root (the folder holding uv.lock), or the current folder."""
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "uv.lock").exists():
            return folder
    return Path.cwd()


@dataclass(frozen=True)
class StackConfig:
    profile: str
    home: Path
    cache: Path
    host: str
    ports: dict[str, int]
    # Where clients reach the servers when that is not where they listen (a container listening
    # on 0.0.0.0 and reached by its name on a compose network).
    advertised_host: str = ""

    @classmethod
    def from_env(cls, profile: str = "local") -> StackConfig:
        if profile not in _PORT_BASES:
            raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(_PORT_BASES)}")
        root = repo_root() / ".stack"
        home = Path(os.environ.get("DEH_STACK_HOME", root / profile))
        # Assembled distributions are derived from the Maven cache and shared by profiles.
        cache = Path(os.environ.get("DEH_STACK_CACHE", root / "dist"))
        ports = {
            name: int(os.environ.get(f"DEH_{name.upper()}_PORT", port + _PORT_BASES[profile]))
            for name, port in _DEFAULT_PORTS.items()
        }
        host = os.environ.get("DEH_STACK_HOST", "127.0.0.1")
        advertised = os.environ.get("DEH_STACK_ADVERTISED_HOST", host)
        return cls(profile, home.resolve(), cache.resolve(), host, ports, advertised)

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.ports['kafka']}"

    @property
    def mongo_url(self) -> str:
        return f"mongodb://{self.host}:{self.ports['mongo']}"

    @property
    def opensearch_url(self) -> str:
        return f"http://{self.host}:{self.ports['opensearch']}"

    def service_url(self, name: str) -> str:
        return f"http://{self.host}:{self.ports[name]}"

    def server_env(self, kafka_user: str = ADMIN) -> dict[str, str]:
        """The variables through which services, operators and tests find the servers, as
        `kafka_user` on Kafka (the admin unless a service's), and the stack's token secret."""
        return {
            "DEH_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "DEH_KAFKA_USER": kafka_user,
            "DEH_KAFKA_PASSWORD": self.kafka_passwords()[kafka_user],
            "DEH_MONGO_URL": self.mongo_url,
            "DEH_OPENSEARCH_URL": self.opensearch_url,
            "DEH_AUTH_SECRET": self.auth_secret(),
        }

    def kafka_passwords(self) -> dict[str, str]:
        """The Kafka users of this stack and their passwords: the admin and one per service."""
        return {user: self._secret(f"kafka-{user}", 24) for user in (ADMIN, *SERVICE_NAMES)}

    def auth_secret(self) -> str:
        """The secret this stack's services check tokens with."""
        return self._secret("auth-secret", 48)

    def _secret(self, name: str, size: int) -> str:
        """A secret of this stack's: made once (`clean` removes it), readable only by its owner,
        never committed; letters, digits, '-' and '_'."""
        path = self.home / "secrets" / name
        if not path.exists() or not path.read_text().strip():
            path.parent.mkdir(parents=True, exist_ok=True)
            written = path.with_suffix(".new")
            written.unlink(missing_ok=True)
            written.touch(mode=0o600)
            written.write_text(secrets.token_urlsafe(size))
            written.replace(path)  # whole or not at all: a crash leaves no empty secret
        return path.read_text().strip()
