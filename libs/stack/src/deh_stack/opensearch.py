"""OpenSearch 2.19 assembled from Maven Central: the integ-test distribution plus the modules
the hub needs (language analyzers, Polish, painless, extra field types)."""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from deh_stack import maven, resources
from deh_stack.config import LUCENE_VERSION, OPENSEARCH_VERSION, StackConfig
from deh_stack.errors import StackError
from deh_stack.server import Server
from deh_stack.tools import java_home, run_jdk_tool


@dataclass(frozen=True)
class Module:
    """A module assembled from Maven Central jars, with the plugin descriptor they lack.

    With `plugin_source`, the plugin class itself is ours: a Java file among the resources,
    compiled against the node's jars at install time.
    """

    name: str
    artifacts: tuple[str, ...]
    classname: str
    description: str
    group: str = "org.opensearch.plugin"
    version: str = OPENSEARCH_VERSION
    extends: str = ""
    security_policy: str = ""
    plugin_source: str = ""


MODULES = (
    Module(
        "lang-painless",
        ("lang-painless",),
        "org.opensearch.painless.PainlessPlugin",
        "Painless scripting",
        security_policy="painless-security.policy",
    ),
    Module(
        "analysis-common",
        ("analysis-common",),
        "org.opensearch.analysis.common.CommonAnalysisPlugin",
        "Language analyzers and common token filters",
        extends="lang-painless",
    ),
    Module(
        "mapper-extras",
        ("mapper-extras-client",),
        "org.opensearch.index.mapper.MapperExtrasPlugin",
        "Extra field types",
    ),
    # OpenSearch's analysis-stempel plugin is not on Maven Central for 2.x; Lucene's Polish
    # stemmers are: Stempel (what that plugin wraps) and Morfologik (a dictionary lemmatizer).
    Module(
        "analysis-polish",
        ("lucene-analysis-stempel", "lucene-analysis-morfologik"),
        "eu.deh.opensearch.PolishAnalysisPlugin",
        "Polish analysis: Lucene's Stempel and Morfologik stemmers",
        group="org.apache.lucene",
        version=LUCENE_VERSION,
        plugin_source="PolishAnalysisPlugin.java",
    ),
)

_JAR_NAME = re.compile(r"^(?P<artifact>.+?)-\d[^-]*(?:-[^-]+)*\.jar$")


def _artifact_of(jar: Path) -> str:
    match = _JAR_NAME.match(jar.name)
    return match.group("artifact") if match else jar.stem


class OpenSearchServer(Server):
    """`leave_out` names modules this node runs without (to test how the hub copes when a
    production node lacks a plugin): such a node runs from a copy of the distribution."""

    name = "opensearch"
    port_names = ("opensearch", "opensearch_transport")
    startup_timeout = 180.0

    def __init__(self, config: StackConfig, *, leave_out: tuple[str, ...] = ()) -> None:
        super().__init__(config)
        self.leave_out = leave_out

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
        # The marker names the modules assembled, so a cache from an older module list is redone.
        marker = self.dist / ".assembled"
        wanted = "".join(f"{module}\n" for module in MODULES)
        if marker.exists() and marker.read_text() == wanted:
            return
        downloads = self.config.cache / "downloads"
        pom = maven.artifacts_pom(
            "org.opensearch.distribution.integ-test-zip", ["opensearch"], OPENSEARCH_VERSION, "zip"
        )
        archive = (
            maven.copy_dependencies(pom, downloads / "opensearch-zip", transitive=False)
            / f"opensearch-{OPENSEARCH_VERSION}.zip"
        )
        shutil.rmtree(self.dist, ignore_errors=True)
        _unzip(archive, self.config.cache)
        for module in MODULES:
            self._add_module(module, downloads)
        marker.write_text(wanted)

    def _add_module(self, module: Module, downloads: Path) -> None:
        pom = maven.artifacts_pom(module.group, module.artifacts, module.version)
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
        if module.plugin_source:
            self._compile_plugin(module.plugin_source, target)

    def _compile_plugin(self, source: str, target: Path) -> None:
        """Compile a plugin class of ours against the node's jars into a jar in the module folder."""
        build = self.config.cache / "downloads" / f"build-{target.name}"
        shutil.rmtree(build, ignore_errors=True)
        (build / "classes").mkdir(parents=True)
        (build / source).write_text(resources.text(source))
        classpath = f"{self.dist / 'lib'}/*:{target}/*"
        run_jdk_tool("javac", "--release", "11", "-cp", classpath, "-d", str(build / "classes"), str(build / source))
        run_jdk_tool(
            "jar", "--create", "--file", str(target / f"{target.name}-plugin.jar"), "-C", str(build / "classes"), "."
        )
        shutil.rmtree(build)

    @property
    def home(self) -> Path:
        """The distribution this node runs from."""
        if not self.leave_out:
            return self.dist
        return self.dist.with_name(f"{self.dist.name}-without-{'-'.join(sorted(self.leave_out))}")

    def _assemble_home(self) -> None:
        if self.home == self.dist or self.home.exists():
            return
        # Hard links: a copy of a few hundred megabytes that costs no space (same file system).
        partial = self.home.with_name(self.home.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(
            self.dist,
            partial,
            copy_function=os.link,
            ignore=lambda folder, names: [
                name for name in names if Path(folder) == self.dist / "modules" and name in self.leave_out
            ],
        )
        partial.rename(self.home)

    def prepare(self) -> None:
        super().prepare()
        self._assemble_home()
        shutil.copytree(self.dist / "config", self.config_dir, dirs_exist_ok=True)
        (self.config_dir / "opensearch.yml").write_text(self._settings())
        # The JVM's GC log, error file and heap dumps are relative to the distribution (the
        # start script changes into it): this node's own folders instead, as the distribution
        # may be shared by nodes or read-only (in an image).
        options = self.config_dir / "jvm.options"
        options.write_text(
            options.read_text()
            .replace("=logs/", f"={self.logs_dir}/")
            .replace("HeapDumpPath=data", f"HeapDumpPath={self.data_dir}")
        )

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
        argv = [str(self.home / "bin" / "opensearch")]
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
