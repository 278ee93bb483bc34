"""Benchmark of the embedded local model: `python -m bench.local_model` (run by hand).

Measures, with the agent's own prompts (blog-writer skill inline, temperature 0):
- raw: the model in this process (blogpod.llm.engine, no HTTP), the reference;
- server: `blogpod serve llm` over HTTP/SSE, and its RSS;
- pipeline: the whole Pod (nginx -> agent -> Copilot SDK/CLI -> server), read as the job's
  SSE events through nginx; each post's structure is checked (title, sections, conclusion).

Decode speed is tokens after the first one divided by the time from first to last token, so
it does not depend on how long the prompt took to read (that is time to first token).
Writes bench/local_model.json and the "Local model" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from blogpod.agent.prompts import JobBrief, skill_outline, system_message, user_prompt
from blogpod.llm.settings import LlmSettings
from blogpod.llm.weights import ensure_model
from blogpod.skills.model import split_front_matter
from tests.llm.structure import post_shape
from tests.support.pod import BLOGPOD, local_pod
from tests.support.processes import REPO, ServiceProcess, blogpod_env, free_port

BENCH_DIR = Path(__file__).parent
RESULTS_MD = BENCH_DIR / "RESULTS.md"
RESULTS_JSON = BENCH_DIR / "local_model.json"
START, END = "<!-- local-model:start -->", "<!-- local-model:end -->"

TOPICS = [
    "Why unit tests make refactoring safer",
    "Getting started with Python virtual environments",
    "How HTTP caching headers work",
    "Writing readable Git commit messages",
    "When to use a queue between two services",
]


def _log(message: str) -> None:
    print(f"[local-model {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _messages(topic: str) -> list[dict[str, str]]:
    skill = (REPO / "skills" / "blog-writer" / "SKILL.md").read_text()
    # As the agent prompts the local model: with the skill's outline.
    outline = skill_outline(split_front_matter(skill).data.get("metadata", {}))
    return [
        {"role": "system", "content": system_message(skill, "blog-writer")},
        {"role": "user", "content": user_prompt(JobBrief(topic=topic), outline)},
    ]


def _run_figures(
    started: float, first: float | None, last: float | None, tokens: int, prompt_tokens: int
) -> dict[str, Any]:
    decode_s = (last - first) if first is not None and last is not None else 0.0
    return {
        "ttft_s": round(first - started, 2) if first is not None else None,
        "total_s": round((last or started) - started, 2),
        "prompt_tokens": prompt_tokens,
        "tokens": tokens,
        "tokens_per_s": round((tokens - 1) / decode_s, 2) if decode_s > 0 else None,
    }


# -- raw: the model in this process -----------------------------------------------------------


def bench_raw(settings: LlmSettings, model_path: Path, topics: list[str]) -> list[dict[str, Any]]:
    from blogpod.llm.engine import Finish, LlamaEngine
    from blogpod.llm.schema import ChatRequest

    loaded = time.monotonic()
    engine = LlamaEngine(
        model_path,
        model_name=settings.llm_model_name,
        n_ctx=settings.llm_n_ctx,
        n_threads=settings.n_threads,
        max_tokens=settings.llm_max_tokens,
    )
    _log(f"raw: loaded in {time.monotonic() - loaded:.1f} s")
    runs = []
    for topic in topics:
        request = ChatRequest.model_validate({"messages": _messages(topic), "temperature": 0})
        started = time.monotonic()
        first = last = None
        finish = Finish("stop", 0, 0)
        for event in engine.stream(request):
            if isinstance(event, Finish):
                finish = event
            else:
                last = time.monotonic()
                first = first or last
        run = _run_figures(started, first, last, finish.completion_tokens, finish.prompt_tokens)
        runs.append({"topic": topic, **run})
        _log(f"raw: {run}")
    del engine
    return runs


# -- server: blogpod serve llm over HTTP ------------------------------------------------------


class RssSampler:
    """Peak RSS of a process (and its children) sampled every 200 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self) -> int:
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            with suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self.current())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@contextmanager
def llm_server() -> Iterator[tuple[int, ServiceProcess, float]]:
    port = free_port()
    started = time.monotonic()
    proc = ServiceProcess(
        [BLOGPOD, "serve", "llm"],
        env=blogpod_env(BLOGPOD_LLM_PORT=str(port), BLOGPOD_LOG_FORMAT="text"),
    )
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=300)
        yield port, proc, time.monotonic() - started
    finally:
        proc.stop()


def bench_server(port: int, topics: list[str]) -> list[dict[str, Any]]:
    runs = []
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    for topic in topics:
        body = {
            "messages": _messages(topic),
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        started = time.monotonic()
        first = last = None
        usage: dict[str, int] = {}
        with httpx.stream("POST", url, json=body, timeout=600) as resp:
            resp.raise_for_status()
            for line in resp.iter_lines():
                if not line.startswith("data: {"):
                    continue
                chunk = json.loads(line[6:])
                if chunk.get("usage"):
                    usage = chunk["usage"]
                if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                    last = time.monotonic()
                    first = first or last
        run = _run_figures(
            started, first, last, usage.get("completion_tokens", 0), usage.get("prompt_tokens", 0)
        )
        runs.append({"topic": topic, **run})
        _log(f"server: {run}")
    return runs


# -- pipeline: the whole Pod ------------------------------------------------------------------


def bench_pipeline(port: int, topics: list[str], data_dir: Path) -> list[dict[str, Any]]:
    from httpx_sse import connect_sse

    env = {
        "BLOGPOD_PROVIDER": "local",
        "BLOGPOD_PROVIDER_BASE_URL": "",
        "BLOGPOD_PROVIDER_API_KEY": "",
        "BLOGPOD_MODEL": "",
        "BLOGPOD_LLM_PORT": str(port),
        "BLOGPOD_JOB_TIMEOUT_S": "1200",
    }
    runs = []
    with local_pod(data_dir, f"http://127.0.0.1:{port}/v1", env=env) as pod:
        for topic in topics:
            started = time.monotonic()
            job = pod.write(topic)
            first = last = None
            with (
                httpx.Client(base_url=pod.url, timeout=httpx.Timeout(1200)) as client,
                connect_sse(client, "GET", f"/api/v1/jobs/{job['id']}/events") as source,
            ):
                for sse in source.iter_sse():
                    if sse.event == "delta":
                        last = time.monotonic()
                        first = first or last
            done = pod.wait_job(job["id"], timeout=60)
            usage = done["usage"]
            run = _run_figures(started, first, last, usage["output_tokens"], usage["input_tokens"])
            problems: list[str] = [f"job {done['status']}: {done.get('error')}"]
            if done["status"] == "succeeded":
                post = pod.http.get(f"/api/v1/posts/{done['post']['slug']}").json()
                shape = post_shape(post["markdown"])
                problems = shape.problems()
                run["sections"] = shape.sections
                run["title"] = shape.title
            run["structure_problems"] = problems
            runs.append({"topic": topic, **run})
            _log(f"pipeline: {run}")
    return runs


# -- report -----------------------------------------------------------------------------------


def _median(runs: list[dict[str, Any]], key: str, skip_first: bool = False) -> float | None:
    values = [r[key] for r in (runs[1:] if skip_first else runs) if r.get(key) is not None]
    return round(statistics.median(values), 2) if values else None


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    raw, server, pipe = results["raw"], results["server"], results["pipeline"]
    raw_tps = _median(raw, "tokens_per_s")
    summary = {
        "raw_tokens_per_s": raw_tps,
        "server_tokens_per_s": _median(server, "tokens_per_s"),
        "pipeline_tokens_per_s": _median(pipe, "tokens_per_s"),
        "raw_ttft_cold_s": raw[0]["ttft_s"] if raw else None,
        "raw_ttft_warm_s": _median(raw, "ttft_s", skip_first=True),
        "server_ttft_warm_s": _median(server, "ttft_s"),
        "pipeline_ttft_first_s": pipe[0]["ttft_s"] if pipe else None,
        "pipeline_ttft_warm_s": _median(pipe, "ttft_s", skip_first=True),
        "raw_prompt_tokens": _median(raw, "prompt_tokens"),
        "pipeline_prompt_tokens": _median(pipe, "prompt_tokens"),
        "structure_ok": sum(1 for r in pipe if not r.get("structure_problems")),
        "structure_total": len(pipe),
    }
    for name in ("server", "pipeline"):
        value = summary[f"{name}_tokens_per_s"]
        summary[f"{name}_vs_raw"] = round(value / raw_tps, 3) if value and raw_tps else None
    return summary


def render(results: dict[str, Any]) -> str:
    s, meta = results["summary"], results["meta"]
    mib = 1024 * 1024

    def pct(value: float | None) -> str:
        return f"{value * 100:.0f}%" if value is not None else "n/a"

    lines = [
        START,
        f"Measured {meta['date']} with `python -m bench.local_model` on {meta['cores']} cores "
        f"(load average before/after: {meta['load_before']} / {meta['load_after']}; the cores "
        "are shared, so figures vary by a few tokens/s between runs). Model "
        f"`{meta['model']}`, n_ctx {meta['n_ctx']}, {meta['n_threads']} threads, temperature 0, "
        "the agent's real prompts (blog-writer skill inline in the system message).",
        "",
        "| figure | raw (in-process) | server (HTTP/SSE) | whole Pod (nginx, agent, CLI) |",
        "|---|---|---|---|",
        f"| decode tokens/s (median) | {s['raw_tokens_per_s']} | {s['server_tokens_per_s']} "
        f"({pct(s['server_vs_raw'])}) | {s['pipeline_tokens_per_s']} "
        f"({pct(s['pipeline_vs_raw'])}; target >= 90%) |",
        f"| time to first token, system prompt not cached | {s['raw_ttft_cold_s']} s | - | "
        f"{s['pipeline_ttft_first_s']} s |",
        f"| time to first token, system prompt cached (median) | {s['raw_ttft_warm_s']} s | "
        f"{s['server_ttft_warm_s']} s | {s['pipeline_ttft_warm_s']} s |",
        f"| prompt tokens (median) | {s['raw_prompt_tokens']} | - | "
        f"{s['pipeline_prompt_tokens']} |",
        "",
        f"Model server: ready {meta['server_ready_s']} s after start (weights already joined "
        f"and verified); RSS {meta['server_rss_ready'] // mib} MiB when ready, peak "
        f"{meta['server_rss_peak'] // mib} MiB while writing (the 1,066 MiB model file is "
        "mmapped and counted in RSS).",
        "",
        f"Structure through the whole Pod: {s['structure_ok']}/{s['structure_total']} posts "
        "with a `# ` title, at least three `## ` sections before a conclusion section, and no "
        "empty section.",
        "",
        "| topic | tokens | tokens/s | first token | structure |",
        "|---|---|---|---|---|",
    ]
    for run in results["pipeline"]:
        problems = run.get("structure_problems") or []
        lines.append(
            f"| {run['topic']} | {run['tokens']} | {run['tokens_per_s']} | {run['ttft_s']} s | "
            f"{'ok' if not problems else '; '.join(problems)} |"
        )
    lines.append(END)
    return "\n".join(lines)


def write(results: dict[str, Any]) -> None:
    RESULTS_JSON.write_text(json.dumps(results, indent=2) + "\n")
    block = render(results)
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# blogpod benchmark results\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    elif "## Local model" in text:
        head, rest = text.split("## Local model", 1)
        tail = rest.split("\n## ", 1)
        after = "\n## " + tail[1] if len(tail) == 2 else ""
        text = f"{head}## Local model\n\n{block}\n{after}"
    else:
        text = text.rstrip("\n") + f"\n\n## Local model\n\n{block}\n"
    fd, tmp = tempfile.mkstemp(dir=BENCH_DIR, prefix=".RESULTS-")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, RESULTS_MD)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.local_model", description=__doc__)
    parser.add_argument("--raw-runs", type=int, default=3, help="topics written in-process")
    parser.add_argument("--server-runs", type=int, default=3, help="topics written over HTTP")
    parser.add_argument("--pipeline-runs", type=int, default=5, help="topics through the Pod")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    settings = LlmSettings()
    model_path = ensure_model(settings.model_path, settings.parts_dir)
    results: dict[str, Any] = {
        "meta": {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "cores": os.cpu_count(),
            "n_threads": settings.n_threads,
            "n_ctx": settings.llm_n_ctx,
            "model": settings.llm_model_name,
            "load_before": [round(x, 1) for x in os.getloadavg()],
        }
    }
    results["raw"] = bench_raw(settings, model_path, TOPICS[: args.raw_runs])
    with llm_server() as (port, proc, ready_s):
        with RssSampler(proc.pid) as rss:
            results["meta"]["server_ready_s"] = round(ready_s, 1)
            results["meta"]["server_rss_ready"] = rss.current()
            results["server"] = bench_server(port, TOPICS[: args.server_runs])
            with tempfile.TemporaryDirectory(prefix="bench-local-") as data_dir:
                results["pipeline"] = bench_pipeline(
                    port, TOPICS[: args.pipeline_runs], Path(data_dir)
                )
        results["meta"]["server_rss_peak"] = rss.peak
    results["meta"]["load_after"] = [round(x, 1) for x in os.getloadavg()]
    results["summary"] = summarise(results)
    print(json.dumps(results["summary"], indent=2))
    if not args.no_write:
        write(results)
        print(f"wrote {RESULTS_MD} and {RESULTS_JSON}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
