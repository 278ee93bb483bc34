"""`blogpod skills check`: the real command, its exit codes and JSON output."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.skills.helpers import skill_md, write_skill
from tests.support.processes import REPO, VENV_BIN, blogpod_env


def check(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "blogpod"), "skills", "check", *map(str, args)],
        capture_output=True,
        text=True,
        env=env or blogpod_env(),
        timeout=120,
    )


def test_valid_skills_exit_0(tmp_path: Path) -> None:
    write_skill(tmp_path, "a")
    (tmp_path / "b.md").write_text(skill_md("b"))
    result = check(tmp_path, tmp_path / "a", tmp_path / "b.md", tmp_path / "a" / "SKILL.md")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 skill(s) checked: 0 error(s), 0 warning(s)" in result.stdout


def test_errors_exit_1_with_file_line_and_rule(tmp_path: Path) -> None:
    write_skill(tmp_path, "a", skill_md("wrong"))
    result = check(tmp_path / "a")
    assert result.returncode == 1
    assert f"{tmp_path / 'a' / 'SKILL.md'}:2: error:" in result.stdout
    assert "[name-mismatch]" in result.stdout


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    write_skill(tmp_path, "a", skill_md("a", description="Short."))
    result = check(tmp_path, "--format", "json")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["warnings"] == 1
    assert report["findings"][0]["rule"] == "description-short"


def test_json_output(tmp_path: Path) -> None:
    write_skill(tmp_path, "good")
    write_skill(tmp_path, "bad", "---\nname: bad\n---\nno description\n")
    result = check("--format", "json", tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["errors"] == 1
    assert {s["name"]: s["valid"] for s in report["skills"]} == {"bad": False, "good": True}
    (finding,) = report["findings"]
    assert finding == {
        "skill": "bad",
        "file": str(tmp_path / "bad" / "SKILL.md"),
        "line": 2,
        "rule": "description-missing",
        "severity": "error",
        "message": "the front matter has no 'description'",
    }


def test_path_without_skills_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "x.txt").write_text("x")
    for path in (tmp_path / "empty", tmp_path / "missing", tmp_path / "x.txt"):
        result = check(path, "--format", "json")
        assert result.returncode == 1, path
        assert [f["rule"] for f in json.loads(result.stdout)["findings"]] == ["not-a-skill"]


def test_limits_come_from_the_settings(tmp_path: Path) -> None:
    write_skill(tmp_path, "a", files={"one": "1", "two": "2"})
    assert check(tmp_path).returncode == 0
    limited = check(tmp_path, env=blogpod_env(BLOGPOD_SKILLS_MAX_FILES="2"))
    assert limited.returncode == 1 and "[too-many-files]" in limited.stdout
    bad = check(tmp_path, env=blogpod_env(BLOGPOD_SKILLS_MAX_FILES="many"))
    assert bad.returncode == 2 and "BLOGPOD_SKILLS_MAX_FILES" in bad.stderr


def test_usage_error_without_paths() -> None:
    assert check().returncode == 2


def test_shipped_skills_pass_with_no_findings() -> None:
    result = check(REPO / "skills", "--format", "json")
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["findings"] == []
    assert {"blog-writer", "release-notes", "tutorial"} <= {s["name"] for s in report["skills"]}
