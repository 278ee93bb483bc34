"""A killed agent loses no job; a killed Copilot CLI is noticed, restarted and the job retried."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator

import pytest

from tests.agent.conftest import publish_default_skills
from tests.support.agent_process import AgentProcess
from tests.support.scripted_provider import ScriptedProvider


def _delta_seen(agent: AgentProcess, job_id: str) -> None:
    """Wait until the job has written some text (the turn is in the middle of streaming)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        kinds = _event_kinds_so_far(agent, job_id)
        if "delta" in kinds:
            return
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} wrote nothing")


def _event_kinds_so_far(agent: AgentProcess, job_id: str) -> list[str]:
    db = agent.state_dir / "jobs.sqlite3"

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT type FROM events WHERE job_id = ? ORDER BY id", (job_id,)
        ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture
def own_agent(
    provider: ScriptedProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    process = AgentProcess(tmp_path_factory.mktemp("killed"), provider.base_url)
    process.skills_dir.mkdir(parents=True)
    publish_default_skills(process.skills_dir)
    process.start()
    yield process
    process.stop()


def test_a_job_survives_a_sigkilled_agent(
    own_agent: AgentProcess, provider: ScriptedProvider
) -> None:
    provider.set_pace(tokens_per_s=20, tokens=400)  # ~20 s of writing
    job_id = own_agent.submit("Surviving a crash")["id"]
    own_agent.wait_status(job_id, "running")
    _delta_seen(own_agent, job_id)
    own_agent.kill()  # SIGKILL the whole process group, mid-turn

    provider.set_pace(tokens_per_s=0, tokens=60)
    own_agent.start()
    job = own_agent.wait_final(job_id)
    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 2
    assert "Surviving a crash" in job["post"]["title"]
    events = own_agent.events(job_id)
    statuses = [
        (e["data"]["status"], e["data"].get("attempt")) for e in events if e["event"] == "status"
    ]
    assert ("running", 1) in statuses and ("running", 2) in statuses
    requeued = [e for e in events if e["data"].get("requeued")]
    assert len(requeued) == 1
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))


def test_a_sigkilled_cli_mid_turn_is_restarted_and_the_job_retried(
    agent: AgentProcess, provider: ScriptedProvider
) -> None:
    provider.set_pace(tokens_per_s=20, tokens=400)  # ~20 s of writing
    job_id = agent.submit("Surviving a dead CLI")["id"]
    agent.wait_status(job_id, "running")
    _delta_seen(agent, job_id)
    (cli_pid,) = agent.cli_pids()
    provider.set_pace(tokens_per_s=0, tokens=60)
    os.kill(cli_pid, signal.SIGKILL)

    # Well before the 90 s job timeout and the 3 s inactivity timeout would matter: the
    # watchdog notices the dead CLI, a new one starts, the job runs again.
    job = agent.wait_final(job_id, timeout=60)
    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 2
    new_pids = agent.cli_pids()
    assert len(new_pids) == 1 and new_pids[0] != cli_pid
    with agent.client() as c:
        metrics = c.get("/metrics").text
        ready = c.get("/readyz")
    assert "blogpod_copilot_cli_restarts 1.0" in metrics
    assert ready.status_code == 200
    assert agent.wait_final(agent.submit("After the restart")["id"])["status"] == "succeeded"


def test_a_job_gives_up_after_max_attempts(
    provider: ScriptedProvider, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each attempt is killed with the agent; the cap turns the job into a stated failure."""
    process = AgentProcess(
        tmp_path_factory.mktemp("capped"),
        provider.base_url,
        overrides={"BLOGPOD_MAX_ATTEMPTS": "1"},
    )
    process.skills_dir.mkdir(parents=True)
    publish_default_skills(process.skills_dir)
    provider.set_pace(tokens_per_s=10, tokens=400)
    try:
        process.start()
        job_id = process.submit("Crashing every time")["id"]
        process.wait_status(job_id, "running")
        process.kill()
        process.start()
        job = process.wait_final(job_id)
    finally:
        process.stop()
    assert job["status"] == "failed"
    assert job["error"].startswith("Gave up after 1 attempt (the agent or the Copilot CLI")


def test_a_missing_cli_makes_the_agent_unready_and_jobs_fail_clearly(
    provider: ScriptedProvider, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("nocli")
    process = AgentProcess(
        root, provider.base_url, overrides={"BLOGPOD_COPILOT_CLI": str(root / "no-copilot")}
    )
    process.skills_dir.mkdir(parents=True)
    publish_default_skills(process.skills_dir)
    try:
        process.start(ready_path="/healthz")
        with process.client() as c:
            ready = c.get("/readyz")
        assert ready.status_code == 503
        assert "BLOGPOD_COPILOT_CLI" in ready.json()["checks"]["copilot_cli"]
        job = process.wait_final(process.submit("No engine")["id"])
    finally:
        process.stop()
    assert job["status"] == "failed"
    assert job["error"].startswith("The writing engine is unavailable")
    assert "BLOGPOD_COPILOT_CLI" in job["error"]
    assert job["attempts"] == 1
