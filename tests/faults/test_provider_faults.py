"""The provider misbehaves: each fault ends the job in a stated state with an error a user
understands, well within the job's bounds; the Pod stays healthy and the next job works.

Expected outcomes:
- connections refused (provider down): failed, "connect"/"reach"/"refused" named.
- HTTP 500 on every try: failed, the server error named.
- HTTP 400: failed at once (no retry), the rejected request named.
- hangs (no byte): failed after the inactivity timeout (30 s here), not the job timeout.
- drops the stream once mid-post: the CLI retries, the job succeeds with ONE copy of the post.
- drops the stream on every try: failed, the interrupted answer named.
"""

from __future__ import annotations

import pytest

from tests.faults.checks import (
    assert_healthy,
    assert_next_job_works,
    assert_site_intact,
    assert_user_error,
    job_seconds,
    topic,
)
from tests.faults.conftest import INACTIVITY_TIMEOUT_S, JOB_TIMEOUT_S, Provider
from tests.support.pod import LocalPod

pytestmark = pytest.mark.slow

#: Enough scripted behaviours to cover every retry the CLI makes on its own.
EVERY_TRY = 12


def _fail_job(pod: LocalPod, label: str) -> dict[str, object]:
    before = pod.site_snapshot()
    job = pod.wait_job(pod.write(topic(label))["id"], timeout=JOB_TIMEOUT_S + 60)
    assert job["status"] == "failed", job
    assert job["post"] is None
    # The fault ended the job, not the job's total timeout.
    assert job_seconds(job) < JOB_TIMEOUT_S, job
    assert pod.site_snapshot() == before, "a failed job changed the site"
    return job


def test_provider_refuses_connections(fresh: LocalPod, provider: Provider) -> None:
    provider.stop()
    job = _fail_job(fresh, "refused")
    assert_user_error(job, "connect", "reach", "refused", "unavailable")
    assert_healthy(fresh)
    provider.start()
    assert_next_job_works(fresh)


def test_provider_answers_500(fresh: LocalPod, provider: Provider) -> None:
    provider.control.script({"kind": "http500", "times": EVERY_TRY})
    job = _fail_job(fresh, "http500")
    assert_user_error(job, "500", "server error", "provider")
    assert_healthy(fresh)
    provider.reset()
    assert_next_job_works(fresh)


def test_provider_answers_400(fresh: LocalPod, provider: Provider) -> None:
    provider.control.script({"kind": "http400", "times": EVERY_TRY})
    job = _fail_job(fresh, "http400")
    assert_user_error(job, "400", "bad request", "rejected", "invalid")
    # A 400 is not transient: asked once, not retried.
    asked = [r for r in provider.control.requests() if r["behaviour"]["kind"] == "http400"]
    assert len(asked) == 1, asked
    assert_healthy(fresh)
    provider.reset()
    assert_next_job_works(fresh)


def test_provider_hangs(fresh: LocalPod, provider: Provider) -> None:
    provider.control.script({"kind": "hang", "times": EVERY_TRY, "limit_s": 600})
    job = _fail_job(fresh, "hang")
    assert_user_error(job, "sent nothing", "no output", "stalled", "timed out", "timeout")
    # It waited for the inactivity bound, not for the total one.
    assert INACTIVITY_TIMEOUT_S <= job_seconds(job) < JOB_TIMEOUT_S, job
    assert_healthy(fresh)
    provider.reset()
    assert_next_job_works(fresh)


def test_provider_drops_the_stream_once(fresh: LocalPod, provider: Provider) -> None:
    provider.control.script({"kind": "drop", "after": 15})
    name = topic("drop-once")
    job = fresh.wait_job(fresh.write(name)["id"], timeout=JOB_TIMEOUT_S)
    assert job["status"] == "succeeded", f"{job}\n{fresh.logs()[-4000:]}"
    post = fresh.http.get(f"/api/v1/posts/{job['post']['slug']}").json()
    # The retried answer replaced the cut one: one title, not a half post plus a whole one.
    assert post["markdown"].count(f"# {name}") == 1, post["markdown"][:500]
    events = fresh.events(job["id"])
    text = "".join(d["text"] for kind, d in events if kind == "delta")
    assert f"# {name}" in text
    assert_site_intact(fresh)
    assert_healthy(fresh)


def test_provider_drops_the_stream_every_time(fresh: LocalPod, provider: Provider) -> None:
    provider.control.script({"kind": "drop", "after": 5, "times": EVERY_TRY})
    job = _fail_job(fresh, "drop-always")
    assert_user_error(job, "interrupted", "incomplete", "dropped", "closed", "ended", "provider")
    assert_healthy(fresh)
    provider.reset()
    assert_next_job_works(fresh)
