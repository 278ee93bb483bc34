"""The real local model server, started once for the tests that need it."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from blogpod.llm.settings import LlmSettings
from blogpod.llm.weights import WeightsError, default_spec, ensure_model
from tests.support.pod import BLOGPOD
from tests.support.processes import ServiceProcess, blogpod_env, free_port


@dataclass
class LlmServer:
    port: int
    process: ServiceProcess

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def require_local_model() -> None:
    """Fail (never skip) when `make setup` did not install the runtime or the weights."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python is not installed: run `make setup` (target setup-local)")
    settings = LlmSettings()
    if not settings.model_path.exists():
        pytest.fail(f"{settings.model_path} missing: run `make setup` (target setup-local)")
    try:
        ensure_model(settings.model_path, None, default_spec())
    except WeightsError as exc:
        pytest.fail(f"local model weights refused: {exc}")


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LlmServer]:
    require_local_model()
    port = free_port()
    process = ServiceProcess(
        [BLOGPOD, "serve", "llm"],
        env=blogpod_env(BLOGPOD_LLM_PORT=str(port), BLOGPOD_LOG_FORMAT="text"),
    )
    try:
        process.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=300)
        yield LlmServer(port, process)
    finally:
        process.stop()
