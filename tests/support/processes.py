"""Start real service processes for tests and stop them without leaving anything behind."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def blogpod_env(**overrides: str) -> dict[str, str]:
    """The current environment without inherited BLOGPOD_* or proxy variables, plus overrides."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BLOGPOD_") and k.lower() not in {"http_proxy", "https_proxy"}
    }
    for keep in ("BLOGPOD_COPILOT_CLI", "BLOGPOD_COPILOT_PKG_CACHE"):
        if keep in os.environ:
            env[keep] = os.environ[keep]
    env.setdefault("BLOGPOD_COPILOT_CLI", str(REPO / ".cache/copilot-cli/copilot"))
    env.setdefault("BLOGPOD_COPILOT_PKG_CACHE", str(REPO / ".cache/copilot-pkg"))
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env.update(overrides)
    return env


class ServiceProcess:
    """A child process (in its own process group) with its output captured to a file."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.args = list(args)
        self.log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="blogpod-test-", suffix=".log", delete=False
        )
        self.proc = subprocess.Popen(
            self.args,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def logs(self) -> str:
        self.log_file.flush()
        return Path(self.log_file.name).read_text(errors="replace")

    def wait_http(self, url: str, timeout: float = 60.0, status: int = 200) -> None:
        """Wait until ``url`` answers ``status``; fail with the process's logs otherwise."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.args} exited {self.proc.returncode}:\n{self.logs()}")
            try:
                resp = httpx.get(url, timeout=2.0)
                if resp.status_code == status:
                    return
                last = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise TimeoutError(f"{url} not ready after {timeout}s ({last}):\n{self.logs()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole process group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the group, then SIGKILL what is left; returns the exit code."""
        if self.proc.poll() is None:
            self.kill(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.proc.wait(timeout)
        self.kill(signal.SIGKILL)  # stragglers in the group
        self.log_file.close()
        return self.proc.returncode
