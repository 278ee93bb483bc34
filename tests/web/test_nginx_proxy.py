"""Real nginx (the rendered config) in front of fake upstreams: routing, SSE, limits, headers."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import SAMPLE_POST, Front

pytestmark = pytest.mark.slow

SECURITY_HEADERS = (
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
)


def test_routes_skills_paths_to_the_skill_server_and_the_rest_to_the_agent(front: Front) -> None:
    with httpx.Client(base_url=front.url) as client:
        for path in ("/api/v1/skills", "/api/v1/skills/blog-writer", "/api/v1/catalog"):
            assert client.get(path).json()["upstream"] == "skills", path
        assert client.post("/api/v1/skills:validate", json={}).json()["upstream"] == "skills"
        assert client.post("/api/v1/sync").json()["upstream"] == "skills"
        for path in ("/api/v1/jobs", "/api/v1/posts", "/api/v1/jobs/abc"):
            assert client.get(path).json()["upstream"] == "agent", path
        assert client.delete("/api/v1/jobs/abc").json()["upstream"] == "agent"
    assert ("POST", "/api/v1/skills:validate") in front.skills.requests
    assert ("DELETE", "/api/v1/jobs/abc") in front.agent.requests


def test_event_stream_arrives_in_pieces(front: Front) -> None:
    """The client must read the first events while the upstream still holds back the rest."""
    gate = front.agent.gate
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    first_seen_before_last_sent: bool | None = None
    with (
        httpx.Client(base_url=front.url, timeout=60) as client,
        client.stream("GET", "/api/v1/jobs/job-1/events") as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in resp.headers
        for line in resp.iter_lines():
            if line:
                key, _, value = line.partition(": ")
                current[key] = value
                continue
            if current:
                events.append(current)
                current = {}
            if len(events) == 1:
                first_seen_before_last_sent = not gate.last_part_sent.is_set()
                gate.client_saw_first.set()
    assert first_seen_before_last_sent is True
    assert gate.released_by_client is True, "upstream gave up waiting: the proxy buffered"
    total = front.agent.first_events + front.agent.last_events + 1
    assert len(events) == total
    assert [e["id"] for e in events[:3]] == ["0", "1", "2"]
    assert events[-1]["event"] == "end"
    assert json.loads(events[5]["data"])["text"].startswith("5 ")


def test_security_headers_on_every_kind_of_response(front: Front) -> None:
    with httpx.Client(base_url=front.url) as client:
        responses = [
            client.get("/"),
            client.get(f"/posts/{SAMPLE_POST}/"),
            client.get("/studio/"),
            client.get("/studio/studio.js"),
            client.get("/api/v1/jobs"),
            client.get("/healthz"),
            client.get("/no-such-page"),
            client.get("/api/v9/nothing"),
        ]
    for resp in responses:
        for header in SECURITY_HEADERS:
            assert header in resp.headers, (resp.url, header)
        csp = resp.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert resp.headers["x-content-type-options"] == "nosniff"


def test_site_pages_types_and_cache_headers(front: Front) -> None:
    with httpx.Client(base_url=front.url) as client:
        index = client.get("/")
        post = client.get(f"/posts/{SAMPLE_POST}/")
        bare = client.get(f"/posts/{SAMPLE_POST}")
        feed = client.get("/feed.xml")
        css = client.get("/assets/blog.css", headers={"Accept-Encoding": "gzip"})
        studio = client.get("/studio")
        health = client.get("/healthz")
    assert index.status_code == 200 and "Blog index" in index.text
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert post.status_code == 200 and "Hello world" in post.text
    assert "max-age=300" in post.headers["cache-control"]
    assert bare.status_code == 301 and bare.headers["location"] == f"/posts/{SAMPLE_POST}/"
    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert css.headers["content-type"].startswith("text/css")
    assert css.headers.get("content-encoding") == "gzip"
    assert studio.status_code == 301 and studio.headers["location"] == "/studio/"
    assert health.status_code == 200 and health.text == "ok\n"
    assert not front.agent.requests and not front.skills.requests


def test_unknown_paths_get_404_from_nginx_not_the_agent(front: Front) -> None:
    with httpx.Client(base_url=front.url) as client:
        page = client.get("/no-such-page")
        dotfile = client.get("/.secret")
        api = client.get("/api/v2/posts")
        bare_api = client.post("/api/nothing", json={})
    assert page.status_code == 404
    assert dotfile.status_code == 404
    for resp in (api, bare_api):
        assert resp.status_code == 404
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["status"] == 404
    assert not front.agent.requests and not front.skills.requests


def test_api_paths_nginx_cannot_parse_or_that_look_like_dotfiles(front: Front) -> None:
    with httpx.Client(base_url=front.url) as client:
        nul_api = client.get("/api/v1/posts/a%00b")  # refused while nginx parses the line
        nul_site = client.get("/posts/a%00b")
        dots = client.get("/api/v1/posts/....%2F%2F....%2F%2Fetc")  # not the dot-file guard
    assert nul_api.status_code == 400
    assert nul_api.headers["content-type"] == "application/problem+json"
    assert nul_api.json()["status"] == 400
    assert nul_site.status_code == 400
    assert nul_site.headers["content-type"].startswith("text/html")
    for resp in (nul_api, nul_site):
        assert all(h in resp.headers for h in SECURITY_HEADERS)
    assert dots.status_code == 200  # the fake agent answered: it was proxied
    assert front.agent.requests == [("GET", "/api/v1/posts/....%2F%2F....%2F%2Fetc")]


def test_post_flood_gets_429_problem(front: Front) -> None:
    """Rate 2r/m with burst 3: of 12 quick POSTs, some pass and the rest get 429."""
    with httpx.Client(base_url=front.url) as client:
        statuses = [
            client.post("/api/v1/posts", json={"topic": "x"}).status_code for _ in range(12)
        ]
        limited = client.post("/api/v1/posts", json={"topic": "x"})
        reads = [client.get("/api/v1/jobs").status_code for _ in range(12)]
    assert 202 in statuses and 429 in statuses
    assert statuses.count(202) <= 4  # burst 3 + at most one refill
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.json()["title"] == "Too Many Requests"
    assert limited.headers["retry-after"] == "60"
    assert "content-security-policy" in limited.headers
    assert set(reads) == {200}  # reads are never limited
    posted = [r for r in front.agent.requests if r[0] == "POST"]
    assert len(posted) == statuses.count(202)


def test_oversized_body_gets_413_problem(front: Front) -> None:
    with httpx.Client(base_url=front.url) as client:
        resp = client.post(
            "/api/v1/posts", content=b"x" * 20_000, headers={"Content-Type": "application/json"}
        )
    assert resp.status_code == 413
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["status"] == 413
    assert not front.agent.requests


def test_upstream_down_gets_502_problem(front: Front) -> None:
    front.skills.server.shutdown()
    front.skills.server.server_close()
    with httpx.Client(base_url=front.url) as client:
        resp = client.get("/api/v1/skills")
    assert resp.status_code == 502
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["title"] == "Bad Gateway"


def test_json_access_log(front: Front) -> None:
    with httpx.Client(base_url=front.url) as client:
        client.get("/api/v1/jobs", headers={"User-Agent": 'quote " test'})
    lines = [line for line in front.process.logs().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    hit = [r for r in records if r["uri"] == "/api/v1/jobs"]
    assert hit and hit[0]["status"] == 200 and hit[0]["service"] == "web"
    assert hit[0]["user_agent"] == 'quote " test'
    assert hit[0]["upstream_status"] == "200"


def test_event_stream_is_not_limited_or_buffered_when_many_read(front: Front) -> None:
    """Several readers of one job's stream at once each get the first events."""
    gate = front.agent.gate
    gate.client_saw_first.set()  # do not hold the stream back in this test
    results: list[int] = []

    def read() -> None:
        with httpx.Client(base_url=front.url, timeout=60) as client:
            resp = client.get("/api/v1/jobs/j/events")
            results.append(resp.text.count("event: delta"))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [front.agent.first_events + front.agent.last_events] * 4


def test_before_the_first_post_the_root_leads_to_the_studio(front: Front) -> None:
    (Path(front.env["BLOGPOD_SITE_DIR"]) / "index.html").unlink()
    with httpx.Client(base_url=front.url) as client:
        root = client.get("/")
        favicon = client.get("/favicon.ico")
    assert root.status_code == 302 and root.headers["location"] == "/studio/"
    assert favicon.status_code == 204
    assert "content-security-policy" in root.headers
