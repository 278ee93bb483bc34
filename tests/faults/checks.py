"""Assertions the fault cases share: what a user would check after something went wrong."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import Any

import httpx

from tests.support.pod import LocalPod
from tests.support.scripted_provider import ProviderControl


def topic(label: str) -> str:
    """A unique topic, so the provider's records and the posts can be told apart."""
    return f"Fault {label} {uuid.uuid4().hex[:6]}"


def job_seconds(job: dict[str, Any]) -> float:
    """From the job's creation to its final status, by the agent's own clock."""
    start = datetime.fromisoformat(job["created_at"])
    end = datetime.fromisoformat(job["finished_at"])
    return (end - start).total_seconds()


def assert_user_error(job: dict[str, Any], *words: str) -> str:
    """The job's error is one readable message (no traceback) naming one of ``words``."""
    error = job.get("error")
    assert isinstance(error, str) and error.strip(), f"no error message: {job}"
    assert "Traceback" not in error and "\n  File " not in error, error
    assert len(error) < 600, f"error too long to read: {error!r}"
    lowered = error.lower()
    assert any(w in lowered for w in words), f"error {error!r} names none of {words}"
    return error


def assert_healthy(pod: LocalPod) -> None:
    """Every process alive and every probe answering 200 (the API through nginx too)."""
    for name, proc in pod.procs.items():
        assert proc.proc.poll() is None, f"{name} exited:\n{proc.logs()[-3000:]}"
    status = pod.healthy()
    assert all(code == 200 for code in status.values()), f"{status}\n{pod.logs()[-4000:]}"


def assert_site_intact(pod: LocalPod) -> None:
    """No temp file anywhere in the site, and every post folder complete and listed."""
    assert pod.site_temp_files() == [], pod.site_temp_files()
    assert pod.incomplete_posts() == [], pod.incomplete_posts()


def assert_next_job_works(pod: LocalPod, timeout: float = 180.0) -> dict[str, Any]:
    """A new job succeeds and its page is served by nginx."""
    name = topic("recovery")
    job = pod.wait_job(pod.write(name)["id"], timeout=timeout)
    assert job["status"] == "succeeded", f"{job}\n{pod.logs()[-4000:]}"
    page = pod.http.get(job["post"]["url"])
    assert page.status_code == 200, page.status_code
    assert name in page.text
    return job


def wait_provider_request(
    provider: ProviderControl, text: str, timeout: float = 60.0
) -> dict[str, Any]:
    """The provider's first chat request whose body mentions ``text`` (bounded wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in provider.requests():
            if text in json.dumps(record.get("body", {})):
                return record
        time.sleep(0.05)
    raise AssertionError(f"the provider got no request about {text!r} within {timeout}s")


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not reached within {timeout}s (last: {last!r})")


def is_problem(resp: httpx.Response) -> bool:
    """An RFC 9457 problem: the media type, and a body with at least status and title."""
    if not resp.headers.get("content-type", "").startswith("application/problem+json"):
        return False
    try:
        body = resp.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("status") == resp.status_code and "title" in body
