"""One local Pod (nginx + skill server + agent, real processes) shared by the fault suite.

The provider is the scripted OpenAI-compatible server as its own process on a fixed port, so a
test can stop it (connections refused) and start it again on the same address. Timeouts are
configured small so a fault that waits for one still ends in seconds; each test checks its
job ended well before the bound that applies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pod import LocalPod, running_provider_process
from tests.support.processes import ServiceProcess, free_port
from tests.support.scripted_provider import ProviderControl

#: Total time a job may take in the fault suite (the default is 600 s).
JOB_TIMEOUT_S = 240
#: A job fails after this long without output from the provider.
INACTIVITY_TIMEOUT_S = 30
#: Largest SKILL.md the skill server accepts here (the default is 256 KiB).
MAX_SKILL_MD_BYTES = 64 * 1024


class Provider:
    """The scripted provider process, which a test may stop and start again on its port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.control = ProviderControl(f"http://127.0.0.1:{port}")
        self.proc: ServiceProcess | None = None

    @property
    def base_url(self) -> str:
        return self.control.base_url

    def start(self) -> None:
        self.proc = running_provider_process(self.port, 0, 0, 40)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def reset(self) -> None:
        self.control.reset()


@pytest.fixture(scope="package")
def provider() -> Iterator[Provider]:
    prov = Provider(free_port())
    prov.start()
    try:
        yield prov
    finally:
        prov.stop()


@pytest.fixture(scope="package")
def pod(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPod]:
    data_dir: Path = tmp_path_factory.mktemp("fault-pod")
    env = {
        "BLOGPOD_JOB_TIMEOUT_S": str(JOB_TIMEOUT_S),
        "BLOGPOD_INACTIVITY_TIMEOUT_S": str(INACTIVITY_TIMEOUT_S),
        "BLOGPOD_PROVIDER_RETRIES": "0",
        "BLOGPOD_MAX_ATTEMPTS": "3",
        "BLOGPOD_SKILLS_MAX_SKILL_MD_BYTES": str(MAX_SKILL_MD_BYTES),
        "BLOGPOD_SKILLS_RESYNC_INTERVAL": "5",
    }
    local = LocalPod(data_dir, provider.base_url, env=env)
    try:
        local.start()
        yield local
    finally:
        local.stop()


@pytest.fixture
def fresh(pod: LocalPod, provider: Provider) -> Iterator[LocalPod]:
    """The shared Pod with the provider back to a clean script and its fast default pace.

    After the test, every service must still be alive: a fault may fail a job, never the Pod.
    """
    if provider.proc is None:
        provider.start()
    provider.reset()
    for name, proc in pod.procs.items():
        if proc.proc.poll() is not None:
            pod.start_service(name)
    yield pod
    if provider.proc is None:
        provider.start()
    provider.reset()
