"""The external tools the stack needs (a JDK and Maven), checked up front with clear advice; and
those the deployment tests need that no package registry here serves as a binary (kustomize):
built once from their Go modules (the Go module proxy is reachable), kept under .stack/tools/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
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


KUSTOMIZE = ("sigs.k8s.io/kustomize/kustomize/v5", "v5.8.2")  # v5.8.3 needs Go 1.27


def kustomize() -> Path | None:
    """kustomize, built with the machine's Go the first time (about a minute on 2 cores);
    None where there is no Go to build it with."""
    module, version = KUSTOMIZE
    built = repo_root() / ".stack" / "tools" / f"kustomize-{version}"
    if built.exists():
        return built
    go = shutil.which("go")
    if go is None:
        return None
    built.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=built.parent) as target:
        environment = {**os.environ, "GOBIN": target, "CGO_ENABLED": "0"}
        subprocess.run([go, "install", f"{module}@{version}"], env=environment, check=True, timeout=900)
        Path(target, "kustomize").rename(built)
    return built
