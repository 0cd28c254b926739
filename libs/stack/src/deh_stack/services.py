"""The hub's own services, each an HTTP (uvicorn) process that the stack starts like a server."""

from __future__ import annotations

import importlib.util
import sys

import httpx

from deh_stack.config import StackConfig
from deh_stack.errors import StackError
from deh_stack.server import Server


class ServiceProcess(Server):
    startup_timeout = 60.0

    def __init__(self, config: StackConfig, name: str) -> None:
        self.name = name
        self.port_names = (name,)
        super().__init__(config)

    @property
    def module(self) -> str:
        return f"deh_{self.name}"

    @property
    def address(self) -> str:
        return self.config.service_url(self.name)

    def install(self) -> None:
        if importlib.util.find_spec(self.module) is None:
            raise StackError(f"The {self.name} service is not installed in this environment: run 'uv sync' first.")

    def command(self) -> tuple[list[str], dict[str, str]]:
        argv = [*uvicorn_command(self.module, self.config.host, self.config.ports[self.name]), "--no-access-log"]
        return argv, self.config.server_env()

    def is_ready(self) -> bool:
        try:
            return httpx.get(f"{self.address}/readyz", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False


def uvicorn_command(module: str, host: str, port: int) -> list[str]:
    """How a service runs as deployed: its app under uvicorn, in this Python environment."""
    return [sys.executable, "-m", "uvicorn", f"{module}.app:app", "--host", host, "--port", str(port)]
