"""Read skills from a source folder, in either of the two layouts.

* Tree layout: ``<name>/SKILL.md`` plus any other files (``scripts/``, ``references/``,
  ``assets/``...). A ConfigMap gives this with ``items[].path: <name>/SKILL.md``.
* Flat layout: a file ``<name>.md`` is the one-file skill ``<name>/SKILL.md`` (plain
  ConfigMap keys cannot contain ``/``).

Hidden entries at the top (the kubelet's ``..data`` and ``..<timestamp>`` folders) are not
skills. A symlink is followed only if it resolves inside the source folder, as a mounted
ConfigMap's do. Files are read into memory (within the limits), so a skill is one
consistent set of bytes.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from blogpod.skills.catalog import Finding, Severity
from blogpod.skills.model import SKILL_MD, SkillError, SkillLimits, SkillSource

#: How often a skill whose files vanish or fail to read mid-scan is read again.
READ_ATTEMPTS = 3
RETRY_PAUSE = 0.05


class SourceUnavailable(SkillError):
    """The source folder itself cannot be read (missing, not a folder, no permission)."""


@dataclass
class SourceScan:
    skills: list[SkillSource] = field(default_factory=list)
    #: Findings that belong to no single skill (ignored files, duplicates).
    findings: list[Finding] = field(default_factory=list)


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def scan_source(root: Path, limits: SkillLimits) -> SourceScan:
    """Every skill in ``root`` (a folder of skills, either layout)."""
    try:
        entries = sorted(os.listdir(root))
    except OSError as exc:
        raise SourceUnavailable(f"cannot read the skills source {root}: {exc}") from exc
    scan = SourceScan()
    real_root = os.path.realpath(root)
    kinds: dict[str, str] = {}
    for entry in entries:
        if is_hidden(entry):
            continue
        path = root / entry
        if entry.endswith(".md") and _is_file(path):
            name, kind = entry[: -len(".md")], "flat"
        elif _is_dir(path):
            name, kind = entry, "tree"
        elif not path.exists():
            continue  # vanished since listdir, or a link the kubelet is about to remove
        else:
            scan.findings.append(
                Finding(
                    skill=entry,
                    file=entry,
                    rule="ignored-file",
                    severity="warning",
                    message="not a skill: expected a <name>/ folder or a <name>.md file",
                )
            )
            continue
        if name in kinds:
            scan.findings.append(
                Finding(
                    skill=name,
                    file=entry,
                    rule="duplicate-skill",
                    severity="error",
                    message=f"skill {name!r} is both a folder and a {name}.md file; "
                    "the folder is used",
                )
            )
            continue
        kinds[name] = kind
        skill = read_entry(path, name, kind, real_root, limits)
        if skill is not None:
            scan.skills.append(skill)
    return scan


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def read_entry(
    path: Path, name: str, kind: str, real_root: str, limits: SkillLimits
) -> SkillSource | None:
    """Read one skill, retrying when files vanish mid-read; None when the skill is gone."""
    last_error: OSError | None = None
    for attempt in range(READ_ATTEMPTS):
        if not os.path.lexists(path):
            return None
        try:
            if kind == "flat":
                return read_flat_file(path, name, real_root, limits)
            return read_skill_dir(path, name, real_root, limits, prefix=f"{name}/")
        except OSError as exc:
            last_error = exc
            if attempt + 1 < READ_ATTEMPTS:
                time.sleep(RETRY_PAUSE)
    if not os.path.lexists(path):
        return None
    skill = SkillSource(name=name, layout="tree" if kind == "tree" else "flat", prefix=f"{name}/")
    skill.findings.append(
        skill.finding("unreadable", "error", f"cannot read the skill: {last_error}")
    )
    return skill


def _inside(real_path: str, real_root: str) -> bool:
    return real_path == real_root or real_path.startswith(real_root.rstrip(os.sep) + os.sep)


def read_flat_file(path: Path, name: str, real_root: str, limits: SkillLimits) -> SkillSource:
    """A ``<name>.md`` file as the one-file skill ``<name>/SKILL.md``."""
    skill = SkillSource(name=name, layout="flat", skill_md_path=path.name)
    if path.is_symlink() and not _inside(os.path.realpath(path), real_root):
        skill.findings.append(
            skill.finding("symlink-escape", "error", "the file links outside the source folder")
        )
        return skill
    data = _read_limited(path, limits.max_skill_md_bytes)
    if data is None:
        skill.findings.append(
            skill.finding(
                "skill-md-too-large",
                "error",
                f"{path.name} is larger than {limits.max_skill_md_bytes} bytes",
            )
        )
        return skill
    skill.files[SKILL_MD] = data
    return skill


def _read_limited(path: Path, limit: int) -> bytes | None:
    """The file's bytes, or None when it holds more than ``limit`` (never reads past it).

    Opened non-blocking and checked after opening, so a file swapped for a fifo between the
    scan's stat and this read cannot hang the server.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        data = fh.read(limit + 1)
    return None if len(data) > limit else data


def read_skill_dir(
    skill_dir: Path, name: str, real_root: str, limits: SkillLimits, prefix: str = ""
) -> SkillSource:
    """Read a skill folder recursively within the limits; problems become findings."""
    skill = SkillSource(name=name, layout="tree", prefix=prefix)
    reader = _DirReader(skill, real_root, limits)
    real_dir = os.path.realpath(skill_dir)
    if not _inside(real_dir, real_root):
        skill.findings.append(
            skill.finding(
                "symlink-escape", "error", "the skill folder links outside the source folder", name
            )
        )
        return skill
    # Read through the resolved folder: a ConfigMap `..data` swap mid-read then cannot mix
    # files of two payloads (the old payload vanishing makes the caller retry instead).
    reader.walk(Path(real_dir), "", {real_dir})
    return skill


class _DirReader:
    def __init__(self, skill: SkillSource, real_root: str, limits: SkillLimits) -> None:
        self.skill = skill
        self.real_root = real_root
        self.limits = limits
        self.count = 0
        self.total = 0
        self.stopped = False

    def report(self, rule: str, rel: str, message: str, severity: Severity = "error") -> None:
        self.skill.findings.append(
            self.skill.finding(rule, severity, message, self.skill.display_path(rel))
        )

    def walk(self, folder: Path, rel_folder: str, stack: set[str]) -> None:
        for entry in sorted(os.listdir(folder)):
            if self.stopped:
                return
            rel = f"{rel_folder}{entry}"
            if not _valid_file_name(entry):
                self.report("bad-file-name", rel, "file name is not valid UTF-8 text")
                continue
            if is_hidden(entry):
                self.report("hidden-file", rel, "hidden files are not published", "warning")
                continue
            path = folder / entry
            st = self.stat(path, rel)
            if st is None:
                continue
            if stat.S_ISDIR(st.st_mode):
                real = os.path.realpath(path)
                if real in stack:
                    self.report("symlink-loop", rel, "symlink leads back into its own folder")
                    continue
                self.walk(path, rel + "/", stack | {real})
            elif stat.S_ISREG(st.st_mode):
                self.add_file(path, rel, st.st_size)
            else:
                self.report("not-regular-file", rel, "only regular files can be published")

    def stat(self, path: Path, rel: str) -> os.stat_result | None:
        """lstat, following a symlink only when it stays inside the source folder."""
        st = os.lstat(path)
        if not stat.S_ISLNK(st.st_mode):
            return st
        real = os.path.realpath(path)
        if not _inside(real, self.real_root):
            self.report("symlink-escape", rel, "symlink resolves outside the source folder")
            return None
        try:
            return os.stat(path)
        except FileNotFoundError:
            self.report("symlink-broken", rel, "symlink points at nothing")
            return None

    def add_file(self, path: Path, rel: str, size: int) -> None:
        self.count += 1
        if self.count > self.limits.max_files:
            self.report(
                "too-many-files",
                "",
                f"the skill has more than {self.limits.max_files} files",
            )
            self.stopped = True
            return
        budget = self.limits.max_skill_bytes - self.total
        data = _read_limited(path, max(budget, 0)) if size <= budget else None
        if data is None:
            self.report(
                "skill-too-large",
                rel,
                f"the skill's files exceed {self.limits.max_skill_bytes} bytes",
            )
            self.stopped = True
            return
        self.total += len(data)
        self.skill.files[rel] = data


def _valid_file_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(ord(c) < 32 or ord(c) == 127 for c in name)
