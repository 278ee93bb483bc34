"""Oversized and hostile inputs through nginx, as an attacker would send them.

Expected outcome for each: a 4xx answer in ``application/problem+json`` (whether nginx or the
service answers), nothing leaked from the file system, nothing deleted, the Pod still healthy.
"""

from __future__ import annotations

import json
import posixpath
import re
from urllib.parse import unquote

import pytest

from tests.faults.checks import assert_healthy, assert_next_job_works, is_problem
from tests.support.pod import LocalPod

pytestmark = pytest.mark.slow

PASSWD_MARK = "root:x:0:0"

#: Path segments as sent on the wire (httpx would resolve a literal ``..`` before sending).
TRAVERSALS = [
    "%2e%2e",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fstate",
    "....%2F%2F....%2F%2Fetc",
    "%252e%252e%252fetc%252fpasswd",
    "posts.json",
    "%00",
    "a%00b",
    "x" * 300,
]


def _assert_4xx_problem(resp: object, what: str) -> None:
    import httpx

    assert isinstance(resp, httpx.Response)
    assert 400 <= resp.status_code < 500, f"{what} -> {resp.status_code}: {resp.text[:300]}"
    assert is_problem(resp), f"{what}: not problem+json: {resp.headers} {resp.text[:300]}"
    assert PASSWD_MARK not in resp.text


def test_huge_topic_over_the_body_limit(fresh: LocalPod) -> None:
    body = json.dumps({"topic": "x" * (2 * 1024 * 1024)})
    resp = fresh.http.post(
        "/api/v1/posts", content=body, headers={"content-type": "application/json"}
    )
    _assert_4xx_problem(resp, "a 2 MiB topic")
    assert resp.status_code == 413


def test_topic_longer_than_allowed(fresh: LocalPod) -> None:
    resp = fresh.http.post("/api/v1/posts", json={"topic": "word " * 2000})
    _assert_4xx_problem(resp, "a 10,000-character topic")


@pytest.mark.parametrize(
    "bad",
    ["nul \x00 byte", "escape \x1b[2J\x1b[31m red", "bell \x07", "backspace \x08\x08", "del \x7f"],
    ids=["nul", "ansi-escape", "bell", "backspace", "del"],
)
def test_control_characters_in_topic(fresh: LocalPod, bad: str) -> None:
    resp = fresh.http.post("/api/v1/posts", json={"topic": f"A topic with a {bad}"})
    _assert_4xx_problem(resp, f"topic {bad!r}")


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"topic": 42}',
        b'{"topic": "ok", "unexpected": true}',
        b'{"topic": "ok", "keywords": "not a list"}',
        b'{"topic": "\xff\xfe"}',
    ],
    ids=["broken-json", "array", "number", "extra-field", "keywords-type", "bad-utf8"],
)
def test_malformed_post_bodies(fresh: LocalPod, body: bytes) -> None:
    resp = fresh.http.post(
        "/api/v1/posts", content=body, headers={"content-type": "application/json"}
    )
    _assert_4xx_problem(resp, f"body {body!r}")


@pytest.mark.parametrize("name", ["../../etc/passwd", "..", "Blog-Writer", "a/b", "x" * 200])
def test_traversal_in_skill_name_of_a_post(fresh: LocalPod, name: str) -> None:
    resp = fresh.http.post("/api/v1/posts", json={"topic": "A fine topic", "skill": name})
    _assert_4xx_problem(resp, f"skill {name!r}")


@pytest.mark.parametrize("segment", TRAVERSALS)
def test_traversal_in_paths(fresh: LocalPod, segment: str) -> None:
    before = fresh.site_snapshot()
    state_before = _state_files(fresh)
    targets = [
        ("GET", f"/api/v1/posts/{segment}"),
        ("DELETE", f"/api/v1/posts/{segment}"),
        ("GET", f"/api/v1/jobs/{segment}"),
        ("GET", f"/api/v1/jobs/{segment}/events"),
        ("DELETE", f"/api/v1/jobs/{segment}"),
        ("GET", f"/api/v1/skills/{segment}"),
        ("GET", f"/api/v1/skills/{segment}/raw"),
    ]
    for method, path in targets:
        resp = fresh.http.request(method, path)
        if _resolved_by_nginx(path).startswith("/api/"):
            _assert_4xx_problem(resp, f"{method} {path}")
        else:
            # nginx resolved the dots to a path outside the API: the static site answers,
            # from the site folder only.
            assert 400 <= resp.status_code < 500, f"{method} {path} -> {resp.status_code}"
            assert PASSWD_MARK not in resp.text
    assert fresh.site_snapshot() == before
    assert _state_files(fresh) == state_before


def _resolved_by_nginx(path: str) -> str:
    """The path nginx routes on: percent-decoded once, slashes merged, dot segments resolved."""
    decoded = unquote(path)
    resolved = posixpath.normpath(re.sub("/+", "/", decoded))
    return resolved + ("/" if decoded.endswith("/") else "")


def _state_files(pod: LocalPod) -> list[str]:
    """Top-level files of the agent's state (SQLite's own journal files come and go)."""
    transient = ("-wal", "-shm", "-journal")
    return sorted(p.name for p in pod.layout.state.iterdir() if not p.name.endswith(transient))


def test_pod_still_healthy_after_hostile_inputs(fresh: LocalPod) -> None:
    assert_healthy(fresh)
    assert_next_job_works(fresh)
