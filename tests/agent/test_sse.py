"""Server-Sent Events of a job: order, ids, resume with Last-Event-ID, replay, heartbeats."""

from __future__ import annotations

import time

import httpx

from tests.support.agent_process import AgentProcess, sse_events
from tests.support.scripted_provider import ScriptedProvider


def _draft(events: list[dict]) -> str:
    """The text as a client shows it: every `status: running` event starts the draft anew."""
    text = ""
    for event in events:
        if event["event"] == "status" and event["data"]["status"] == "running":
            text = ""
        elif event["event"] == "delta":
            text += event["data"]["text"]
    return text


def test_events_come_in_order_with_increasing_ids(agent: AgentProcess) -> None:
    job_id = agent.submit("Ordering of events")["id"]
    events = agent.events(job_id)  # follows live until the final event, then ends
    ids = [e["id"] for e in events]
    assert ids == list(range(1, len(ids) + 1))
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["status", "status"]
    assert [e["data"]["status"] for e in events[:2]] == ["queued", "running"]
    assert kinds[-3:] == ["usage", "published", "status"]
    assert events[-1]["data"] == {"status": "succeeded", "attempt": 1}
    assert set(kinds[2:-3]) == {"delta"} and len(kinds[2:-3]) >= 1
    job = agent.job(job_id)
    assert events[-3]["data"] == job["usage"]
    assert events[-2]["data"] == job["post"]
    with agent.client() as c:
        markdown = c.get(f"/api/v1/posts/{job['post']['slug']}").json()["markdown"]
    assert _draft(events).strip() == markdown.strip()


def test_a_finished_job_replays_its_whole_log(agent: AgentProcess) -> None:
    job_id = agent.submit("Replay of a finished job")["id"]
    live = agent.events(job_id)
    assert agent.events(job_id) == live
    assert agent.events(job_id, last_event_id=0) == live


def test_resume_with_last_event_id_gets_exactly_what_was_missed(
    agent: AgentProcess, provider: ScriptedProvider
) -> None:
    provider.set_pace(tokens_per_s=100, tokens=150)  # a stream of ~1.5 s
    job_id = agent.submit("Resuming a stream")["id"]
    seen: list[dict] = []
    with httpx.stream("GET", f"{agent.url}/api/v1/jobs/{job_id}/events", timeout=30) as resp:
        for event in sse_events(resp.iter_lines()):
            if "event" in event:
                seen.append(event)
            if any(e["event"] == "delta" for e in seen) and len(seen) >= 3:
                break  # the client goes away in the middle of the writing
    assert agent.job(job_id)["status"] == "running"
    rest = agent.events(job_id, last_event_id=seen[-1]["id"])
    full = agent.events(job_id)
    assert seen + rest == full
    assert rest[0]["id"] == seen[-1]["id"] + 1


def test_the_query_parameter_resumes_too(agent: AgentProcess) -> None:
    job_id = agent.submit("Resume by query parameter")["id"]
    full = agent.events(job_id)
    with httpx.stream(
        "GET", f"{agent.url}/api/v1/jobs/{job_id}/events", params={"after": 2}, timeout=30
    ) as resp:
        rest = [e for e in sse_events(resp.iter_lines()) if "event" in e]
    assert rest == full[2:]


def test_heartbeats_while_nothing_happens(agent: AgentProcess, provider: ScriptedProvider) -> None:
    provider.set_pace(first_token_ms=2500)  # the agent's heartbeat is 1 s in these tests
    job_id = agent.submit("Waiting for the first token")["id"]
    comments = 0
    with httpx.stream("GET", f"{agent.url}/api/v1/jobs/{job_id}/events", timeout=30) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        for event in sse_events(resp.iter_lines()):
            if "comment" in event and "event" not in event:
                comments += 1
    assert comments >= 1
    assert agent.job(job_id)["status"] == "succeeded"


def test_a_client_that_leaves_leaves_no_stream_behind(
    agent: AgentProcess, provider: ScriptedProvider
) -> None:
    provider.set_pace(tokens_per_s=10, tokens=100)  # ~10 s of writing
    job_id = agent.submit("Leaving early")["id"]
    with httpx.stream("GET", f"{agent.url}/api/v1/jobs/{job_id}/events", timeout=30) as resp:
        events = sse_events(resp.iter_lines())
        while next(events).get("event") != "delta":
            pass  # bounded: the job streams deltas within seconds, the read times out at 30 s
        assert _open_streams(agent) == 1  # the stream is still open here
    deadline = time.monotonic() + 10
    while _open_streams(agent) != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _open_streams(agent) == 0
    with agent.client() as c:
        c.delete(f"/api/v1/jobs/{job_id}")


def test_events_of_an_unknown_job_are_a_404(agent: AgentProcess) -> None:
    with agent.client() as c:
        resp = c.get("/api/v1/jobs/nope/events")
        bad = c.get(
            f"/api/v1/jobs/{agent.submit('Bad header')['id']}/events",
            headers={"Last-Event-ID": "abc"},
        )
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert bad.status_code == 400


def _open_streams(agent: AgentProcess) -> float:
    with agent.client() as c:
        for line in c.get("/metrics").text.splitlines():
            if line.startswith("blogpod_sse_streams "):
                return float(line.split()[1])
    raise AssertionError("no blogpod_sse_streams metric")
