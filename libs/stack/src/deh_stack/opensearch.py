"""OpenSearch 2.19 assembled from Maven Central: the integ-test distribution plus the modules
the hub needs (language analyzers, painless, extra field types), with Polish via hunspell."""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from deh_stack import maven, resources
from deh_stack.config import OPENSEARCH_VERSION
from deh_stack.errors import StackError
from deh_stack.server import Server
from deh_stack.tools import java_home


@dataclass(frozen=True)
class Module:
    """A module whose jar is on Maven Central without its plugin descriptor."""

    name: str
    artifact: str
    classname: str
    description: str
    extends: str = ""
    security_policy: str = ""


MODULES = (
    Module(
        "lang-painless",
        "lang-painless",
        "org.opensearch.painless.PainlessPlugin",
        "Painless scripting",
        security_policy="painless-security.policy",
    ),
    Module(
        "analysis-common",
        "analysis-common",
        "org.opensearch.analysis.common.CommonAnalysisPlugin",
        "Language analyzers and common token filters",
        extends="lang-painless",
    ),
    Module(
        "mapper-extras", "mapper-extras-client", "org.opensearch.index.mapper.MapperExtrasPlugin", "Extra field types"
    ),
)

# Debian's hunspell-pl dictionary: the Polish stemmer where analysis-stempel cannot be had.
HUNSPELL_DICTIONARIES = {"pl_PL": Path("/usr/share/hunspell")}

_JAR_NAME = re.compile(r"^(?P<artifact>.+?)-\d[^-]*(?:-[^-]+)*\.jar$")


def _artifact_of(jar: Path) -> str:
    match = _JAR_NAME.match(jar.name)
    return match.group("artifact") if match else jar.stem


class OpenSearchServer(Server):
    name = "opensearch"
    port_names = ("opensearch", "opensearch_transport")
    startup_timeout = 180.0

    @property
    def address(self) -> str:
        return self.config.opensearch_url

    @property
    def dist(self) -> Path:
        return self.config.cache / f"opensearch-{OPENSEARCH_VERSION}"

    @property
    def config_dir(self) -> Path:
        return self.folder / "config"

    def install(self) -> None:
        marker = self.dist / ".assembled"
        if marker.exists():
            return
        downloads = self.config.cache / "downloads"
        pom = maven.single_artifact_pom(
            "org.opensearch.distribution.integ-test-zip", "opensearch", OPENSEARCH_VERSION, "zip"
        )
        archive = (
            maven.copy_dependencies(pom, downloads / "opensearch-zip", transitive=False)
            / f"opensearch-{OPENSEARCH_VERSION}.zip"
        )
        shutil.rmtree(self.dist, ignore_errors=True)
        _unzip(archive, self.config.cache)
        for module in MODULES:
            self._add_module(module, downloads)
        marker.touch()

    def _add_module(self, module: Module, downloads: Path) -> None:
        pom = maven.pom_from_template(
            "opensearch-pom.xml", MODULE=module.name, ARTIFACT=module.artifact, OPENSEARCH_VERSION=OPENSEARCH_VERSION
        )
        jars = maven.copy_dependencies(pom, downloads / f"module-{module.name}")
        # The server already has its core jars and an extended module's jars; a second copy is jar hell.
        present = {_artifact_of(jar) for jar in (self.dist / "lib").glob("*.jar")}
        if module.extends:
            present |= {_artifact_of(jar) for jar in (self.dist / "modules" / module.extends).glob("*.jar")}
        target = self.dist / "modules" / module.name
        target.mkdir(parents=True, exist_ok=True)
        for jar in jars.glob("*.jar"):
            if _artifact_of(jar) not in present:
                shutil.copy2(jar, target / jar.name)
        (target / "plugin-descriptor.properties").write_text(
            f"description={module.description}\nversion={OPENSEARCH_VERSION}\nname={module.name}\n"
            f"classname={module.classname}\njava.version=11\nopensearch.version={OPENSEARCH_VERSION}\n"
            f"extended.plugins={module.extends}\nhas.native.controller=false\n"
        )
        if module.security_policy:
            (target / "plugin-security.policy").write_text(resources.text(module.security_policy))

    def prepare(self) -> None:
        super().prepare()
        shutil.copytree(self.dist / "config", self.config_dir, dirs_exist_ok=True)
        (self.config_dir / "opensearch.yml").write_text(self._settings())
        for language, folder in HUNSPELL_DICTIONARIES.items():
            if not (folder / f"{language}.dic").exists():
                print(f"warning: no {language} hunspell dictionary in {folder} (Debian: apt-get install hunspell-pl)")
                continue
            target = self.config_dir / "hunspell" / language
            target.mkdir(parents=True, exist_ok=True)
            for suffix in ("aff", "dic"):
                shutil.copyfile(folder / f"{language}.{suffix}", target / f"{language}.{suffix}")

    def _settings(self) -> str:
        settings = {
            "cluster.name": f"deh-{self.config.profile}",
            "node.name": "deh-node-1",
            "network.host": self.config.host,
            "http.port": self.config.ports["opensearch"],
            "transport.port": self.config.ports["opensearch_transport"],
            "discovery.type": "single-node",
            "path.data": str(self.data_dir),
            "path.logs": str(self.logs_dir),
            # A nearly full shared disk must not turn indexes read-only under the tests.
            "cluster.routing.allocation.disk.threshold_enabled": "false",
            "action.auto_create_index": "false",
        }
        return "".join(f"{key}: {value}\n" for key, value in settings.items())

    def command(self) -> tuple[list[str], dict[str, str]]:
        argv = [str(self.dist / "bin" / "opensearch")]
        env = {
            "JAVA_HOME": str(java_home()),
            "OPENSEARCH_JAVA_HOME": str(java_home()),
            "OPENSEARCH_PATH_CONF": str(self.config_dir),
            "OPENSEARCH_JAVA_OPTS": os.environ.get("DEH_OPENSEARCH_JAVA_OPTS", "-Xms1g -Xmx1g"),
        }
        return _as_unprivileged(argv), env

    def is_ready(self) -> bool:
        try:
            response = httpx.get(
                f"{self.address}/_cluster/health", params={"wait_for_status": "yellow", "timeout": "1s"}, timeout=3
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("status") in {"yellow", "green"}


def _as_unprivileged(argv: list[str]) -> list[str]:
    """OpenSearch refuses to run as root; as root, run it in a user namespace as uid 1000.

    Inside the namespace the files root owns appear as the process's own, so no chown is needed.
    """
    if os.geteuid() != 0:
        return argv
    unshare = shutil.which("unshare")
    if unshare is None:
        raise StackError(
            "OpenSearch cannot run as root and 'unshare' (util-linux) is missing: "
            "install util-linux or run as a normal user."
        )
    return [unshare, "--user", "--map-user=1000", "--map-group=1000", "--", *argv]


def _unzip(archive: Path, target: Path) -> None:
    """Unzip keeping the executable bits that the start scripts need."""
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.infolist():
            path = Path(bundle.extract(member, target))
            mode = member.external_attr >> 16
            if mode:
                path.chmod(mode & 0o777)
