"""A real headless browser for tests of pages the services serve: Debian's
`chromium-headless-shell` with the libraries this machine lacks, fetched with apt from the
Debian archive into the stack's cache and unpacked there (no root, nothing installed
system-wide, nothing beyond the package registries). It needs a Debian-based machine (apt-get,
dpkg-deb); elsewhere `HeadlessChromium.available()` says why not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deh_stack.config import StackConfig

PACKAGE = "chromium-headless-shell"
BINARY = Path("usr/lib/chromium/chromium-headless-shell")
LIBRARY_DIRS = (
    "usr/lib/x86_64-linux-gnu",
    "usr/lib/x86_64-linux-gnu/pulseaudio",
    "lib/x86_64-linux-gnu",
    "usr/lib/chromium",
)


@dataclass(frozen=True)
class HeadlessChromium:
    home: Path  # the stack's cache: <cache>/chromium

    @classmethod
    def for_stack(cls, config: StackConfig) -> HeadlessChromium:
        return cls(config.cache / "chromium")

    @staticmethod
    def available() -> str | None:
        """None when it can be fetched here, else why not."""
        missing = [tool for tool in ("apt-get", "dpkg-deb") if shutil.which(tool) is None]
        return f"not a Debian-based machine: no {', '.join(missing)}" if missing else None

    @property
    def root(self) -> Path:
        return self.home / "root"

    def ensure(self) -> Path:
        """Fetch and unpack once; the browser's path."""
        binary = self.root / BINARY
        if binary.exists():
            return binary
        self._fetch()
        return binary

    def _apt(self, *arguments: str, cwd: Path | None = None) -> str:
        # Own lists and cache, no lock: apt works without root and leaves the machine alone.
        options = [f"-o=Dir::State::Lists={self.home / 'lists'}", f"-o=Dir::Cache={self.home / 'cache'}"]
        options.append("-o=Debug::NoLocking=1")
        if os.geteuid() == 0:  # as root apt drops to its own user, which cannot write these directories
            options.append("-o=APT::Sandbox::User=root")
        result = subprocess.run(
            ["apt-get", *options, *arguments], cwd=cwd, check=True, capture_output=True, text=True, timeout=600
        )
        return result.stdout

    def _fetch(self) -> None:
        for directory in ("lists/partial", "cache/archives/partial", "debs"):
            (self.home / directory).mkdir(parents=True, exist_ok=True)
        self._apt("update")
        # What installing it would add to this machine: the package and the libraries it lacks.
        simulated = self._apt("--simulate", "--no-install-recommends", "install", PACKAGE)
        packages = [line.split()[1] for line in simulated.splitlines() if line.startswith("Inst ")]
        debs = self.home / "debs"
        self._apt("download", *packages, cwd=debs)
        unpacking = self.home / "root.partial"
        shutil.rmtree(unpacking, ignore_errors=True)
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacking)], check=True, timeout=300)
        shutil.rmtree(self.root, ignore_errors=True)
        unpacking.rename(self.root)
        shutil.rmtree(debs)

    def _run(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        libraries = ":".join(str(self.root / directory) for directory in LIBRARY_DIRS)
        environment = {**os.environ, "LD_LIBRARY_PATH": libraries, "HOME": str(self.home)}
        command = [str(self.ensure()), "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *arguments]
        return subprocess.run(command, env=environment, check=True, capture_output=True, text=True, timeout=120)

    def dump_dom(self, url: str) -> str:
        """The page as the browser built it (after parsing, as the DOM holds it)."""
        return self._run("--dump-dom", url).stdout

    def screenshot(self, url: str, path: Path, width: int = 1200, height: int = 1600) -> Path:
        self._run(f"--screenshot={path}", f"--window-size={width},{height}", url)
        return path
