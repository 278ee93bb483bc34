"""Processes die mid-job.

Expected outcomes:
- The agent (and the Copilot CLI with it: the whole process group, as a container kill does)
  is SIGKILLed while a job streams; after a restart the job is queued again and succeeds on a
  later attempt; the site holds no temp file and every post folder is complete.
- The Copilot CLI alone is SIGKILLed mid-turn: the agent notices (the job does not wait for
  its inactivity or total timeout), retries the job, and it succeeds; the agent stays ready.
"""

from __future__ import annotations

import signal

import httpx
import psutil
import pytest
from httpx_sse import connect_sse

from tests.faults.checks import (
    assert_healthy,
    assert_next_job_works,
    assert_site_intact,
    job_seconds,
    topic,
    wait_for,
    wait_provider_request,
)
from tests.faults.conftest import INACTIVITY_TIMEOUT_S, JOB_TIMEOUT_S, Provider
from tests.support.pod import LocalPod

pytestmark = pytest.mark.slow

#: Slow enough that a kill lands mid-stream: about 8 s of tokens.
SLOW = {"first_token_ms": 200, "tokens_per_s": 10, "tokens": 80}


def _copilot_cli(pod: LocalPod) -> psutil.Process:
    found = [p for p in pod.process_tree("agent")[1:] if "copilot" in " ".join(p.cmdline())]
    assert found, f"no Copilot CLI under the agent: {pod.process_tree('agent')}"
    # The CLI may start helpers of its own: the one whose parent is not a CLI is the root.
    pids = {p.pid for p in found}
    roots = [p for p in found if p.ppid() not in pids]
    return roots[0]


def test_agent_sigkilled_mid_job_requeues_and_completes(
    fresh: LocalPod, provider: Provider
) -> None:
    provider.control.set_pace(**SLOW)
    name = topic("agent-kill")
    job_id = fresh.write(name)["id"]
    wait_provider_request(provider.control, name)
    _wait_first_delta(fresh, job_id)
    fresh.kill_service("agent")
    assert fresh.procs["agent"].proc.poll() is not None
    fresh.restart_service("agent")
    job = fresh.wait_job(job_id, timeout=JOB_TIMEOUT_S)
    assert job["status"] == "succeeded", f"{job}\n{fresh.logs()[-4000:]}"
    assert job["attempts"] >= 2, job  # the first attempt died with the agent
    page = fresh.http.get(job["post"]["url"])
    assert page.status_code == 200 and name in page.text
    assert_site_intact(fresh)
    assert_healthy(fresh)


def test_copilot_cli_sigkilled_mid_turn_is_noticed_and_retried(
    fresh: LocalPod, provider: Provider
) -> None:
    provider.control.set_pace(**SLOW)
    name = topic("cli-kill")
    job_id = fresh.write(name)["id"]
    wait_provider_request(provider.control, name)
    cli = _copilot_cli(fresh)
    cli.send_signal(signal.SIGKILL)
    cli.wait(10)
    job = fresh.wait_job(job_id, timeout=JOB_TIMEOUT_S)
    assert job["status"] == "succeeded", f"{job}\n{fresh.logs()[-4000:]}"
    # Noticed from the dead process, not from silence: well under the inactivity timeout
    # even though the whole job (second attempt included) is counted.
    assert job_seconds(job) < INACTIVITY_TIMEOUT_S + 20, job
    requests = [r for r in provider.control.requests() if name in str(r["body"])]
    assert len(requests) >= 2, "the job was not asked again after the CLI died"
    # A new CLI runs under the agent and the agent is ready again.
    wait_for(lambda: _copilot_cli(fresh).pid != cli.pid, 30, "a new Copilot CLI")
    assert_healthy(fresh)
    provider.reset()
    assert_next_job_works(fresh)
    assert_site_intact(fresh)


def _wait_first_delta(pod: LocalPod, job_id: str, timeout: float = 60.0) -> None:
    """Follow the job's stream through nginx until its first delta (bounded by ``timeout``)."""
    with (
        httpx.Client(base_url=pod.url, timeout=httpx.Timeout(timeout)) as client,
        connect_sse(client, "GET", f"/api/v1/jobs/{job_id}/events") as source,
    ):
        for sse in source.iter_sse():
            if sse.event == "delta":
                return
    raise AssertionError(f"job {job_id} ended without a delta")
