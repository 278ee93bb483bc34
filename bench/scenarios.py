"""The six measurements of the benchmark; each returns a JSON-ready dict.

Every loop is bounded: a fixed number of runs, and every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    BenchPod,
    JobTiming,
    RssSampler,
    direct_stream,
    first_request_for,
    mib,
    timed_job,
    watch,
)
from bench.stats import summary
from blogpod.skills.catalog import CatalogUnavailable, load_current
from tests.support.pod import BLOGPOD, PodLayout, PodPorts, pod_env, seed_skills
from tests.support.processes import ServiceProcess


def _client(bp: BenchPod, timeout: float = 300.0) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    return httpx.AsyncClient(base_url=bp.pod.url, timeout=timeout, limits=limits)


def _topic(kind: str, i: int) -> str:
    return f"bench {kind} {i} {uuid.uuid4().hex[:8]}"


async def provider_baseline(bp: BenchPod, runs: int = 3) -> dict[str, Any]:
    """The provider's own stream time for the same text, streamed straight from it."""
    streams = [await direct_stream(bp.provider.base_url, _topic("direct", i)) for i in range(runs)]
    return {
        "runs": runs,
        "stream_s": summary([s.total_s for s in streams], 3),
        "first_token_s": summary([s.t_first_token_s for s in streams], 3),
        "stream_s_p50": statistics.median(s.total_s for s in streams),
    }


def _failures(timings: list[JobTiming]) -> list[str]:
    return [f"{t.topic}: {t.status} {t.error}"[:300] for t in timings if not t.ok]


# --- 1 + 2: overhead and added time to first token -------------------------------------------


async def latency(bp: BenchPod, runs: int, baseline: dict[str, Any]) -> dict[str, Any]:
    """Sequential single jobs: end-to-end time against the provider's, and added TTFT."""
    stream_s = float(baseline["stream_s_p50"])
    async with _client(bp) as client:
        warmup = await timed_job(client, _topic("warmup", 0))
        timings = [await timed_job(client, _topic("latency", i)) for i in range(runs)]
    records = bp.provider.requests()
    overhead_ms, ratio_pct, ttft_ms, to_provider_ms, tail_ms, e2e_s = [], [], [], [], [], []
    for t in timings:
        request = first_request_for(records, t.topic)
        if not t.ok or request is None:
            continue
        received = float(request["received_at"])
        e2e = t.latency_s
        e2e_s.append(e2e)
        overhead_ms.append((e2e - stream_s) * 1000)
        ratio_pct.append((e2e - stream_s) / e2e * 100)
        ttft_ms.append((t.t_first_delta - (received + bp.pace.first_token_ms / 1000)) * 1000)
        to_provider_ms.append((received - t.t_post) * 1000)
        tail_ms.append((t.t_served - (received + stream_s)) * 1000)
    return {
        "runs": runs,
        "succeeded": len(e2e_s),
        "failures": _failures(timings),
        "warmup_job_s": round(warmup.latency_s, 3) if warmup.ok else None,
        "provider_stream_s": round(stream_s, 3),
        "end_to_end_s": summary(e2e_s, 3),
        "overhead_ms": summary(overhead_ms),
        "overhead_pct_of_end_to_end": summary(ratio_pct, 2),
        "added_ttft_ms": summary(ttft_ms),
        "post_to_provider_request_ms": summary(to_provider_ms),
        "provider_end_to_served_ms": summary(tail_ms),
        "latencies_s": [round(x, 3) for x in e2e_s],
    }


# --- 3: concurrency --------------------------------------------------------------------------


async def concurrency_level(bp: BenchPod, n: int, reps: int, stream_s: float) -> dict[str, Any]:
    latencies: list[float] = []
    efficiencies: list[float] = []
    makespans: list[float] = []
    failures: list[str] = []
    with RssSampler(bp.pod) as rss:
        async with _client(bp) as client:
            for rep in range(reps):
                jobs = [timed_job(client, _topic(f"c{n}-r{rep}", i)) for i in range(n)]
                timings = await asyncio.gather(*jobs)
                failures += _failures(timings)
                done = [t for t in timings if t.ok]
                if len(done) != n:
                    continue
                makespan = max(t.t_served for t in done) - min(t.t_post for t in done)
                makespans.append(makespan)
                efficiencies.append(stream_s / makespan * 100)
                latencies += [t.latency_s for t in done]
    return {
        "jobs": n,
        "reps": reps,
        "failures": failures[:10],
        "failed": len(failures),
        "makespan_s": summary(makespans, 3),
        "throughput_jobs_per_min": round(n / statistics.median(makespans) * 60, 2)
        if makespans
        else None,
        "ideal_jobs_per_min": round(n / stream_s * 60, 2),
        "throughput_pct_of_ideal": summary(efficiencies, 1),
        "latency_s": summary(latencies, 3),
        "peak_rss_mib": {name: mib(value) for name, value in rss.peaks.items()},
    }


async def concurrency(
    bp: BenchPod, levels: list[int], reps: dict[int, int], baseline: dict[str, Any]
) -> dict[str, Any]:
    stream_s = float(baseline["stream_s_p50"])
    idle = RssSampler(bp.pod).sample()
    out: dict[str, Any] = {
        "max_concurrent_jobs": bp.pod.env.get("BLOGPOD_MAX_CONCURRENT_JOBS"),
        "idle_rss_mib": {name: mib(value) for name, value in idle.items()},
        "levels": {},
    }
    for n in levels:
        out["levels"][str(n)] = await concurrency_level(bp, n, reps.get(n, 1), stream_s)
    return out


# --- 4: skill propagation --------------------------------------------------------------------


def _replace_atomically(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(prefix=".bench-", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(temp, path)


def _live_version(shared: Path, name: str) -> str | None:
    try:
        entry = load_current(shared).catalog.get(name)
    except CatalogUnavailable:
        return None
    return entry.version if entry else None


async def _api_version(client: httpx.AsyncClient, name: str) -> str | None:
    resp = await client.get(f"/api/v1/skills/{name}")
    return str(resp.json().get("version")) if resp.status_code == 200 else None


async def _wait_new_version(
    client: httpx.AsyncClient, shared: Path, name: str, old: str | None, timeout: float = 30.0
) -> tuple[float | None, float | None]:
    """Times at which the on-disk snapshot and the API first show a version other than old."""
    disk_at = api_at = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (disk_at is None or api_at is None):
        now = time.time()
        if disk_at is None and _live_version(shared, name) not in (None, old):
            disk_at = now
        if api_at is None and (await _api_version(client, name)) not in (None, old):
            api_at = time.time()
        await asyncio.sleep(0.005)
    return disk_at, api_at


def _parse_time(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def skill_propagation(bp: BenchPod, changes: int, job_changes: int) -> dict[str, Any]:
    pod = bp.pod
    name = "blog-writer"
    skill_md = pod.layout.skills_source / name / "SKILL.md"
    original = skill_md.read_text()
    shared = pod.layout.skills_shared
    disk_ms: list[float] = []
    api_ms: list[float] = []
    missed = 0
    job_ms: list[float] = []
    jobs_needed: list[int] = []
    async with httpx.AsyncClient(base_url=pod.url, timeout=30) as client:
        version = _live_version(shared, name)
        for i in range(changes):
            t0 = time.time()
            _replace_atomically(
                skill_md, original + f"\n<!-- bench change {i} {uuid.uuid4()} -->\n"
            )
            disk_at, api_at = await _wait_new_version(client, shared, name, version)
            if disk_at is None or api_at is None:
                missed += 1
            else:
                disk_ms.append((disk_at - t0) * 1000)
                api_ms.append((api_at - t0) * 1000)
            version = _live_version(shared, name)
            await asyncio.sleep(0.2)
        # Until the next job records it: fast provider, a job posted right after the change.
        bp.provider.set_pace(first_token_ms=0, tokens_per_s=0, tokens=30)
        try:
            for i in range(job_changes):
                t0 = time.time()
                _replace_atomically(
                    skill_md, original + f"\n<!-- bench job {i} {uuid.uuid4()} -->\n"
                )
                for attempt in range(1, 21):  # bounded: 20 jobs at most
                    t = await timed_job(client, _topic("skill", i), timeout=120)
                    new = _live_version(shared, name)
                    if t.skill_version and t.skill_version == new and new != version:
                        started = _parse_time(
                            (await client.get(f"/api/v1/jobs/{t.job_id}")).json().get("started_at")
                        )
                        job_ms.append(((started or t.t_accepted) - t0) * 1000)
                        jobs_needed.append(attempt)
                        break
                version = _live_version(shared, name)
        finally:
            bp.provider.set_pace(
                first_token_ms=bp.pace.first_token_ms,
                tokens_per_s=bp.pace.tokens_per_s,
                tokens=bp.pace.tokens,
            )
            _replace_atomically(skill_md, original)
    return {
        "changes": changes,
        "missed": missed,
        "snapshot_live_ms": summary(disk_ms),
        "api_live_ms": summary(api_ms),
        "job_changes": job_changes,
        "next_job_records_ms": summary(job_ms),
        "jobs_posted_until_recorded": jobs_needed,
    }


# --- 5: cold start ---------------------------------------------------------------------------


def _all_ready(urls: list[str]) -> bool:
    for url in urls:
        try:
            if httpx.get(url, timeout=1.0).status_code != 200:
                return False
        except httpx.HTTPError:
            return False
    return True


def cold_start(provider_url: str, runs: int, timeout: float = 60.0) -> dict[str, Any]:
    """``blogpod up`` (no local model) until nginx, the agent and the skill server are ready."""
    times: list[float] = []
    failures: list[str] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="blogpod-cold-") as tmp:
            layout = PodLayout(Path(tmp))
            ports = PodPorts()
            layout.make()
            seed_skills(layout.skills_source)
            env = pod_env(layout, ports, provider_url, BLOGPOD_LOG_LEVEL="WARNING")
            urls = [
                f"http://127.0.0.1:{ports.web}/healthz",
                f"http://127.0.0.1:{ports.agent}/readyz",
                f"http://127.0.0.1:{ports.skills}/readyz",
                f"http://127.0.0.1:{ports.web}/api/v1/jobs",
            ]
            start = time.monotonic()
            proc = ServiceProcess([BLOGPOD, "up"], env=env, cwd=Path(tmp))
            try:
                while time.monotonic() - start < timeout:
                    if proc.proc.poll() is not None:
                        failures.append(f"exited {proc.proc.returncode}: {proc.logs()[-500:]}")
                        break
                    if _all_ready(urls):
                        times.append(time.monotonic() - start)
                        break
                    time.sleep(0.02)
                else:
                    failures.append(f"not ready after {timeout}s: {proc.logs()[-500:]}")
            finally:
                proc.stop(timeout=20)
    return {"runs": runs, "ready_s": summary(times, 3), "failures": failures}


# --- 6: fan-out ------------------------------------------------------------------------------


async def fan_out(bp: BenchPod, watchers: int, runs: int) -> dict[str, Any]:
    """One job, many SSE watchers through nginx: does each receive every delta, and when."""
    results = []
    async with _client(bp) as client:
        for run in range(runs):
            resp = await client.post("/api/v1/posts", json={"topic": _topic("fanout", run)})
            resp.raise_for_status()
            job = resp.json()
            url = job.get("events_url") or f"/api/v1/jobs/{job['id']}/events"
            streams = await asyncio.gather(
                *(watch(client, url, timeout=300) for _ in range(watchers)),
                return_exceptions=True,
            )
            reference = await watch(client, url, timeout=60)  # a replay of the stored events
            ref_deltas = [(k, d) for _, k, d in reference if k == "delta"]
            complete = 0
            lags: list[float] = []
            errors: list[str] = []
            arrival: dict[int, list[float]] = {}
            for stream in streams:
                if isinstance(stream, BaseException):
                    errors.append(repr(stream)[:200])
                    continue
                deltas = [(t, k, d) for t, k, d in stream if k == "delta"]
                if [(k, d) for _, k, d in deltas] == ref_deltas:
                    complete += 1
                for idx, (t, _, _) in enumerate(deltas):
                    arrival.setdefault(idx, []).append(t)
            for times in arrival.values():
                lags.append((max(times) - min(times)) * 1000)
            final = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
            results.append(
                {
                    "watchers": watchers,
                    "complete_watchers": complete,
                    "deltas": len(ref_deltas),
                    "job_status": final.get("status"),
                    "errors": errors[:5],
                    "delivery_spread_ms": summary(lags),
                }
            )
    return {
        "runs": runs,
        "all_complete": all(
            r["complete_watchers"] == r["watchers"] and r["deltas"] > 0 for r in results
        ),
        "results": results,
    }


def machine_load() -> dict[str, Any]:
    with contextlib.suppress(OSError):
        return {"loadavg": [round(x, 2) for x in os.getloadavg()]}
    return {}


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True)
