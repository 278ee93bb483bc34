"""Publish validated skills as immutable snapshots and swap ``current`` atomically.

A snapshot is written completely into a temporary folder (files, then ``catalog.json`` via
temp + rename), the folder is renamed to ``snapshots/<id>``, and only then a fresh symlink
replaces ``current`` with ``os.replace``. A reader resolving ``current`` sees either the old
or the new snapshot, never a mix. Per skill the last good version wins: an invalid change
keeps the previous version live (status ``stale``) with the new findings attached.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from blogpod.skills.catalog import (
    CATALOG_FILE,
    CURRENT_LINK,
    SKILLS_DIR,
    SNAPSHOTS_DIR,
    Catalog,
    CatalogUnavailable,
    Finding,
    PublishedCatalog,
    SkillEntry,
    load_current,
)
from blogpod.skills.model import SkillLimits, SkillSource
from blogpod.skills.source import scan_source
from blogpod.skills.validator import validate_skill

log = logging.getLogger(__name__)

SeenStatus = Literal["ok", "stale", "rejected"]

HISTORY_LENGTH = 50
_TMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class VersionSeen:
    version: str | None
    status: SeenStatus
    seen_at: datetime
    errors: int


@dataclass(frozen=True)
class SyncResult:
    snapshot: str
    changed: bool
    skills: int
    rejected: int


@dataclass
class _Planned:
    """A skill entry of the next snapshot and where its files come from."""

    entry: SkillEntry
    files: dict[str, bytes] | None = None  # fresh bytes from the source
    copy_from: Path | None = None  # the folder of its last good version


@dataclass
class PublisherStats:
    publishes: int = 0
    syncs: int = 0
    sync_errors: int = 0
    last_published_at: float | None = None  # time.time()


class Publisher:
    """Owns ``shared_dir``: scans ``source_dir``, publishes snapshots, collects garbage."""

    def __init__(
        self,
        source_dir: Path,
        shared_dir: Path,
        limits: SkillLimits | None = None,
        snapshots_to_keep: int = 5,
    ) -> None:
        self.source_dir = source_dir
        self.shared_dir = shared_dir
        self.limits = limits or SkillLimits()
        self.snapshots_to_keep = max(1, snapshots_to_keep)
        self.stats = PublisherStats()
        self.history: dict[str, deque[VersionSeen]] = {}
        self.current: PublishedCatalog | None = None
        self._lock = threading.Lock()
        (shared_dir / SNAPSHOTS_DIR).mkdir(parents=True, exist_ok=True)
        self._adopt_existing()

    @property
    def ready(self) -> bool:
        return self.current is not None

    def _adopt_existing(self) -> None:
        """After a restart the live snapshot holds the last good version of every skill."""
        try:
            self.current = load_current(self.shared_dir)
        except CatalogUnavailable:
            return
        for entry in self.current.catalog.skills:
            errors = sum(1 for f in entry.findings if f.severity == "error")
            self._remember(entry.name, entry.version, entry.status, errors)
        log.info(
            "adopted live snapshot",
            extra={
                "snapshot": self.current.catalog.snapshot,
                "skills": len(self.current.catalog.skills),
            },
        )

    def sync(self) -> SyncResult:
        """Scan, validate and publish if anything changed. Raises SourceUnavailable."""
        with self._lock:
            self.stats.syncs += 1
            try:
                return self._sync()
            except Exception:
                self.stats.sync_errors += 1
                raise

    def _sync(self) -> SyncResult:
        scan = scan_source(self.source_dir, self.limits)
        now = datetime.now(UTC)
        planned: list[_Planned] = []
        rejected: list[Finding] = list(scan.findings)
        previous = {e.name: e for e in self.current.catalog.skills} if self.current else {}
        for source in scan.skills:
            plan, findings = self._plan(source, previous.get(source.name), now)
            if plan is None:
                rejected.extend(findings)
            else:
                planned.append(plan)
        snapshot_id = _snapshot_id([p.entry for p in planned], rejected)
        if self.current is not None and self.current.catalog.snapshot == snapshot_id:
            return SyncResult(snapshot_id, False, len(planned), _count_skills(rejected))
        catalog = Catalog(
            snapshot=snapshot_id,
            created_at=now,
            skills=[p.entry for p in planned],
            rejected=rejected,
        )
        root = self._write_snapshot(catalog, planned)
        # a reused snapshot keeps its own timestamps: serve exactly what is on disk
        catalog = Catalog.model_validate_json((root / CATALOG_FILE).read_bytes())
        self._swap_current(root)
        self.current = PublishedCatalog(root, catalog)
        self._record(catalog)
        self.collect_garbage()
        log.info(
            "published skill snapshot %s: %s",
            snapshot_id,
            ", ".join(f"{e.name}={e.version} ({e.status})" for e in catalog.skills) or "no skills",
            extra={"snapshot": snapshot_id, "skills": catalog.names(), "rejected": len(rejected)},
        )
        _log_errors(catalog)
        return SyncResult(snapshot_id, True, len(planned), _count_skills(rejected))

    def _plan(
        self, source: SkillSource, previous: SkillEntry | None, now: datetime
    ) -> tuple[_Planned | None, list[Finding]]:
        """The skill's next entry: the new version if valid, else its last good version."""
        result = validate_skill(source, self.limits)
        if result.ok and result.info is not None:
            version = source.version
            info = result.info
            entry = SkillEntry(
                name=source.name,
                description=info.description,
                version=version,
                license=info.license,
                compatibility=info.compatibility,
                allowed_tools=info.allowed_tools,
                metadata=info.metadata,
                files=source.file_list(),
                published_at=previous.published_at
                if previous is not None and previous.version == version
                else now,
                status="ok",
                findings=result.findings,
            )
            return _Planned(entry, files=dict(source.files)), result.findings
        if previous is None or self.current is None:
            return None, result.findings
        entry = previous.model_copy(update={"status": "stale", "findings": result.findings})
        return _Planned(entry, copy_from=self.current.skill_dir(previous.name)), result.findings

    def _write_snapshot(self, catalog: Catalog, planned: list[_Planned]) -> Path:
        snapshots = self.shared_dir / SNAPSHOTS_DIR
        final = snapshots / catalog.snapshot
        if (final / CATALOG_FILE).is_file():
            os.utime(final)  # reused: mark it recent for the garbage collector
            return final
        tmp = snapshots / f"{_TMP_PREFIX}{catalog.snapshot}-{uuid.uuid4().hex[:8]}"
        try:
            for plan in planned:
                skill_dir = tmp / SKILLS_DIR / plan.entry.name
                if plan.files is not None:
                    for rel, data in plan.files.items():
                        _write_file(skill_dir / rel, data)
                elif plan.copy_from is not None:
                    for f in plan.entry.files:
                        _link_or_copy(plan.copy_from / f.path, skill_dir / f.path)
            (tmp / SKILLS_DIR).mkdir(parents=True, exist_ok=True)
            _write_file(tmp / f"{CATALOG_FILE}.tmp", catalog.model_dump_json(indent=2).encode())
            os.rename(tmp / f"{CATALOG_FILE}.tmp", tmp / CATALOG_FILE)
            _fsync_dir(tmp)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _fsync_dir(snapshots)
        return final

    def _swap_current(self, root: Path) -> None:
        link = self.shared_dir / CURRENT_LINK
        tmp_link = self.shared_dir / f"{_TMP_PREFIX}current-{uuid.uuid4().hex[:8]}"
        os.symlink(os.path.join(SNAPSHOTS_DIR, root.name), tmp_link)
        try:
            os.replace(tmp_link, link)
        except BaseException:
            tmp_link.unlink(missing_ok=True)
            raise
        _fsync_dir(self.shared_dir)

    def _record(self, catalog: Catalog) -> None:
        self.stats.publishes += 1
        self.stats.last_published_at = time.time()
        for entry in catalog.skills:
            errors = sum(1 for f in entry.findings if f.severity == "error")
            self._remember(entry.name, entry.version, entry.status, errors)
        for name in {f.skill for f in catalog.rejected}:
            errors = sum(1 for f in catalog.rejected if f.skill == name and f.severity == "error")
            self._remember(name, None, "rejected", errors)

    def _remember(self, name: str, version: str | None, status: SeenStatus, errors: int) -> None:
        seen = self.history.setdefault(name, deque(maxlen=HISTORY_LENGTH))
        if seen and seen[-1].version == version and seen[-1].status == status:
            return
        seen.append(VersionSeen(version, status, datetime.now(UTC), errors))

    def collect_garbage(self) -> list[str]:
        """Remove old snapshots and leftovers; never the live one, keep the newest few."""
        snapshots = self.shared_dir / SNAPSHOTS_DIR
        live = os.path.realpath(self.shared_dir / CURRENT_LINK)
        removed: list[str] = []
        candidates: list[tuple[float, Path]] = []
        for path in snapshots.iterdir():
            if os.path.realpath(path) == live:
                continue
            if path.name.startswith(_TMP_PREFIX):
                shutil.rmtree(path, ignore_errors=True)  # left by a crash; we hold the lock
                removed.append(path.name)
                continue
            candidates.append((path.stat().st_mtime, path))
        candidates.sort(reverse=True)
        for _, path in candidates[self.snapshots_to_keep - 1 :]:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        for path in self.shared_dir.glob(f"{_TMP_PREFIX}current-*"):
            path.unlink(missing_ok=True)
        return removed


def _log_errors(catalog: Catalog) -> None:
    """Invalid skills are reported in the logs too, once per published change."""
    for f in [f for e in catalog.skills for f in e.findings] + list(catalog.rejected):
        if f.severity == "error":
            log.warning(
                "invalid skill %s: %s:%s %s: %s",
                f.skill,
                f.file,
                f.line or "-",
                f.rule,
                f.message,
                extra={"skill": f.skill, "file": f.file, "line": f.line, "rule": f.rule},
            )


def _count_skills(findings: list[Finding]) -> int:
    return len({f.skill for f in findings})


def _snapshot_id(entries: list[SkillEntry], rejected: list[Finding]) -> str:
    """Hash of what a reader can see, timestamps aside: same content, same snapshot."""
    content = {
        "skills": [e.model_dump(mode="json", exclude={"published_at"}) for e in entries],
        "rejected": [f.model_dump(mode="json") for f in rejected],
    }
    blob = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _link_or_copy(src: Path, dst: Path) -> None:
    """Snapshots are immutable, so a hard link shares the bytes safely."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
