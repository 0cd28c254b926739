"""The hub's own services, each an HTTP (uvicorn) process that the stack starts like a server."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

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
    def address(self) -> str:
        return self.config.service_url(self.name)

    def install(self) -> None:
        application(self.name)

    def command(self) -> tuple[list[str], dict[str, str]]:
        argv = [*uvicorn_command(self.name, self.config.host, self.config.ports[self.name]), "--no-access-log"]
        return argv, self.config.server_env(kafka_user=self.name)

    def is_ready(self) -> bool:
        try:
            return httpx.get(f"{self.address}/readyz", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False


def uvicorn_command(service: str, host: str, port: int) -> list[str]:
    """How a service runs as deployed: its app under uvicorn, in this Python environment."""
    return [sys.executable, "-m", "uvicorn", application(service), "--host", host, "--port", str(port)]


def application(service: str) -> str:
    """The ASGI app a service declares in its package's `deh.services` entry point
    ("deh_events.app:app"): the stack runs services without importing them."""
    found = entry_points(group="deh.services", name=service)
    if not found:
        raise StackError(f"The {service} service is not installed in this environment: run 'uv sync' first.")
    return next(iter(found)).value
