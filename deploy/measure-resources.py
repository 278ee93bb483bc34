#!/usr/bin/env python3
"""Measure what each container of the Pod uses, to size the production overlay's requests
and limits (docs/deploy.md, "Resources").

Runs the local Pod (the same `blogpod serve <name>` commands as the containers, as process
groups: tests.support.pod) against the scripted provider, writes posts (some at once), and
samples with psutil every 0.2 s the RSS of each service's whole process tree (the agent's
Copilot CLI included) and its CPU time. Prints a Markdown table.

    .venv/bin/python deploy/measure-resources.py [--posts 6] [--concurrent 3]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.pod import SERVICES, LocalPod, local_pod
from tests.support.scripted_provider import ScriptedProvider


def cpu_seconds(pod: LocalPod, name: str) -> float:
    total = 0.0
    for proc in pod.process_tree(name):
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=6)
    parser.add_argument("--concurrent", type=int, default=3)
    args = parser.parse_args()
    peak = dict.fromkeys(SERVICES, 0)
    idle: dict[str, int] = {}
    stop = threading.Event()
    # The benchmark's pace: 300 ms to the first token, 50 tokens/s, 600 tokens a post.
    with (
        ScriptedProvider.running(first_token_ms=300, tokens_per_s=50, tokens=600) as provider,
        tempfile.TemporaryDirectory() as data,
        local_pod(Path(data), provider.base_url) as pod,
    ):
        time.sleep(2)
        idle = {name: pod.rss_bytes(name) for name in SERVICES}
        cpu_start = {name: cpu_seconds(pod, name) for name in SERVICES}

        def sample() -> None:
            while not stop.is_set():
                for name in SERVICES:
                    with contextlib.suppress(Exception):
                        peak[name] = max(peak[name], pod.rss_bytes(name))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        done = 0
        while done < args.posts:
            batch = [pod.write(f"Measured post {done + i}") for i in range(args.concurrent)]
            for job in batch:
                final = pod.wait_job(job["id"], timeout=600)
                assert final["status"] == "succeeded", final
            done += len(batch)
        elapsed = time.monotonic() - started
        stop.set()
        sampler.join()
        cpu = {name: cpu_seconds(pod, name) - cpu_start[name] for name in SERVICES}
    mib = 1024 * 1024
    print(f"{done} posts, {args.concurrent} at a time, {elapsed:.0f} s\n")
    print("| container | idle RSS | peak RSS | CPU while writing (avg cores) |")
    print("|---|---|---|---|")
    for name in SERVICES:
        print(
            f"| {name} | {idle[name] / mib:.0f} MiB | {peak[name] / mib:.0f} MiB "
            f"| {cpu[name] / elapsed:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
