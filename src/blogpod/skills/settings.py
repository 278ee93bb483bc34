"""Settings of the skills container (``blogpod serve skills`` and ``blogpod skills check``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from blogpod.config import SKILLS_PORT, CommonSettings
from blogpod.skills.model import KiB, MiB, SkillLimits


class SkillsSettings(CommonSettings):
    service_name: ClassVar[str] = "skills"

    skills_source: Path = Field(
        Path("skills"),
        description="Folder the skill server reads skills from (a mounted ConfigMap in the "
        "Pod): `<name>/SKILL.md` folders and/or flat `<name>.md` files.",
    )
    skills_shared: Path = Field(
        Path("skills-shared"),
        description="Folder the skill server publishes snapshots to (`current` -> "
        "`snapshots/<id>`); the agent reads it.",
    )
    skills_port: int = Field(
        SKILLS_PORT, ge=1, le=65535, description="Port of the skill server's HTTP API."
    )
    skills_max_skill_md_bytes: int = Field(
        256 * KiB, ge=1, description="Largest SKILL.md accepted, in bytes."
    )
    skills_max_skill_bytes: int = Field(
        16 * MiB, ge=1, description="Largest total size of one skill's files, in bytes."
    )
    skills_max_files: int = Field(1000, ge=1, description="Most files one skill may have.")
    skills_max_upload_bytes: int = Field(
        8 * MiB,
        ge=1,
        description="Largest upload to `POST /api/v1/skills:validate` (SKILL.md or zip), in bytes.",
    )
    skills_resync_interval: float = Field(
        30.0,
        gt=0,
        description="Seconds between full resyncs of the source (safety net behind the watcher).",
    )
    skills_snapshots_to_keep: int = Field(
        5,
        ge=1,
        description="Snapshots kept on disk, the live one included; older ones are deleted.",
    )

    @property
    def limits(self) -> SkillLimits:
        return SkillLimits(
            max_skill_md_bytes=self.skills_max_skill_md_bytes,
            max_skill_bytes=self.skills_max_skill_bytes,
            max_files=self.skills_max_files,
        )
