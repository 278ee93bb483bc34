"""Check skills on disk the way the skill server will: for authors and their CI.

Each path is one skill folder (holding SKILL.md), a folder of skills (either layout), a flat
``<name>.md`` file, or a ``SKILL.md`` file (its folder is the skill).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from blogpod.skills.catalog import Finding
from blogpod.skills.model import SKILL_MD, SkillLimits, SkillSource
from blogpod.skills.source import read_flat_file, read_skill_dir, scan_source
from blogpod.skills.validator import validate_skill


@dataclass
class CheckedSkill:
    name: str
    path: str
    version: str
    valid: bool


@dataclass
class CheckReport:
    skills: list[CheckedSkill] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")


def check_paths(paths: list[Path], limits: SkillLimits) -> CheckReport:
    report = CheckReport()
    for path in paths:
        _check_path(path, limits, report)
    return report


def _check_path(path: Path, limits: SkillLimits, report: CheckReport) -> None:
    shown = str(path)
    if path.is_file() and path.name == SKILL_MD:
        path = path.parent
    if path.is_dir() and (path / SKILL_MD).exists():
        source = read_skill_dir(path, path.resolve().name, os.path.realpath(path), limits)
        _add(report, source, path, path, limits)
    elif path.is_file() and path.suffix == ".md":
        source = read_flat_file(path, path.stem, os.path.realpath(path.parent), limits)
        _add(report, source, path, path.parent, limits)
    elif path.is_dir():
        scan = scan_source(path, limits)
        report.findings.extend(_located(f, path) for f in scan.findings)
        for source in scan.skills:
            _add(report, source, path / (source.skill_md_path or source.name), path, limits)
        if not scan.skills:
            report.findings.append(_no_skill(shown, "holds no <name>/SKILL.md or <name>.md skill"))
    elif path.exists() or path.is_symlink():
        report.findings.append(_no_skill(shown, "is neither a skill folder nor a .md file"))
    else:
        report.findings.append(_no_skill(shown, "does not exist"))


def _add(
    report: CheckReport, source: SkillSource, shown: Path, base: Path, limits: SkillLimits
) -> None:
    result = validate_skill(source, limits)
    report.findings.extend(_located(f, base) for f in result.findings)
    report.skills.append(CheckedSkill(source.name, str(shown), source.version, result.ok))


def _located(finding: Finding, base: Path) -> Finding:
    """Findings carry paths relative to the scanned folder; show them from where we stand."""
    return finding.model_copy(update={"file": os.path.join(base, finding.file)})


def _no_skill(path: str, why: str) -> Finding:
    return Finding(
        skill="", file=path, rule="not-a-skill", severity="error", message=f"{path} {why}"
    )
