"""Fuzz both OpenAPI specs (agent and skill server) with schemathesis against the real
processes of the running Pod.

Expected outcome: no 5xx answer and no crash (every process alive and ready afterwards), for a
bounded number of generated requests per operation (about a minute or two in all).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.checks import assert_healthy, assert_next_job_works
from tests.support.pod import LocalPod
from tests.support.processes import blogpod_env

pytestmark = pytest.mark.slow

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
EXAMPLES_PER_OPERATION = 30
#: The run must really have exercised the API (not stopped at loading the schema).
MIN_CASES = 100


def _fuzz(base_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        SCHEMATHESIS,
        "run",
        f"{base_url}/openapi.json",
        "--url",
        base_url,
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--seed",
        "7",
        "--request-timeout",
        "20",
        "--generation-database",
        "none",
        "--no-color",
        *extra,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, env=blogpod_env(), check=False
    )


@pytest.mark.parametrize("service", ["agent", "skills"])
def test_fuzzing_finds_no_server_error(fresh: LocalPod, service: str) -> None:
    result = _fuzz(fresh.service_url(service))
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"schemathesis found problems:\n{output[-6000:]}"
    counts = re.search(r"(\d+) generated, (\d+) passed", output)
    assert counts, output[-3000:]
    assert counts.group(1) == counts.group(2), output[-3000:]  # every case passed
    assert int(counts.group(1)) >= MIN_CASES, output[-3000:]
    assert_healthy(fresh)
    if service == "agent":
        assert_next_job_works(fresh)
