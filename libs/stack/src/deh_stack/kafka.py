"""Apache Kafka in KRaft mode as one combined broker and controller node, from Maven jars."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import secrets
import ssl
import subprocess
import uuid
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from deh_platform.access import ADMIN
from deh_platform.settings import SCRAM, sasl_options
from deh_stack import maven, resources
from deh_stack.config import KAFKA_VERSION, StackConfig
from deh_stack.errors import StackError
from deh_stack.server import Server
from deh_stack.tools import java, java_home

# Written beside the data of a node formatted with SCRAM users: a node made before has none.
SECURED_MARK = "formatted-with-scram-users"
CONSOLE_LOG = """appender.console.type = Console
appender.console.name = CONSOLE
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.appenderRef.console.ref = CONSOLE
"""
_SAFE = re.compile(r"[A-Za-z0-9_-]{1,200}")


class KafkaServer(Server):
    """With `users` (name to password), clients must authenticate with SASL/SCRAM-SHA-512 and
    may do only what ACLs allow them (StandardAuthorizer; nothing without an ACL); `admin` is the
    super user that brokers, topic provisioning and ACL grants use. Without, PLAINTEXT. With
    `tls` too, over TLS (SASL_SSL, as a deployment connects) with a certificate of its own for
    127.0.0.1, which clients trust through `ca_file`."""

    name = "kafka"
    port_names = ("kafka", "kafka_controller")
    startup_timeout = 90.0

    def __init__(
        self, config: StackConfig, *, users: dict[str, str] | None = None, tls: bool = False, console_log: bool = False
    ) -> None:
        super().__init__(config)
        self.console_log = console_log  # its log on standard output too (a container's log)
        if tls and users is None:
            raise ValueError("TLS goes with SASL users here (SASL_SSL)")
        self.tls = tls
        if users is not None and ADMIN not in users:
            raise ValueError(f"a secured Kafka needs the {ADMIN!r} user")
        # Names and passwords go into a JAAS line and a storage tool argument: no quotes or brackets.
        if users is not None and not all(_SAFE.fullmatch(text) for pair in users.items() for text in pair):
            raise ValueError("Kafka user names and passwords are letters, digits, '-' and '_'")
        self.users = users

    def client_settings(self, user: str = ADMIN) -> dict[str, Any]:
        """What an aiokafka client passes to connect as `user` (nothing on a PLAINTEXT node)."""
        if self.users is None:
            return {}
        return sasl_options(
            user, self.users[user], ssl.create_default_context(cafile=self.ca_file) if self.tls else None
        )

    @property
    def ca_file(self) -> Path:
        """The node's certificate (PEM), which its clients trust (with `tls`)."""
        return self.folder / "tls" / "ca.pem"

    @property
    def address(self) -> str:
        return self.config.kafka_bootstrap

    @property
    def dist(self) -> Path:
        return self.config.cache / f"kafka-{KAFKA_VERSION}"

    def install(self) -> None:
        pom = maven.pom_from_template("kafka-pom.xml", KAFKA_VERSION=KAFKA_VERSION)
        maven.copy_dependencies(pom, self.dist)

    def prepare(self) -> None:
        super().prepare()
        properties = self.folder / "server.properties"
        properties.touch(mode=0o600)  # it holds the admin's password when secured
        properties.chmod(0o600)
        properties.write_text(self._properties())
        if self.tls and not self.ca_file.exists():
            self._make_certificate()
        log_config = self.folder / "log4j2.properties"
        log_config.write_text(resources.text("kafka-log4j2.properties") + (CONSOLE_LOG if self.console_log else ""))
        if not (self.data_dir / "meta.properties").exists():
            self._format_storage()
        elif self.users is not None and not (self.folder / SECURED_MARK).exists():
            raise StackError(
                f"The Kafka data under {self.data_dir} was made before Kafka had users (SASL/SCRAM): "
                "it has none to authenticate. Delete this stack's data with 'make clean' (or "
                "'deh-stack --profile PROFILE clean') and start again."
            )

    def _properties(self) -> str:
        host, ports = self.config.host, self.config.ports
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{host}:{ports['kafka_controller']}",
            "listeners": f"PLAINTEXT://{host}:{ports['kafka']},CONTROLLER://{host}:{ports['kafka_controller']}",
            "advertised.listeners": f"PLAINTEXT://{self.config.advertised_host or host}:{ports['kafka']}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "3",
            # One node: every internal topic has a single replica.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Topics come from the contract registry, never from a typo in a producer.
            "auto.create.topics.enable": "false",
            "group.initial.rebalance.delay.ms": "0",
            # The log cleaner looks for compactable segments every second (15 s by default), so
            # that an erasure's tombstone removes a member's data from a compacted topic soon.
            "log.cleaner.backoff.ms": "1000",
        }
        if self.users is not None:
            settings.update(self._secured(settings))
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _secured(self, plain: dict[str, str]) -> dict[str, str]:
        """The listener for clients and brokers speaks SASL/SCRAM; the controller's listener
        stays PLAINTEXT, bound to 127.0.0.1 whatever the stack's host, which makes its callers
        (this node itself, or anyone on this machine) ANONYMOUS: a super user like admin. Right
        for one local node; a cluster's controllers authenticate too (decision 0017)."""
        protocol = "SASL_SSL" if self.tls else "SASL_PLAINTEXT"
        port = self.config.ports["kafka"]
        client_listener = f"{protocol}://{self.config.host}:{port}"
        advertised = f"{protocol}://{self.config.advertised_host or self.config.host}:{port}"
        controller = f"127.0.0.1:{self.config.ports['kafka_controller']}"
        login = f'username="{ADMIN}" password="{self.users[ADMIN]}";' if self.users else ""
        # The node is its own client too (the brokers' listener): it trusts its own certificate.
        keystore = {
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(self._keystore),
            "ssl.keystore.password": self._keystore_password(),
            "ssl.truststore.type": "PKCS12",
            "ssl.truststore.location": str(self._truststore),
            "ssl.truststore.password": self._keystore_password(),
        }
        return {
            "listeners": f"{client_listener},CONTROLLER://{controller}",
            "controller.quorum.voters": f"1@{controller}",
            "advertised.listeners": advertised,
            "inter.broker.listener.name": protocol,
            "listener.security.protocol.map": f"{protocol}:{protocol},CONTROLLER:PLAINTEXT",
            "sasl.enabled.mechanisms": SCRAM,
            "sasl.mechanism.inter.broker.protocol": SCRAM,
            f"listener.name.{protocol.lower()}.scram-sha-512.sasl.jaas.config": (
                f"org.apache.kafka.common.security.scram.ScramLoginModule required {login}"
            ),
            **(keystore if self.tls else {}),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{ADMIN};User:ANONYMOUS",
            "allow.everyone.if.no.acl.found": "false",
        }

    @property
    def _keystore(self) -> Path:
        return self.folder / "tls" / "server.p12"

    @property
    def _truststore(self) -> Path:
        return self.folder / "tls" / "trust.p12"

    def _keystore_password(self) -> str:
        secret = self.folder / "tls" / "keystore-password"
        if not secret.exists():
            secret.parent.mkdir(parents=True, exist_ok=True)
            secret.touch(mode=0o600)
            secret.write_text(secrets.token_hex(16))
        return secret.read_text()

    def _make_certificate(self) -> None:
        """A key and a self-signed certificate for 127.0.0.1 (the JDK's keytool), valid a year."""
        password = self._keystore_password()
        self._keystore.unlink(missing_ok=True)
        self._truststore.unlink(missing_ok=True)
        keytool = str(java_home() / "bin" / "keytool")
        store = ["-keystore", str(self._keystore), "-storepass", password]
        make = ["-genkeypair", "-alias", "kafka", "-keyalg", "RSA", "-keysize", "2048", "-validity", "365"]
        subject = ["-dname", "CN=127.0.0.1", "-ext", "SAN=IP:127.0.0.1,DNS:localhost", "-storetype", "PKCS12"]
        export = ["-exportcert", "-rfc", "-alias", "kafka", "-file", str(self.ca_file)]
        trust = ["-importcert", "-noprompt", "-alias", "kafka", "-file", str(self.ca_file), "-storetype", "PKCS12"]
        trusted = ["-keystore", str(self._truststore), "-storepass", password]
        for command in ([*make, *subject, *store], [*export, *store], [*trust, *trusted]):
            result = subprocess.run([keytool, *command], capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise StackError(f"keytool failed:\n{result.stdout}{result.stderr}")

    def _format_storage(self) -> None:
        result = subprocess.run(
            [
                *self._java_command(),
                "kafka.tools.StorageTool",
                "format",
                "-t",
                new_cluster_id(),
                "-c",
                str(self.folder / "server.properties"),
                # SCRAM credentials are metadata: written with the cluster's first records.
                *(
                    option
                    for user, password in (self.users or {}).items()
                    for option in ("--add-scram", f"{SCRAM}=[name={user},password={password}]")
                ),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"Formatting Kafka storage failed:\n{result.stdout}{result.stderr}")
        if self.users is not None:
            (self.folder / SECURED_MARK).touch()

    def _java_command(self) -> list[str]:
        return [
            java(),
            "-Xms512m",
            "-Xmx1g",
            f"-Dlog4j2.configurationFile={self.folder / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.logs_dir}",
            "-cp",
            f"{self.dist / 'lib'}/*",
        ]

    def command(self) -> tuple[list[str], dict[str, str]]:
        return [*self._java_command(), "kafka.Kafka", str(self.folder / "server.properties")], {}

    def is_ready(self) -> bool:
        return asyncio.run(_kafka_answers(self.address, self.client_settings()))


def new_cluster_id() -> str:
    """A random cluster id as Kafka writes them (URL-safe base64 of 16 bytes, unpadded).

    Like Kafka's own `Uuid.randomUuid`, never one that starts with `-`: the storage tool would
    read it as an option (one id in 64 would).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


async def _kafka_answers(bootstrap: str, client_settings: dict[str, str]) -> bool:
    # While the broker boots every poll fails; the client's error logs would only be noise.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000, **client_settings)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:  # any failure means "not ready yet"; the caller keeps polling
        return False
    finally:
        await admin.close()
