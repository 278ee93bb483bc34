"""One scripted provider and one agent process shared by the agent tests (slow to start)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.agent_process import DEFAULT_SKILL_BODY, AgentProcess, write_skill_snapshot
from tests.support.scripted_provider import ScriptedProvider

API_TOKEN = "agent-test-token"
CONCISE_BODY = """---
name: concise-writer
description: Writes very short posts.
---

CONCISE-MARKER: keep every section under fifty words.
"""


@pytest.fixture(scope="session")
def provider() -> Iterator[ScriptedProvider]:
    with ScriptedProvider.running(tokens=60) as scripted:
        yield scripted


@pytest.fixture(autouse=True)
def _clean_provider(request: pytest.FixtureRequest) -> Iterator[None]:
    if "provider" not in request.fixturenames and "agent" not in request.fixturenames:
        yield
        return
    scripted: ScriptedProvider = request.getfixturevalue("provider")
    scripted.reset()
    yield
    scripted.reset()


def publish_default_skills(shared: Path) -> dict[str, str]:
    return write_skill_snapshot(
        shared,
        {
            "blog-writer": DEFAULT_SKILL_BODY.format(name="blog-writer"),
            "concise-writer": CONCISE_BODY,
        },
    )


@pytest.fixture(scope="session")
def skill_versions(agent: AgentProcess) -> dict[str, str]:
    return publish_default_skills(agent.skills_dir)


@pytest.fixture(scope="session")
def agent(
    provider: ScriptedProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    """The shared agent: short timeouts so fault tests finish in seconds."""
    process = AgentProcess(
        tmp_path_factory.mktemp("agent"),
        provider.base_url,
        token=API_TOKEN,
        overrides={
            "BLOGPOD_INACTIVITY_TIMEOUT_S": "3",
            "BLOGPOD_PROVIDER_RETRIES": "1",
            "BLOGPOD_JOB_TIMEOUT_S": "90",
            "BLOGPOD_MAX_ATTEMPTS": "3",
        },
    )
    process.skills_dir.mkdir(parents=True)
    publish_default_skills(process.skills_dir)
    process.start()
    yield process
    process.stop()
