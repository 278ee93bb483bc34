"""Targets, and the two result files: ``bench/results.json`` and ``bench/RESULTS.md``.

RESULTS.md is partly written by hand: only the block between the ``bench:generated`` markers
is replaced on each run; everything else (the analysis, the "Local model" section owned by
the local model's engineer) is kept as it is.
"""

from __future__ import annotations

import json
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_MD = BENCH_DIR / "RESULTS.md"
RESULTS_JSON = BENCH_DIR / "results.json"
START = "<!-- bench:generated:start -->"
END = "<!-- bench:generated:end -->"


@dataclass(frozen=True)
class Target:
    key: str
    what: str
    target: str
    measured: str
    met: bool | None  # None: not measured in this run


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def targets(results: dict[str, Any]) -> list[Target]:
    """Each target of the issue beside the measured value."""
    out: list[Target] = []
    lat = results.get("latency")
    p50 = _get(lat or {}, "overhead_pct_of_end_to_end", "p50")
    p95 = _get(lat or {}, "overhead_pct_of_end_to_end", "p95")
    ms50 = _get(lat or {}, "overhead_ms", "p50")
    out.append(
        Target(
            "overhead",
            "Overhead: POST through nginx until served, minus the provider's own stream time",
            "<= 2% of end-to-end",
            f"p50 {p50}% ({ms50} ms), p95 {p95}%" if p50 is not None else "not measured",
            None if p50 is None else p50 <= 2.0,
        )
    )
    ttft = _get(lat or {}, "added_ttft_ms", "p50")
    ttft95 = _get(lat or {}, "added_ttft_ms", "p95")
    out.append(
        Target(
            "ttft",
            "Added time to first token at an SSE client through nginx",
            "<= 50 ms at p50",
            f"p50 {ttft} ms, p95 {ttft95} ms" if ttft is not None else "not measured",
            None if ttft is None else ttft <= 50.0,
        )
    )
    level16 = _get(results, "concurrency", "levels", "16")
    eff = _get(level16 or {}, "throughput_pct_of_ideal", "p50")
    out.append(
        Target(
            "concurrency16",
            "16 concurrent jobs: throughput against the ideal the provider allows",
            ">= 90%",
            f"{eff}% (p95 latency {_get(level16 or {}, 'latency_s', 'p95')} s)"
            if eff is not None
            else "not measured",
            None if eff is None else eff >= 90.0,
        )
    )
    agent_rss = _get(level16 or {}, "peak_rss_mib", "agent")
    out.append(
        Target(
            "agent_rss",
            "Agent + Copilot CLI RSS (peak, 16 concurrent jobs)",
            "<= 600 MiB",
            f"{agent_rss} MiB" if agent_rss is not None else "not measured",
            None if agent_rss is None else agent_rss <= 600,
        )
    )
    levels = _get(results, "concurrency", "levels") or {}
    skills_rss = max(
        (lvl.get("peak_rss_mib", {}).get("skills", 0) for lvl in levels.values()), default=None
    )
    out.append(
        Target(
            "skills_rss",
            "Skill server RSS (peak over the concurrency runs)",
            "<= 64 MiB",
            f"{skills_rss} MiB" if skills_rss else "not measured",
            None if not skills_rss else skills_rss <= 64,
        )
    )
    prop = _get(results, "skills", "snapshot_live_ms", "p99")
    out.append(
        Target(
            "skill_propagation",
            "Skill propagation: source file changed until the new version is live",
            "<= 1 s at p99",
            f"p50 {_get(results, 'skills', 'snapshot_live_ms', 'p50')} ms, p99 {prop} ms"
            if prop is not None
            else "not measured",
            None if prop is None else prop <= 1000,
        )
    )
    cold = _get(results, "cold_start", "ready_s", "p50")
    out.append(
        Target(
            "cold_start",
            "Cold start: `blogpod up` until every process is ready (no local model)",
            "<= 5 s",
            f"p50 {cold} s, max {_get(results, 'cold_start', 'ready_s', 'max')} s"
            if cold is not None
            else "not measured",
            None if cold is None else cold <= 5.0,
        )
    )
    fan = results.get("fanout")
    if fan:
        first = (fan.get("results") or [{}])[0]
        out.append(
            Target(
                "fanout",
                "Fan-out: 100 SSE watchers of one job receive every delta",
                "all watchers, every delta",
                f"{first.get('complete_watchers')}/{first.get('watchers')} complete, "
                f"{first.get('deltas')} deltas each (all runs complete: {fan['all_complete']})",
                bool(fan["all_complete"]),
            )
        )
    else:
        out.append(Target("fanout", "Fan-out: 100 SSE watchers", "all", "not measured", None))
    return out


def machine() -> dict[str, Any]:
    freq = psutil.cpu_freq()
    return {
        "cpu": _cpu_model(),
        "cores": psutil.cpu_count(),
        "cpu_mhz": round(freq.current) if freq else None,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mark(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "-"}[met]


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        START,
        f"Date: {meta['date']} · Command: `{meta['command']}` · "
        f"Mode: {'quick check' if meta['quick'] else 'full run'}",
        "",
        f"Machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, "
        f"{meta['machine']['memory_gib']} GiB, Linux {meta['machine']['kernel']}, "
        f"Python {meta['machine']['python']}. Load average before/after: "
        f"{meta.get('load_before')} / {meta.get('load_after')} (a higher load means "
        "something else ran on the machine meanwhile).",
        "",
        f"Provider pace: first token after {meta['pace']['first_token_ms']} ms, then "
        f"{meta['pace']['tokens_per_s']} tokens/s, {meta['pace']['tokens']} tokens; its own "
        f"stream time: {_get(results, 'baseline', 'stream_s', 'p50')} s (p50, streamed directly).",
        "",
        "| # | measure | target | measured | |",
        "|---|---|---|---|---|",
    ]
    for i, t in enumerate(targets(results), 1):
        lines.append(f"| {i} | {t.what} | {t.target} | {t.measured} | {_mark(t.met)} |")
    lines += ["", "Details (all figures from `bench/results.json`):", ""]
    lat = results.get("latency")
    if lat:
        lines.append(
            f"- Sequential jobs: {lat['succeeded']}/{lat['runs']} succeeded; end-to-end p50 "
            f"{_get(lat, 'end_to_end_s', 'p50')} s, p95 {_get(lat, 'end_to_end_s', 'p95')} s; "
            f"POST until the provider gets the request p50 "
            f"{_get(lat, 'post_to_provider_request_ms', 'p50')} ms; provider stream end until "
            f"the page is served p50 {_get(lat, 'provider_end_to_served_ms', 'p50')} ms; first "
            f"job after start (warm-up, not counted) {lat.get('warmup_job_s')} s."
        )
    conc = results.get("concurrency")
    if conc:
        lines += [
            "",
            f"Concurrency (BLOGPOD_MAX_CONCURRENT_JOBS={conc.get('max_concurrent_jobs')}; idle "
            f"RSS MiB {conc.get('idle_rss_mib')}):",
            "",
            "| jobs | reps | failed | throughput % of ideal (p50) | jobs/min (ideal) | "
            "latency p50 / p95 s | peak RSS MiB agent+CLI / skills / nginx |",
            "|---|---|---|---|---|---|---|",
        ]
        for n, lvl in conc["levels"].items():
            rss = lvl.get("peak_rss_mib", {})
            lines.append(
                f"| {n} | {lvl['reps']} | {lvl['failed']} | "
                f"{_get(lvl, 'throughput_pct_of_ideal', 'p50')} | "
                f"{lvl.get('throughput_jobs_per_min')} ({lvl.get('ideal_jobs_per_min')}) | "
                f"{_get(lvl, 'latency_s', 'p50')} / {_get(lvl, 'latency_s', 'p95')} | "
                f"{rss.get('agent')} / {rss.get('skills')} / {rss.get('web')} |"
            )
    sk = results.get("skills")
    if sk:
        lines += [
            "",
            f"- Skill propagation over {sk['changes']} changes ({sk['missed']} missed): on-disk "
            f"snapshot p50 {_get(sk, 'snapshot_live_ms', 'p50')} ms / p99 "
            f"{_get(sk, 'snapshot_live_ms', 'p99')} ms; skill API p50 "
            f"{_get(sk, 'api_live_ms', 'p50')} ms / p99 {_get(sk, 'api_live_ms', 'p99')} ms; "
            f"until the next job records it (job posted right after the change, "
            f"{sk['job_changes']} changes) p50 {_get(sk, 'next_job_records_ms', 'p50')} ms, "
            f"max {_get(sk, 'next_job_records_ms', 'max')} ms; jobs posted until one recorded "
            f"it: {sk.get('jobs_posted_until_recorded')}.",
        ]
    cold = results.get("cold_start")
    if cold:
        lines.append(
            f"- Cold start over {cold['runs']} runs: p50 {_get(cold, 'ready_s', 'p50')} s, "
            f"max {_get(cold, 'ready_s', 'max')} s; failures: {len(cold['failures'])}."
        )
    fan = results.get("fanout")
    if fan:
        for r in fan["results"]:
            lines.append(
                f"- Fan-out: {r['complete_watchers']}/{r['watchers']} watchers got all "
                f"{r['deltas']} deltas in order; spread between the first and the last watcher "
                f"receiving a delta p50 {_get(r, 'delivery_spread_ms', 'p50')} ms, p95 "
                f"{_get(r, 'delivery_spread_ms', 'p95')} ms; errors: {len(r['errors'])}."
            )
    lines.append(END)
    return "\n".join(lines)


SKELETON = """# blogpod benchmark results

`make bench` (`python -m bench`) writes the block below and `bench/results.json`; the rest of
this page is written by hand. `python -m bench --help` lists the options (a subset, fewer runs).

{generated}

## Analysis

(Written after the full run: why a target is missed and what would close it.)

## Local model

(Owned by the local model's engineer: `bench/local_model.py`.)
"""


def write(
    results: dict[str, Any], md_path: Path = RESULTS_MD, json_path: Path = RESULTS_JSON
) -> None:
    """Write both files; only the generated block of the Markdown page changes."""
    json_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    block = render(results)
    if md_path.exists():
        text = md_path.read_text()
        pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
        if pattern.search(text):
            text = pattern.sub(lambda _: block, text, count=1)
        else:
            text = text.rstrip("\n") + "\n\n## Measured\n\n" + block + "\n"
    else:
        text = SKELETON.format(generated=block)
    temp = md_path.with_suffix(".md.tmp")
    temp.write_text(text)
    os.replace(temp, md_path)
