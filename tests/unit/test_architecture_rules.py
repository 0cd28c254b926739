"""The shape every service keeps: rules in `domain/` free of I/O and frameworks, adapters around
them, and dependencies that point one way (services use `libs/`, never the reverse)."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(path.name for path in (ROOT / "services").iterdir() if (path / "pyproject.toml").exists())
SERVICE_PACKAGES = {f"deh_{name}" for name in SERVICES}
# What talks to the outside world; a domain module that needs one of these is an adapter.
FRAMEWORKS_AND_CLIENTS = ("fastapi", "starlette", "pymongo", "opensearchpy", "aiokafka", "faststream", "httpx", "jwt")


def test_domain_modules_load_no_framework_or_server_client() -> None:
    # In a fresh interpreter, so that what the test process has loaded already does not count.
    program = f"""
import importlib, pkgutil, sys
for service in {sorted(SERVICE_PACKAGES)!r}:
    domain = importlib.import_module(service + ".domain")
    for module in pkgutil.iter_modules(domain.__path__):
        importlib.import_module(f"{{service}}.domain.{{module.name}}")
loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set({FRAMEWORKS_AND_CLIENTS!r}))
print(",".join(loaded))
"""
    loaded = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "", f"domain modules load {loaded.strip()}"


def test_no_shared_library_imports_or_depends_on_a_service() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "libs").glob("*/src/**/*.py"))
        for name in _imported_modules(path)
        if name.split(".")[0] in SERVICE_PACKAGES
    ]
    for manifest in sorted((ROOT / "libs").glob("*/pyproject.toml")):
        dependencies = tomllib.loads(manifest.read_text())["project"].get("dependencies", [])
        offenders += [
            f"{manifest.relative_to(ROOT)} depends on {dependency}"
            for dependency in dependencies
            if dependency.replace("-", "_").split(">")[0].split("=")[0].strip() in SERVICE_PACKAGES
        ]
    assert offenders == []


def test_every_service_has_the_same_inner_shape() -> None:
    for service in SERVICES:
        package = ROOT / "services" / service / "src" / f"deh_{service}"
        present = {path.name for path in package.iterdir()}
        assert {"domain", "adapters", "app.py", "settings.py"} <= present, f"{service} lacks part of the shape"


def _imported_modules(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names
