"""Fetching server jars from Maven Central with Maven itself (its local repository is the cache)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from deh_stack import resources
from deh_stack.errors import StackError
from deh_stack.tools import maven

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
_DONE_MARKER = ".complete"


def pom_from_template(template: str, **values: str) -> str:
    text = resources.text(template)
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def copy_dependencies(pom: str, target: Path, transitive: bool = True) -> Path:
    """Resolve a POM's runtime dependencies into `target/lib` once; later calls are no-ops."""
    lib = target / "lib"
    if (target / _DONE_MARKER).exists():
        return lib
    target.mkdir(parents=True, exist_ok=True)
    (target / "pom.xml").write_text(pom)
    _run_maven(
        target,
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        f"-DoutputDirectory={lib}",
        "-DincludeScope=runtime",
        f"-DexcludeTransitive={str(not transitive).lower()}",
    )
    (target / _DONE_MARKER).touch()
    return lib


def artifacts_pom(group: str, artifacts: Sequence[str], version: str, packaging: str = "jar") -> str:
    """A POM that depends on exactly these artifacts of one group and version (a server zip, the
    jars of a module)."""
    dependencies = "".join(
        f"""
    <dependency>
      <groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version>
      <type>{packaging}</type>
    </dependency>"""
        for artifact in artifacts
    )
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>eu.deh.stack</groupId><artifactId>fetch-{artifacts[0]}</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>{dependencies}
  </dependencies>
</project>
"""


def _run_maven(cwd: Path, *args: str) -> None:
    command = [maven(), "-B", "-q", *args]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
        raise StackError(
            f"Maven could not fetch what the stack needs (in {cwd}).\n{tail}\n"
            "Check that the package registry is reachable, then run the command again."
        )
