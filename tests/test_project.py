"""Promises the README makes to a new user, checked against the code."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.support.processes import REPO


def test_readme_opens_with_the_two_commands() -> None:
    text = (REPO / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands[:2] == ["make up", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    script = (REPO / ".ci/run").read_text()
    assert re.search(r"^exec make test$", script, re.M)


def test_readme_config_table_matches_the_settings_classes() -> None:
    table = subprocess.run(
        [sys.executable, "-m", "blogpod", "config"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    text = (REPO / "README.md").read_text()
    documented = text.split("<!-- config-table:start -->")[1].split("<!-- config-table:end -->")[0]
    assert documented.strip() == table, "README table is stale: paste `blogpod config` output"
