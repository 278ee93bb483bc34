"""The published skill catalog: the contract between the skill server and the agent.

Layout under ``BLOGPOD_SKILLS_SHARED``::

    current -> snapshots/<snapshot-id>         (symlink, swapped atomically)
    snapshots/<snapshot-id>/catalog.json       (written before the swap, never changed)
    snapshots/<snapshot-id>/skills/<name>/SKILL.md (+ the skill's other files)

This module only reads; it imports nothing beyond pydantic so any container may use it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CATALOG_FILE = "catalog.json"
CURRENT_LINK = "current"
SNAPSHOTS_DIR = "snapshots"
SKILLS_DIR = "skills"

Severity = Literal["error", "warning"]


class Finding(BaseModel):
    """One validation result: which skill, which file and line, which rule, how bad."""

    model_config = ConfigDict(frozen=True)

    skill: str
    file: str
    line: int | None = None
    rule: str
    severity: Severity
    message: str


class SkillFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str  # relative to the skill folder, POSIX separators
    size: int
    sha256: str


class SkillEntry(BaseModel):
    """One published skill. ``version`` is the content hash of all its files."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    version: str
    license: str | None = None
    compatibility: str | None = None
    allowed_tools: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    files: list[SkillFile]
    published_at: datetime
    # "ok": source is valid and live; "stale": the source is invalid, last good version live.
    status: Literal["ok", "stale"] = "ok"
    findings: list[Finding] = Field(default_factory=list)


class Catalog(BaseModel):
    """One immutable snapshot of every live skill."""

    model_config = ConfigDict(frozen=True)

    snapshot: str
    created_at: datetime
    skills: list[SkillEntry]
    # Findings for source skills that have no good version at all (never published).
    rejected: list[Finding] = Field(default_factory=list)

    def get(self, name: str) -> SkillEntry | None:
        return next((s for s in self.skills if s.name == name), None)

    def names(self) -> list[str]:
        return sorted(s.name for s in self.skills)


class CatalogUnavailable(Exception):
    """No usable snapshot is published yet (or the shared folder is unreadable)."""


class PublishedCatalog:
    """A catalog read from disk together with the folder its skill files live in."""

    def __init__(self, root: Path, catalog: Catalog) -> None:
        self.root = root
        self.catalog = catalog

    def skill_dir(self, name: str) -> Path:
        return self.root / SKILLS_DIR / name

    def read_skill_body(self, name: str) -> str:
        """The SKILL.md text of a published skill (front matter included)."""
        return (self.skill_dir(name) / "SKILL.md").read_text(encoding="utf-8")


def load_current(shared_dir: Path) -> PublishedCatalog:
    """Read the live snapshot. Resolves ``current`` once, so the result is self-consistent."""
    link = shared_dir / CURRENT_LINK
    try:
        root = link.resolve(strict=True)
        raw = (root / CATALOG_FILE).read_bytes()
    except OSError as exc:
        raise CatalogUnavailable(f"no skill snapshot published in {shared_dir}: {exc}") from exc
    try:
        catalog = Catalog.model_validate_json(raw)
    except ValidationError as exc:
        raise CatalogUnavailable(f"unreadable catalog in {root}: {exc}") from exc
    return PublishedCatalog(root, catalog)
