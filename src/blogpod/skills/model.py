"""A skill as read from a source: its files in memory, their hashes, and the SKILL.md parse.

Files are read once into memory, so what is validated, hashed and published is the same
bytes even if the source changes under us mid-scan.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from blogpod.skills.catalog import Finding, Severity, SkillFile

SKILL_MD = "SKILL.md"
Layout = Literal["tree", "flat", "upload"]

KiB = 1024
MiB = 1024 * KiB


class SkillError(Exception):
    """Base of the skill server's own errors."""


@dataclass(frozen=True)
class SkillLimits:
    """Our limits on top of the Agent Skills format (configurable via SkillsSettings)."""

    max_skill_md_bytes: int = 256 * KiB
    max_skill_bytes: int = 16 * MiB
    max_files: int = 1000


@dataclass
class SkillSource:
    """One skill read from a folder, a flat ``<name>.md`` file or an upload.

    ``name`` is the folder name (what the front matter's ``name`` must equal); ``prefix`` is
    how findings name the skill's files (``blog-writer/`` for the tree layout).
    """

    name: str
    layout: Layout
    files: dict[str, bytes] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    prefix: str = ""
    #: The file the flat layout read SKILL.md from (``<name>.md``), for findings.
    skill_md_path: str | None = None

    def finding(
        self, rule: str, severity: Severity, message: str, file: str = "", line: int | None = None
    ) -> Finding:
        return Finding(
            skill=self.name,
            file=file or self.display_path(SKILL_MD),
            line=line,
            rule=rule,
            severity=severity,
            message=message,
        )

    def display_path(self, rel: str) -> str:
        if rel == SKILL_MD and self.skill_md_path:
            return self.skill_md_path
        return self.prefix + rel

    def file_list(self) -> list[SkillFile]:
        return [
            SkillFile(path=p, size=len(data), sha256=hashlib.sha256(data).hexdigest())
            for p, data in sorted(self.files.items())
        ]

    @property
    def version(self) -> str:
        """Content hash over every file's path and bytes: the same content, the same version."""
        return content_version(self.file_list())

    @property
    def total_bytes(self) -> int:
        return sum(len(d) for d in self.files.values())


def content_version(files: list[SkillFile]) -> str:
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        digest.update(f"{f.path}\0{f.sha256}\n".encode())
    return digest.hexdigest()[:16]


@dataclass
class FrontMatter:
    """The YAML front matter of a SKILL.md: values plus the line each top-level key is on."""

    data: Any
    key_lines: dict[str, int]
    duplicate_keys: list[tuple[str, int]]
    body: str
    body_first_line: int


class ParseError(SkillError):
    """SKILL.md cannot be split into front matter and body; carries the rule and line."""

    def __init__(self, rule: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.line = line


def split_front_matter(text: str) -> FrontMatter:
    """Split ``---`` YAML ``---`` from the Markdown body and load the YAML safely."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        raise ParseError(
            "front-matter-missing",
            "SKILL.md must start with a '---' line opening the YAML front matter",
            1,
        )
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), None)
    if end is None:
        raise ParseError(
            "front-matter-unclosed", "the front matter has no closing '---' line", len(lines)
        )
    yaml_text = "".join(lines[1:end])
    try:
        node = yaml.compose(yaml_text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(yaml_text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = 2 + mark.line if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ParseError(
            "front-matter-yaml", f"invalid YAML in front matter: {problem}", line
        ) from exc
    key_lines: dict[str, int] = {}
    duplicates: list[tuple[str, int]] = []
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            key = str(key_node.value)
            line = 2 + key_node.start_mark.line
            if key in key_lines:
                duplicates.append((key, line))
            key_lines.setdefault(key, line)
    return FrontMatter(
        data=data,
        key_lines=key_lines,
        duplicate_keys=duplicates,
        body="".join(lines[end + 1 :]),
        body_first_line=end + 2,
    )
