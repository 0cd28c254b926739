"""A MongoDB wire-protocol server: mongo-java-server with its persistent H2 backend."""

from __future__ import annotations

from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from deh_stack import maven, resources
from deh_stack.config import MONGO_SERVER_VERSION, StackConfig
from deh_stack.server import Server
from deh_stack.tools import java


class MongoServer(Server):
    """With `durable` (the default) every acknowledged write is committed and synced to the
    data file before the reply; without, H2 commits about once a second (only for measuring
    what durability costs: bench/messaging.py)."""

    name = "mongo"
    port_names = ("mongo",)
    startup_timeout = 60.0

    def __init__(self, config: StackConfig, *, durable: bool = True) -> None:
        super().__init__(config)
        self.durable = durable

    @property
    def address(self) -> str:
        return self.config.mongo_url

    @property
    def dist(self) -> Path:
        return self.config.cache / f"mongo-java-server-{MONGO_SERVER_VERSION}"

    def install(self) -> None:
        pom = maven.pom_from_template("mongo-pom.xml", MONGO_SERVER_VERSION=MONGO_SERVER_VERSION)
        maven.copy_dependencies(pom, self.dist)

    def prepare(self) -> None:
        super().prepare()
        (self.folder / "MongoLauncher.java").write_text(resources.text("MongoLauncher.java"))

    def command(self) -> tuple[list[str], dict[str, str]]:
        return [
            java(),
            "-Xmx1g",
            "-cp",
            f"{self.dist / 'lib'}/*",
            str(self.folder / "MongoLauncher.java"),
            self.config.host,
            str(self.config.ports["mongo"]),
            str(self.data_dir / "hub.mv"),
            "durable" if self.durable else "background",
        ], {}

    def is_ready(self) -> bool:
        client: MongoClient[dict[str, object]] = MongoClient(self.address, serverSelectionTimeoutMS=1000)
        try:
            client.admin.command("ping")
            return True
        except PyMongoError:
            return False
        finally:
            client.close()
