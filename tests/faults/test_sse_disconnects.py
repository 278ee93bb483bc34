"""200 SSE clients follow one job through nginx and hang up mid-stream.

Expected outcome: while they are connected the agent counts them (its
``blogpod_sse_streams`` gauge reaches 200); after they hang up, within a bounded wait and
while the job is still streaming, the gauge is back where it was, so is the number of asyncio
tasks in the agent (``blogpod_asyncio_tasks``), the agent holds no more TCP
connections than nginx's idle upstream pool allows, nginx holds none of the clients'
connections, the job still succeeds, and a new watcher still gets the whole stream.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from httpx_sse import aconnect_sse

from tests.faults.checks import assert_healthy, topic, wait_for, wait_provider_request
from tests.faults.conftest import JOB_TIMEOUT_S, Provider
from tests.support.pod import LocalPod

pytestmark = pytest.mark.slow

CLIENTS = 200
#: Bound on noticing 200 hang-ups (the job keeps streaming for longer than this).
CLEANUP_S = 15
#: nginx keeps at most this many idle connections to the agent (``keepalive`` in its config).
NGINX_UPSTREAM_KEEPALIVE = 8
#: The running job's own short-lived tasks (a to_thread call, a timer) come and go.
TASK_SLACK = 2


async def _follow_then_hang_up(
    client: httpx.AsyncClient, url: str, connected: asyncio.Event, hang_up: asyncio.Event
) -> int:
    """Read until the first delta, report in, hold the stream open, then drop the connection."""
    events = 0
    async with aconnect_sse(client, "GET", url) as source:
        assert source.response.status_code == 200
        async for sse in source.aiter_sse():
            events += 1
            if sse.event == "delta":
                connected.set()
                await hang_up.wait()  # still inside the stream: the connection stays open
                break
    connected.set()  # the stream ended early: _crowd sees it in the count
    return events


async def _crowd(pod: LocalPod, job_id: str) -> tuple[int, float]:
    url = f"/api/v1/jobs/{job_id}/events"
    limits = httpx.Limits(max_connections=CLIENTS + 10, max_keepalive_connections=0)
    hang_up = asyncio.Event()
    flags = [asyncio.Event() for _ in range(CLIENTS)]
    async with httpx.AsyncClient(base_url=pod.url, timeout=60, limits=limits) as client:
        tasks = [
            asyncio.create_task(_follow_then_hang_up(client, url, flag, hang_up)) for flag in flags
        ]
        async with asyncio.timeout(60):
            await asyncio.gather(*(f.wait() for f in flags))
        peak = await asyncio.to_thread(pod.metric, "agent", "blogpod_sse_streams")
        hang_up.set()
        results = await asyncio.gather(*tasks)
    return sum(1 for n in results if n > 0), peak


def test_200_sse_clients_hang_up_and_leave_nothing_behind(
    fresh: LocalPod, provider: Provider
) -> None:
    streams_before = fresh.metric("agent", "blogpod_sse_streams")
    agent_conns_before = fresh.open_connections("agent", fresh.ports.agent)
    # About 30 s of tokens: the hang-up happens mid-stream and the cleanup must not wait for
    # the job's end to happen.
    provider.control.set_pace(first_token_ms=100, tokens_per_s=20, tokens=600)
    name = topic("sse-crowd")
    job_id = fresh.write(name)["id"]
    wait_provider_request(provider.control, name)
    tasks_before = fresh.metric("agent", "blogpod_asyncio_tasks")

    followed, peak = asyncio.run(_crowd(fresh, job_id))
    assert followed == CLIENTS
    assert peak >= streams_before + CLIENTS, f"the agent counted {peak} streams"

    wait_for(
        lambda: fresh.metric("agent", "blogpod_sse_streams") <= streams_before,
        CLEANUP_S,
        "the agent's stream gauge back to its level before",
    )
    wait_for(
        lambda: fresh.metric("agent", "blogpod_asyncio_tasks") <= tasks_before + TASK_SLACK,
        CLEANUP_S,
        "the agent's asyncio tasks back to their level before",
    )
    # Cleaned up because the clients left, not because the job (and so every stream) ended.
    assert fresh.job(job_id)["status"] == "running"
    wait_for(
        lambda: (
            fresh.open_connections("agent", fresh.ports.agent)
            <= agent_conns_before + NGINX_UPSTREAM_KEEPALIVE
        ),
        CLEANUP_S,
        "the agent's connections back within nginx's idle pool",
    )
    wait_for(
        lambda: fresh.open_connections("web", fresh.ports.web) <= 2,
        CLEANUP_S,
        "nginx holding no client connection",
    )

    job = fresh.wait_job(job_id, timeout=JOB_TIMEOUT_S)
    assert job["status"] == "succeeded", job
    events = fresh.events(job_id)
    assert events[-1] == ("status", {"status": "succeeded", "attempt": job["attempts"]})
    assert any(kind == "delta" for kind, _ in events)
    assert_healthy(fresh)
