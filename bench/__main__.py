"""``python -m bench``: run the benchmarks against the local Pod and write the results.

python -m bench                         # everything, full run (several minutes)
python -m bench --quick                 # every scenario, few runs: a quick check
python -m bench --only latency,skills   # a subset
python -m bench --no-write              # print, keep bench/RESULTS.md as it is
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench import report, scenarios
from bench.harness import Pace, bench_pod

SCENARIOS = ("latency", "concurrency", "skills", "cold_start", "fanout")


def _levels(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of: {', '.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="few runs of each: a quick check")
    parser.add_argument("--runs", type=int, help="sequential jobs for overhead/TTFT (default 20)")
    parser.add_argument("--levels", type=_levels, help="concurrency levels (default 1,4,8,16,32)")
    parser.add_argument("--first-token-ms", type=float, default=300.0)
    parser.add_argument("--tokens-per-s", type=float, default=50.0)
    parser.add_argument("--tokens", type=int, default=600)
    parser.add_argument("--watchers", type=int, default=100, help="SSE watchers for fan-out")
    parser.add_argument("--no-write", action="store_true", help="do not write the result files")
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return args


async def run(args: argparse.Namespace) -> dict[str, Any]:
    only = set(args.only.split(","))
    quick = args.quick
    runs = args.runs or (3 if quick else 20)
    levels = args.levels or ([1, 4] if quick else [1, 4, 8, 16, 32])
    reps = {1: 3 if quick else 5, 4: 1 if quick else 3, 8: 2, 16: 2, 32: 1}
    pace = Pace(args.first_token_ms, args.tokens_per_s, args.tokens)
    results: dict[str, Any] = {
        "meta": {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "make bench"
            + (f" BENCH_ARGS='{' '.join(sys.argv[1:])}'" if sys.argv[1:] else ""),
            "quick": quick,
            "pace": {
                "first_token_ms": pace.first_token_ms,
                "tokens_per_s": pace.tokens_per_s,
                "tokens": pace.tokens,
            },
            "machine": report.machine(),
            "load_before": scenarios.machine_load().get("loadavg"),
        }
    }
    started = time.monotonic()
    pod_scenarios = only & {"latency", "concurrency", "skills", "fanout"}
    if pod_scenarios:
        with bench_pod(pace, max_jobs=max(32, *levels)) as bp:
            _log(f"pod up at {bp.pod.url}")
            results["baseline"] = await scenarios.provider_baseline(bp)
            _log(f"provider stream {results['baseline']['stream_s']}")
            if "latency" in only:
                results["latency"] = await scenarios.latency(bp, runs, results["baseline"])
                _log(f"latency {json.dumps(results['latency']['overhead_ms'])}")
            if "concurrency" in only:
                results["concurrency"] = await scenarios.concurrency(
                    bp, levels, reps, results["baseline"]
                )
                _log("concurrency done")
            if "skills" in only:
                results["skills"] = await scenarios.skill_propagation(
                    bp, changes=5 if quick else 20, job_changes=2 if quick else 5
                )
                _log(f"skills {json.dumps(results['skills']['snapshot_live_ms'])}")
            if "fanout" in only:
                results["fanout"] = await scenarios.fan_out(bp, args.watchers, 1 if quick else 3)
                _log(f"fanout complete={results['fanout']['all_complete']}")
    if "cold_start" in only:
        results["cold_start"] = scenarios.cold_start(
            "http://127.0.0.1:9/v1", runs=2 if quick else 5
        )
        _log(f"cold start {results['cold_start']['ready_s']}")
    results["meta"]["load_after"] = scenarios.machine_load().get("loadavg")
    results["meta"]["duration_s"] = round(time.monotonic() - started, 1)
    return results


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = asyncio.run(run(args))
    for target in report.targets(results):
        print(f"{target.what}: {target.measured} (target {target.target})")
    if not args.no_write:
        report.write(results)
        print(f"wrote {report.RESULTS_MD} and {report.RESULTS_JSON}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
