"""Every rule of the Agent Skills format, plus our own limits, as findings.

Rule ids are stable (tests, API clients and CI logs refer to them); see :data:`RULES`.
The Copilot CLI silently skips a malformed SKILL.md, so the skill server must catch it first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from blogpod.skills.catalog import Finding
from blogpod.skills.model import SKILL_MD, ParseError, SkillLimits, SkillSource, split_front_matter

NAME_MAX = 64
DESCRIPTION_MAX = 1024
DESCRIPTION_SHORT = 20
COMPATIBILITY_MAX = 500
BODY_MAX_LINES = 500
ALLOWED_KEYS = ("name", "description", "license", "compatibility", "metadata", "allowed-tools")
_NAME_CHARS = re.compile(r"^[a-z0-9-]+$")

#: rule id -> what it checks (errors unless marked warning).
RULES: dict[str, str] = {
    "skill-md-missing": "the skill has a SKILL.md file",
    "skill-md-too-large": "SKILL.md is within the size limit",
    "skill-md-encoding": "SKILL.md is UTF-8",
    "front-matter-missing": "SKILL.md starts with '---' YAML front matter",
    "front-matter-unclosed": "the front matter ends with a '---' line",
    "front-matter-yaml": "the front matter is valid YAML",
    "front-matter-not-mapping": "the front matter is a mapping of keys to values",
    "duplicate-key": "no top-level key appears twice",
    "unknown-key": "only the keys of the Agent Skills format are used",
    "name-missing": "`name` is present",
    "name-type": "`name` is a string",
    "name-length": f"`name` has 1..{NAME_MAX} characters",
    "name-charset": "`name` has only lowercase ASCII letters, digits and '-'",
    "name-hyphen": "`name` does not start or end with '-' nor contain '--'",
    "name-mismatch": "`name` equals the skill's folder name",
    "description-missing": "`description` is present",
    "description-type": "`description` is a string",
    "description-length": f"`description` has 1..{DESCRIPTION_MAX} characters",
    "description-short": f"warning: `description` has at least {DESCRIPTION_SHORT} characters",
    "license-type": "`license` is a string",
    "compatibility-type": "`compatibility` is a string",
    "compatibility-length": f"`compatibility` has 1..{COMPATIBILITY_MAX} characters",
    "metadata-type": "`metadata` maps string keys to string values",
    "allowed-tools-type": "`allowed-tools` is a space-separated string",
    "body-too-long": f"warning: the Markdown body has at most {BODY_MAX_LINES} lines",
    # Our limits and source rules (reported by blogpod.skills.source and .upload):
    "too-many-files": "the skill has at most the configured number of files",
    "skill-too-large": "the skill's files total at most the configured bytes",
    "not-regular-file": "only regular files (no fifo, socket or device)",
    "symlink-escape": "a symlink resolves inside the source folder",
    "symlink-broken": "a symlink points at something that exists",
    "symlink-loop": "no symlink leads back into a folder being read",
    "bad-file-name": "file names are valid UTF-8 without control characters",
    "hidden-file": "warning: hidden files are not published",
    "unreadable": "every file of the skill can be read",
    "duplicate-skill": "a skill is either a folder or a flat <name>.md file, not both",
    "ignored-file": "warning: top-level files other than <name>.md are not skills",
    "not-a-skill": "the path holds at least one skill",
}


@dataclass
class SkillInfo:
    """The validated fields of a SKILL.md."""

    name: str
    description: str
    license: str | None = None
    compatibility: str | None = None
    allowed_tools: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass
class Validation:
    findings: list[Finding]
    info: SkillInfo | None

    @property
    def ok(self) -> bool:
        return self.info is not None and not any(f.severity == "error" for f in self.findings)


def validate_skill(source: SkillSource, limits: SkillLimits) -> Validation:
    """Check one skill; source-level findings (limits, symlinks) are carried over."""
    findings = list(source.findings)
    raw = source.files.get(SKILL_MD)
    if raw is None:
        findings.append(source.finding("skill-md-missing", "error", "the skill has no SKILL.md"))
        return Validation(findings, None)
    if len(raw) > limits.max_skill_md_bytes:
        findings.append(
            source.finding(
                "skill-md-too-large",
                "error",
                f"SKILL.md has {len(raw)} bytes, the limit is {limits.max_skill_md_bytes}",
            )
        )
        return Validation(findings, None)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        findings.append(
            source.finding("skill-md-encoding", "error", f"SKILL.md is not UTF-8: {exc}", line=line)
        )
        return Validation(findings, None)
    try:
        front = split_front_matter(text)
    except ParseError as exc:
        findings.append(source.finding(exc.rule, "error", exc.message, line=exc.line))
        return Validation(findings, None)
    if not isinstance(front.data, dict):
        kind = "empty" if front.data is None else type(front.data).__name__
        findings.append(
            source.finding(
                "front-matter-not-mapping",
                "error",
                f"the front matter must be a mapping of keys to values, not {kind}",
                line=2,
            )
        )
        return Validation(findings, None)
    checker = _FieldChecker(source, front.data, front.key_lines)
    for key, line in front.duplicate_keys:
        checker.error("duplicate-key", f"key '{key}' appears more than once", line)
    info = checker.run()
    findings.extend(checker.findings)
    body_lines = len(front.body.splitlines())
    if body_lines > BODY_MAX_LINES:
        findings.append(
            source.finding(
                "body-too-long",
                "warning",
                f"the body has {body_lines} lines; keep it under {BODY_MAX_LINES} and move "
                "details into references/ files",
                line=front.body_first_line,
            )
        )
    if info is not None:
        info.body = front.body
    return Validation(findings, info)


class _FieldChecker:
    """Checks each front matter field, collecting findings with the key's line."""

    def __init__(self, source: SkillSource, data: dict[Any, Any], lines: dict[str, int]) -> None:
        self.source = source
        self.data = data
        self.lines = lines
        self.findings: list[Finding] = []

    def error(self, rule: str, message: str, line: int | None = None) -> None:
        self.findings.append(self.source.finding(rule, "error", message, line=line))

    def line(self, key: str) -> int | None:
        return self.lines.get(key)

    def run(self) -> SkillInfo | None:
        for key in self.data:
            if str(key) not in ALLOWED_KEYS:
                self.error(
                    "unknown-key",
                    f"unknown key '{key}'; allowed: {', '.join(ALLOWED_KEYS)} "
                    "(put custom fields under 'metadata')",
                    self.line(str(key)),
                )
        name = self.check_name()
        description = self.check_description()
        license_ = self.optional_string("license", "license-type")
        compatibility = self.optional_string("compatibility", "compatibility-type")
        if compatibility is not None and not 1 <= len(compatibility) <= COMPATIBILITY_MAX:
            self.error(
                "compatibility-length",
                f"'compatibility' has {len(compatibility)} characters; "
                f"allowed 1..{COMPATIBILITY_MAX}",
                self.line("compatibility"),
            )
        allowed_tools = self.optional_string("allowed-tools", "allowed-tools-type")
        metadata = self.check_metadata()
        if name is None or description is None:
            return None
        return SkillInfo(
            name=name,
            description=description,
            license=license_,
            compatibility=compatibility,
            allowed_tools=allowed_tools,
            metadata=metadata,
        )

    def check_name(self) -> str | None:
        if "name" not in self.data:
            self.error("name-missing", "the front matter has no 'name'", 2)
            return None
        name = self.data["name"]
        line = self.line("name")
        if not isinstance(name, str):
            self.error("name-type", f"'name' must be a string, not {type(name).__name__}", line)
            return None
        if not 1 <= len(name) <= NAME_MAX:
            self.error("name-length", f"'name' has {len(name)} characters; allowed 1..64", line)
        if name and not _NAME_CHARS.match(name):
            self.error(
                "name-charset",
                f"'name' {name!r} may only contain lowercase letters a-z, digits and '-'",
                line,
            )
        if name.startswith("-") or name.endswith("-") or "--" in name:
            self.error(
                "name-hyphen", f"'name' {name!r} must not start/end with '-' or contain '--'", line
            )
        if name != self.source.name and self.source.layout != "upload":
            self.error(
                "name-mismatch",
                f"'name' is {name!r} but the skill's folder is {self.source.name!r}; "
                "they must be equal",
                line,
            )
        return name

    def check_description(self) -> str | None:
        if "description" not in self.data:
            self.error("description-missing", "the front matter has no 'description'", 2)
            return None
        description = self.data["description"]
        line = self.line("description")
        if not isinstance(description, str):
            self.error(
                "description-type",
                f"'description' must be a string, not {type(description).__name__}",
                line,
            )
            return None
        if not description.strip() or len(description) > DESCRIPTION_MAX:
            self.error(
                "description-length",
                f"'description' has {len(description.strip())} characters; "
                f"allowed 1..{DESCRIPTION_MAX}",
                line,
            )
        elif len(description.strip()) < DESCRIPTION_SHORT:
            self.findings.append(
                self.source.finding(
                    "description-short",
                    "warning",
                    "'description' is very short; say what the skill does and when to use it",
                    line=line,
                )
            )
        return description

    def optional_string(self, key: str, rule: str) -> str | None:
        if key not in self.data:
            return None
        value = self.data[key]
        if not isinstance(value, str):
            self.error(
                rule, f"'{key}' must be a string, not {type(value).__name__}", self.line(key)
            )
            return None
        return value

    def check_metadata(self) -> dict[str, str]:
        if "metadata" not in self.data:
            return {}
        value = self.data["metadata"]
        line = self.line("metadata")
        if not isinstance(value, dict):
            self.error(
                "metadata-type",
                f"'metadata' must be a mapping, not {type(value).__name__}",
                line,
            )
            return {}
        bad = [k for k, v in value.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            self.error(
                "metadata-type",
                f"'metadata' values must be strings (quote them); offending keys: "
                f"{', '.join(str(k) for k in bad[:10])}",
                line,
            )
            return {}
        return dict(value)
