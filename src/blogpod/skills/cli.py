"""``blogpod skills``: tools for skill authors (``check`` runs the skill server's validator)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from blogpod.config import load_settings
from blogpod.skills.check import CheckReport, check_paths
from blogpod.skills.settings import SkillsSettings


@click.group()
def skills() -> None:
    """Work with Agent Skills (SKILL.md folders)."""


@skills.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["human", "json"]),
    default="human",
    show_default=True,
    help="Findings as readable lines or as one JSON document.",
)
def check(paths: tuple[Path, ...], output_format: str) -> None:
    """Validate skills: each PATH is a skill folder, a folder of skills or a <name>.md file.

    Exits 1 when any error is found (a PATH holding no skill is one), 0 otherwise.
    Limits come from the BLOGPOD_SKILLS_MAX_* variables, as in the skill server.
    """
    settings = load_settings(SkillsSettings)
    report = check_paths(list(paths), settings.limits)
    if output_format == "json":
        click.echo(json.dumps(_as_json(report), indent=2))
    else:
        _print_human(report)
    raise SystemExit(1 if report.errors else 0)


def _as_json(report: CheckReport) -> dict[str, object]:
    return {
        "ok": report.errors == 0,
        "errors": report.errors,
        "warnings": report.warnings,
        "skills": [asdict(s) for s in report.skills],
        "findings": [f.model_dump(mode="json") for f in report.findings],
    }


def _print_human(report: CheckReport) -> None:
    for f in report.findings:
        where = f"{f.file}:{f.line}" if f.line else f.file
        click.echo(f"{where}: {f.severity}: {f.message} [{f.rule}]")
    click.echo(
        f"{len(report.skills)} skill(s) checked: {report.errors} error(s), "
        f"{report.warnings} warning(s)"
    )
