"""What every benchmark needs: a paced provider process, the local Pod, a timed job, an RSS
sampler and the provider's own stream time as the baseline.

All times are ``time.time()`` on this machine, so the provider's records (it stamps each chat
request with ``time.time()`` when it arrives) and the client's events share one clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from tests.support.pod import LocalPod, running_provider_process
from tests.support.processes import free_port
from tests.support.scripted_provider import ProviderControl


@dataclass(frozen=True)
class Pace:
    first_token_ms: float = 300.0
    tokens_per_s: float = 50.0
    tokens: int = 600


@dataclass
class BenchPod:
    pod: LocalPod
    provider: ProviderControl
    pace: Pace


@contextlib.contextmanager
def bench_pod(pace: Pace, max_jobs: int = 32, **env: str) -> Iterator[BenchPod]:
    """A paced provider process and the local Pod wired to it, both stopped on exit."""
    port = free_port()
    provider_proc = running_provider_process(
        port, pace.first_token_ms, pace.tokens_per_s, pace.tokens
    )
    with tempfile.TemporaryDirectory(prefix="blogpod-bench-") as tmp:
        pod_env = {
            "BLOGPOD_MAX_CONCURRENT_JOBS": str(max_jobs),
            "BLOGPOD_QUEUE_SIZE": str(max(64, max_jobs * 2)),
            "BLOGPOD_LOG_LEVEL": "WARNING",
            **env,
        }
        pod = LocalPod(Path(tmp), f"http://127.0.0.1:{port}/v1", env=pod_env)
        try:
            pod.start()
            yield BenchPod(pod, ProviderControl(f"http://127.0.0.1:{port}"), pace)
        finally:
            pod.stop()
            provider_proc.stop()


# --- one timed job ---------------------------------------------------------------------------


@dataclass
class JobTiming:
    """Client-side timestamps of one job, from the POST to its page being served."""

    topic: str
    t_post: float
    job_id: str = ""
    t_accepted: float = 0.0
    t_first_delta: float = 0.0
    t_last_delta: float = 0.0
    t_published: float = 0.0
    t_served: float = 0.0
    status: str = ""
    deltas: int = 0
    text: str = ""
    url: str = ""
    error: str = ""
    skill_version: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "succeeded" and self.t_served > 0

    @property
    def latency_s(self) -> float:
        return self.t_served - self.t_post


async def watch(
    client: httpx.AsyncClient, events_url: str, on_event: Any = None, timeout: float = 300.0
) -> list[tuple[float, str, dict[str, Any]]]:
    """Every event of a job stream with its arrival time, until the stream ends."""
    seen: list[tuple[float, str, dict[str, Any]]] = []
    async with asyncio.timeout(timeout):
        async with aconnect_sse(client, "GET", events_url) as source:
            if source.response.status_code != 200:
                raise RuntimeError(f"GET {events_url} -> {source.response.status_code}")
            async for sse in source.aiter_sse():
                now = time.time()
                data = json.loads(sse.data) if sse.data else {}
                seen.append((now, sse.event, data))
                if on_event is not None:
                    on_event(now, sse.event, data)
    return seen


async def wait_served(client: httpx.AsyncClient, url: str, timeout: float = 30.0) -> float:
    """Poll the post's page through nginx until it answers 200; the time it first did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = await client.get(url)
        if resp.status_code == 200:
            return time.time()
        await asyncio.sleep(0.005)
    raise TimeoutError(f"{url} not served after {timeout}s")


async def timed_job(client: httpx.AsyncClient, topic: str, timeout: float = 300.0) -> JobTiming:
    """POST a job through nginx, follow its events, and wait until its page is served."""
    timing = JobTiming(topic=topic, t_post=time.time())
    resp = await client.post("/api/v1/posts", json={"topic": topic})
    timing.t_accepted = time.time()
    if resp.status_code != 202:
        timing.status, timing.error = "refused", f"{resp.status_code}: {resp.text[:300]}"
        return timing
    job = resp.json()
    timing.job_id = job["id"]
    parts: list[str] = []

    def on_event(now: float, kind: str, data: dict[str, Any]) -> None:
        if kind == "delta":
            if not timing.t_first_delta:
                timing.t_first_delta = now
            timing.t_last_delta = now
            timing.deltas += 1
            parts.append(str(data.get("text", "")))
        elif kind == "published":
            timing.t_published = now
            timing.url = str(data.get("url", ""))
        elif kind == "error":
            timing.error = str(data.get("message", ""))
        elif kind == "status" and data.get("status") == "running":
            parts.clear()  # a retried attempt streams the post again

    events_url = job.get("events_url") or f"/api/v1/jobs/{timing.job_id}/events"
    try:
        await watch(client, events_url, on_event, timeout=timeout)
        final = (await client.get(f"/api/v1/jobs/{timing.job_id}")).json()
        timing.status = str(final.get("status", ""))
        timing.skill_version = str(final.get("skill_version") or "")
        if not timing.error and final.get("error"):
            timing.error = str(final["error"])
        post = final.get("post") or {}
        timing.url = timing.url or str(post.get("url", ""))
        if timing.status == "succeeded" and timing.url:
            timing.t_served = await wait_served(client, timing.url)
    except (httpx.HTTPError, TimeoutError, RuntimeError) as exc:
        timing.error = timing.error or f"{type(exc).__name__}: {exc}"
    timing.text = "".join(parts)
    return timing


def first_request_for(records: list[dict[str, Any]], topic: str) -> dict[str, Any] | None:
    """The provider's first chat request carrying ``topic``."""
    hits = [r for r in records if topic in json.dumps(r.get("body", {}))]
    return min(hits, key=lambda r: float(r["received_at"])) if hits else None


# --- the provider's own stream time ----------------------------------------------------------


@dataclass
class DirectStream:
    t_first_token_s: float
    total_s: float


async def direct_stream(base_url: str, topic: str) -> DirectStream:
    """Stream one reply straight from the provider: what the model alone costs."""
    body = {
        "model": "scripted-model",
        "stream": True,
        "messages": [{"role": "user", "content": f"Topic: {topic}"}],
    }
    start = time.perf_counter()
    first = 0.0
    async with (
        httpx.AsyncClient(timeout=120) as client,
        client.stream("POST", base_url + "/chat/completions", json=body) as resp,
    ):
        resp.raise_for_status()
        async for line in resp.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            choices = chunk.get("choices") or []
            if not first and choices and choices[0].get("delta", {}).get("content"):
                first = time.perf_counter() - start
    return DirectStream(first, time.perf_counter() - start)


# --- memory ----------------------------------------------------------------------------------


@dataclass
class RssSampler:
    """Samples the RSS of each service's process tree in a thread; keeps the peaks."""

    pod: LocalPod
    interval_s: float = 0.25
    peaks: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> dict[str, int]:
        now = {name: self.pod.rss_bytes(name) for name in self.pod.procs}
        for name, value in now.items():
            self.peaks[name] = max(self.peaks.get(name, 0), value)
        return now

    def __enter__(self) -> RssSampler:
        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                with contextlib.suppress(Exception):
                    self.sample()

        self.sample()
        self._thread = threading.Thread(target=loop, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.sample()


def mib(value: float) -> float:
    return round(value / (1024 * 1024), 1)
