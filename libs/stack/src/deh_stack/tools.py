"""The external tools the stack needs (a JDK and Maven), checked up front with clear advice; and
those the deployment tests need that no package registry here serves as a binary (kustomize,
docker compose):
built once from their Go modules (the Go module proxy is reachable), kept under .stack/tools/."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from deh_stack.config import repo_root
from deh_stack.errors import StackError

MIN_JAVA = 17


@cache
def java_home() -> Path:
    """A JDK of at least version 17: JAVA_HOME if set, else the `java` on PATH."""
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path).resolve().parent.parent)
    for home in candidates:
        version = _java_major(home / "bin" / "java")
        if version is not None and version >= MIN_JAVA:
            return home
    raise StackError(
        f"No JDK {MIN_JAVA} or newer found (JAVA_HOME or java on PATH). "
        "Install one (Debian: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME."
    )


def java() -> str:
    return str(java_home() / "bin" / "java")


def run_jdk_tool(name: str, *args: str) -> None:
    """Run a tool of the JDK (javac, jar): a JRE alone lacks them."""
    tool = java_home() / "bin" / name
    if not tool.exists():
        raise StackError(
            f"The Java at {java_home()} has no {name}: a full JDK is needed "
            "(Debian: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME to one."
        )
    result = subprocess.run([str(tool), *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise StackError(f"{name} failed:\n{result.stdout}{result.stderr}")


def _java_major(binary: Path) -> int | None:
    if not binary.exists():
        return None
    result = subprocess.run([str(binary), "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)', result.stderr)
    return int(match.group(1)) if match else None


def maven() -> str:
    found = shutil.which("mvn")
    if not found:
        raise StackError("Maven (mvn) is not on PATH. Install it (Debian: apt-get install maven).")
    return found


@dataclass(frozen=True)
class GoTool:
    """A tool built from its Go module: the module, its version, and the package of the command."""

    name: str
    module: str
    version: str
    package: str = "."
    ldflags: str = ""


KUSTOMIZE = GoTool("kustomize", "sigs.k8s.io/kustomize/kustomize/v5", "v5.8.2")  # v5.8.3 needs Go 1.27
# `go install` refuses its exclude directives: built in a copy of the module instead.
COMPOSE = GoTool(
    "docker-compose",
    "github.com/docker/compose/v2",
    "v2.40.3",
    package="./cmd",
    ldflags="-X github.com/docker/compose/v2/internal.Version=v2.40.3",
)


def kustomize() -> Path | None:
    return built_with_go(KUSTOMIZE)


def compose() -> Path | None:
    return built_with_go(COMPOSE)


def built_with_go(tool: GoTool) -> Path | None:
    """The tool, built with the machine's Go the first time (kustomize about a minute, compose
    about two, on 2 cores) and kept under .stack/tools; None where there is no Go."""
    built = repo_root() / ".stack" / "tools" / f"{tool.name}-{tool.version}"
    if built.exists():
        return built
    go = shutil.which("go")
    if go is None:
        return None
    built.parent.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
    downloaded = subprocess.run(
        [go, "mod", "download", "-json", f"{tool.module}@{tool.version}"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    with tempfile.TemporaryDirectory(dir=built.parent) as work:
        source = Path(work) / "source"
        shutil.copytree(json.loads(downloaded.stdout)["Dir"], source)
        for folder in [source, *(path for path in source.rglob("*") if path.is_dir())]:
            folder.chmod(0o755)  # the module cache is read-only; the build writes go.sum
        output = Path(work) / tool.name
        command = [go, "build", "-trimpath", f"-ldflags=-s -w {tool.ldflags}", "-o", str(output), tool.package]
        subprocess.run(command, cwd=source, env=environment, check=True, capture_output=True, timeout=1800)
        output.rename(built)
    return built
