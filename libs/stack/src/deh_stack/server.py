"""What every managed server has in common: install once, launch, wait until ready, stop."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import NoReturn

from deh_stack.config import StackConfig
from deh_stack.errors import StackError
from deh_stack.process import ManagedProcess, port_in_use


class Server(ABC):
    name: str
    port_names: tuple[str, ...]
    startup_timeout: float = 120.0

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.folder = config.home / self.name
        self.process = ManagedProcess(self.name, self.folder)

    @property
    @abstractmethod
    def address(self) -> str: ...

    @abstractmethod
    def install(self) -> None:
        """Fetch and assemble the server (cached: cheap when already done)."""

    @abstractmethod
    def command(self) -> tuple[list[str], dict[str, str]]:
        """The command line and extra environment that start the server in the foreground."""

    @abstractmethod
    def is_ready(self) -> bool:
        """A real request to the server succeeds."""

    def prepare(self) -> None:
        """Create this instance's data folders (override to initialise storage)."""
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        (self.folder / "logs").mkdir(parents=True, exist_ok=True)

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def logs_dir(self) -> Path:
        return self.folder / "logs"

    def running(self) -> bool:
        return self.process.pid() is not None

    def launch(self) -> bool:
        """Start the process unless it already runs. True when a new process was started."""
        if self.running():
            return False
        for port_name in self.port_names:
            port = self.config.ports[port_name]
            if port_in_use(self.config.host, port):
                raise StackError(
                    f"Port {port} ({port_name}) on {self.config.host} is in use by another program. "
                    f"Stop that program or choose another port with DEH_{port_name.upper()}_PORT=..."
                )
        self.install()
        self.prepare()
        argv, env = self.command()
        self.process.start(argv, env, cwd=self.folder)
        return True

    def replace_this_process(self) -> NoReturn:
        """Become the server (exec): a container's main process, which its engine supervises,
        stops and restarts. The distribution must be in the cache already (an image has it)."""
        self.install()
        self.prepare()
        argv, env = self.command()
        os.chdir(self.folder)
        os.execve(argv[0], argv, {**os.environ, **env})

    def wait_ready(self) -> None:
        self.process.wait_ready(self.is_ready, self.startup_timeout, "ready")

    def stop(self) -> bool:
        return self.process.stop()

    def kill(self) -> None:
        """Crash the server (SIGKILL): for fault tests."""
        self.process.kill()
