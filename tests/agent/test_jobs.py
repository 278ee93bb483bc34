"""The job lifecycle through the real agent, the real Copilot CLI and the scripted provider."""

from __future__ import annotations

from tests.agent.conftest import API_TOKEN
from tests.support.agent_process import AgentProcess
from tests.support.scripted_provider import ScriptedProvider

PROBLEM = "application/problem+json"


def _chat_requests(provider: ScriptedProvider) -> list[dict]:
    return [r for r in provider.requests() if r["path"].endswith("/chat/completions")]


def test_a_job_writes_and_publishes_a_post(
    agent: AgentProcess, provider: ScriptedProvider, skill_versions: dict[str, str]
) -> None:
    with agent.client() as c:
        resp = c.post(
            "/api/v1/posts",
            json={
                "topic": "Tide pools of Brittany",
                "audience": "hikers",
                "tone": "friendly",
                "length": "short",
                "keywords": ["algae", "crabs"],
            },
        )
    assert resp.status_code == 202
    accepted = resp.json()
    assert accepted["status"] == "queued"
    assert accepted["events_url"] == f"/api/v1/jobs/{accepted['id']}/events"
    assert resp.headers["location"] == f"/api/v1/jobs/{accepted['id']}"

    job = agent.wait_final(accepted["id"])
    assert job["status"] == "succeeded", job
    assert job["skill"] == "blog-writer"
    assert job["skill_version"] == skill_versions["blog-writer"]
    assert (job["provider"], job["model"], job["draft"]) == ("openai", "scripted-model", False)
    assert job["attempts"] == 1 and job["error"] is None
    assert job["usage"]["output_tokens"] > 0 and job["usage"]["input_tokens"] > 0
    assert job["started_at"] and job["finished_at"]
    assert "Tide pools of Brittany" in job["post"]["title"]
    slug = job["post"]["slug"]
    assert job["post"]["url"].endswith(f"posts/{slug}/")

    page = (agent.site_dir / "posts" / slug / "index.html").read_text()
    assert "Tide pools of Brittany" in page
    with agent.client() as c:
        post = c.get(f"/api/v1/posts/{slug}").json()
        listed = [p["slug"] for p in c.get("/api/v1/posts").json()]
    assert post["skill_version"] == skill_versions["blog-writer"]
    assert post["markdown"].startswith("# Tide pools of Brittany")
    assert slug in listed

    # The session followed the safe profile and carried the skill and the brief.
    (request,) = _chat_requests(provider)
    body = request["body"]
    assert "tools" not in body or not body["tools"]
    system = body["messages"][0]
    assert system["role"] == "system"
    assert "Write for curious engineers" in system["content"]
    assert "description:" not in system["content"]  # front matter stripped
    user = body["messages"][-1]["content"]
    user = user if isinstance(user, str) else " ".join(p.get("text", "") for p in user)
    assert "Audience: hikers" in user and "Keywords: algae, crabs" in user
    assert body["stream"] is True


def test_the_requested_skill_and_its_version_are_recorded(
    agent: AgentProcess, provider: ScriptedProvider, skill_versions: dict[str, str]
) -> None:
    job = agent.wait_final(agent.submit("Short notes on sourdough", skill="concise-writer")["id"])
    assert job["status"] == "succeeded", job
    assert job["skill"] == "concise-writer"
    assert job["skill_version"] == skill_versions["concise-writer"]
    assert skill_versions["concise-writer"] != skill_versions["blog-writer"]
    (request,) = _chat_requests(provider)
    assert "CONCISE-MARKER" in request["body"]["messages"][0]["content"]
    with agent.client() as c:
        post = c.get(f"/api/v1/posts/{job['post']['slug']}").json()
    assert str(post["front_matter"]["skill_version"]) == skill_versions["concise-writer"]


def test_an_unknown_skill_is_a_422_listing_the_available_ones(agent: AgentProcess) -> None:
    with agent.client() as c:
        resp = c.post("/api/v1/posts", json={"topic": "x", "skill": "no-such-skill"})
        jobs_before = len(c.get("/api/v1/jobs").json())
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith(PROBLEM)
    problem = resp.json()
    assert problem["available"] == ["blog-writer", "concise-writer"]
    assert "no-such-skill" in problem["detail"]
    with agent.client() as c:
        assert len(c.get("/api/v1/jobs").json()) == jobs_before


def test_bad_requests_are_problems(agent: AgentProcess) -> None:
    with agent.client() as c:
        empty = c.post("/api/v1/posts", json={"topic": ""})
        long = c.post("/api/v1/posts", json={"topic": "x" * 2001})
        extra = c.post("/api/v1/posts", json={"topic": "x", "colour": "red"})
        missing = c.get("/api/v1/jobs/does-not-exist")
        no_post = c.get("/api/v1/posts/no-such-post")
        bad_slug = c.get("/api/v1/posts/..%2F..%2Fetc")
    for resp in (empty, long, extra):
        assert resp.status_code == 422 and resp.headers["content-type"].startswith(PROBLEM)
    assert missing.status_code == 404 and missing.json()["title"] == "Job Not Found"
    assert no_post.status_code == 404 and no_post.headers["content-type"].startswith(PROBLEM)
    assert bad_slug.status_code == 404


def test_write_endpoints_need_the_token(agent: AgentProcess) -> None:
    with agent.client(authorized=False) as c:
        post = c.post("/api/v1/posts", json={"topic": "x"})
        delete = c.delete("/api/v1/posts/anything")
        cancel = c.delete("/api/v1/jobs/anything")
        wrong = c.post(
            "/api/v1/posts", json={"topic": "x"}, headers={"Authorization": "Bearer nope"}
        )
        read = c.get("/api/v1/jobs")
    for resp in (post, delete, cancel, wrong):
        assert resp.status_code == 401 and resp.headers["content-type"].startswith(PROBLEM)
    assert read.status_code == 200
    assert API_TOKEN not in post.text


def test_eight_concurrent_jobs_each_land_on_their_own_post(agent: AgentProcess) -> None:
    topics = [f"Concurrency topic number {i}" for i in range(8)]
    ids = [agent.submit(t)["id"] for t in topics]
    jobs = [agent.wait_final(i, timeout=180) for i in ids]
    assert [j["status"] for j in jobs] == ["succeeded"] * 8, [j["error"] for j in jobs]
    slugs = {j["post"]["slug"] for j in jobs}
    assert len(slugs) == 8
    for topic, job in zip(topics, jobs, strict=True):
        assert topic in job["post"]["title"]
        page = (agent.site_dir / "posts" / job["post"]["slug"] / "index.html").read_text()
        assert f"{topic}: a field guide" in page
        assert all(other not in page for other in topics if other != topic)
    with agent.client() as c:
        listed = {p["slug"] for p in c.get("/api/v1/posts").json()}
    assert slugs <= listed
    # Every finished Copilot session was deleted (the CLI keeps them otherwise).
    sessions = agent.state_dir / "copilot-home" / "session-state"
    leftovers = [p.name for p in sessions.glob("*-*-*-*-*") if p.is_dir()]
    assert leftovers == []


def test_cancel_a_running_job(agent: AgentProcess, provider: ScriptedProvider) -> None:
    provider.set_pace(tokens_per_s=10, tokens=600)  # a minute of writing
    job_id = agent.submit("A post that will be cancelled")["id"]
    agent.wait_status(job_id, "running")
    posts_before = sorted(p.name for p in (agent.site_dir / "posts").iterdir())
    with agent.client() as c:
        resp = c.delete(f"/api/v1/jobs/{job_id}")
    assert resp.status_code == 200
    assert resp.json()["status"] == "cancelled"
    events = agent.events(job_id)
    assert events[-1]["event"] == "status" and events[-1]["data"]["status"] == "cancelled"
    assert not any(e["event"] == "published" for e in events)
    assert sorted(p.name for p in (agent.site_dir / "posts").iterdir()) == posts_before
    with agent.client() as c:
        again = c.delete(f"/api/v1/jobs/{job_id}")
        listed = c.get("/api/v1/jobs", params={"status": "cancelled"}).json()
    assert again.status_code == 409
    assert job_id in [j["id"] for j in listed]
    # The agent is still healthy: the next job runs normally.
    provider.set_pace(tokens_per_s=0, tokens=60)
    assert agent.wait_final(agent.submit("After a cancel")["id"])["status"] == "succeeded"


def test_delete_a_post(agent: AgentProcess) -> None:
    job = agent.wait_final(agent.submit("A post to delete")["id"])
    slug = job["post"]["slug"]
    with agent.client() as c:
        assert c.delete(f"/api/v1/posts/{slug}").status_code == 204
        assert c.get(f"/api/v1/posts/{slug}").status_code == 404
        assert c.delete(f"/api/v1/posts/{slug}").status_code == 404
    assert not (agent.site_dir / "posts" / slug).exists()


def test_health_readiness_and_metrics(agent: AgentProcess) -> None:
    with agent.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
        metrics = c.get("/metrics").text
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"copilot_cli": "ok", "state": "ok", "skills": "ok"}
    for name in (
        'blogpod_jobs{status="succeeded"}',
        "blogpod_job_duration_seconds_bucket",
        'blogpod_tokens_total{direction="output"}',
        "blogpod_queue_depth",
        "blogpod_active_sessions",
        "blogpod_sse_streams",
    ):
        assert name in metrics


def test_jobs_are_listed_newest_first(agent: AgentProcess) -> None:
    first = agent.submit("Listing one")["id"]
    second = agent.submit("Listing two")["id"]
    agent.wait_final(first)
    agent.wait_final(second)
    with agent.client() as c:
        ids = [j["id"] for j in c.get("/api/v1/jobs", params={"limit": 2}).json()]
    assert ids == [second, first]
