"""``blogpod up`` as a real child process, for the Pod smoke test and the browser journey."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.support.processes import VENV_BIN, ServiceProcess, blogpod_env, free_port

UP_LINE = re.compile(r"blogpod is up: (http://\S+?)/ ")


@dataclass
class RunningPod:
    url: str
    process: ServiceProcess
    data_dir: Path
    env: dict[str, str]

    def descendants(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.NoSuchProcess):
            return psutil.Process(self.process.pid).children(recursive=True)
        return []


def provider_env(provider_base_url: str) -> dict[str, str]:
    """The scripted provider as the agent's BYOK OpenAI-compatible endpoint."""
    return {
        "BLOGPOD_PROVIDER": "openai",
        "BLOGPOD_PROVIDER_BASE_URL": provider_base_url,
        "BLOGPOD_PROVIDER_API_KEY": "scripted-key",
        "BLOGPOD_MODEL": "scripted-model",
    }


def up_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return blogpod_env(
        BLOGPOD_DATA_DIR=str(data_dir),
        BLOGPOD_PORT=str(free_port()),
        BLOGPOD_AGENT_PORT=str(free_port()),
        BLOGPOD_SKILLS_PORT=str(free_port()),
        BLOGPOD_LLM_PORT=str(free_port()),
        **extra,
    )


def wait_for_up(proc: ServiceProcess, timeout: float = 240.0) -> str:
    """The URL ``blogpod up`` prints once every service is ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = UP_LINE.search(proc.logs())
        if match:
            return match.group(1)
        if proc.proc.poll() is not None:
            raise RuntimeError(f"blogpod up exited {proc.proc.returncode}:\n{proc.logs()}")
        time.sleep(0.2)
    raise TimeoutError(f"blogpod up not ready after {timeout}s:\n{proc.logs()}")


def stop_gracefully(proc: ServiceProcess, timeout: float = 60.0) -> int:
    """SIGTERM only ``blogpod up`` itself (not its group): it must stop its children."""
    proc.proc.send_signal(signal.SIGTERM)
    try:
        return proc.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.stop()
        raise


@contextlib.contextmanager
def blogpod_up(
    data_dir: Path, provider_base_url: str, *args: str, **extra: str
) -> Iterator[RunningPod]:
    env = up_env(data_dir, **provider_env(provider_base_url), **extra)
    proc = ServiceProcess([str(VENV_BIN / "blogpod"), "up", *args], env=env)
    try:
        url = wait_for_up(proc)
        yield RunningPod(url, proc, data_dir, env)
    finally:
        if proc.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                stop_gracefully(proc)
        proc.stop()
