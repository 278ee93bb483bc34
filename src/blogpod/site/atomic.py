"""All-or-nothing changes to the site folder.

A publish touches several files (the post folder, the manifest, the index, the feed,
the stylesheet). :class:`SiteChange` writes every new file to a temp name next to its
target first (fsync'd), and only then swaps them into place with ``os.replace``. Each
existing file is hard-linked to a backup before it is replaced, so undoing a half-done
swap is a rename too and needs no free space. Any ``OSError`` undoes what was done,
removes the temp files and surfaces as :class:`PublishError`.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from blogpod.site.errors import PublishError

log = logging.getLogger(__name__)

_TEMP_PREFIX = ".tmp-"


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable; some filesystems refuse to fsync a folder, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_temp(folder: Path, name: str, data: bytes) -> Path:
    fd, temp = tempfile.mkstemp(prefix=f"{_TEMP_PREFIX}{name}-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)  # mkstemp makes 0600; nginx must be able to read it.
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return Path(temp)


def _remove(path: Path) -> None:
    """Best-effort removal of a temp file or folder (cleanup must never mask the error)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove temp path %s: %s", path, exc)


@dataclass
class _FileSwap:
    target: Path
    temp: Path
    backup: Path | None  # hard link of the old file, None when there was no old file
    done: bool = False


@dataclass
class _FolderAdd:
    target: Path
    temp: Path
    done: bool = False


@dataclass
class _FolderRemove:
    target: Path
    trash: Path | None = None
    done: bool = False


@dataclass
class SiteChange:
    """A set of file and folder changes applied together or not at all."""

    what: str  # e.g. "publish 'my-post'", used in error messages
    _swaps: list[_FileSwap] = field(default_factory=list)
    _adds: list[_FolderAdd] = field(default_factory=list)
    _removals: list[_FolderRemove] = field(default_factory=list)
    _made_dirs: list[Path] = field(default_factory=list)

    # -- staging: nothing visible changes -------------------------------------------------

    def write_file(self, target: Path, data: bytes) -> None:
        """Stage ``data`` to replace (or create) ``target``."""
        try:
            self._ensure_dir(target.parent)
            temp = _write_temp(target.parent, target.name, data)
            swap = _FileSwap(target, temp, backup=None)
            self._swaps.append(swap)
            if target.is_file() and not target.is_symlink():
                swap.backup = self._backup(target)
        except OSError as exc:
            self._fail(f"cannot write {target}", exc)

    def add_folder(self, target: Path, files: dict[str, bytes]) -> None:
        """Stage a new folder holding ``files``; it appears in one rename."""
        try:
            self._ensure_dir(target.parent)
            temp = Path(tempfile.mkdtemp(prefix=f"{_TEMP_PREFIX}{target.name}-", dir=target.parent))
            self._adds.append(_FolderAdd(target, temp))
            os.chmod(temp, 0o755)  # noqa: S103 - nginx (another user) serves it
            for name, data in files.items():
                written = _write_temp(temp, name, data)
                os.replace(written, temp / name)
            _fsync_dir(temp)
        except OSError as exc:
            self._fail(f"cannot create {target}", exc)

    def remove_folder(self, target: Path) -> None:
        """Stage the removal of ``target`` (moved aside at commit, deleted after)."""
        self._removals.append(_FolderRemove(target))

    # -- commit ----------------------------------------------------------------------------

    def commit(self) -> None:
        """Swap everything into place, or undo and raise :class:`PublishError`."""
        try:
            for removal in self._removals:
                trash = Path(
                    tempfile.mkdtemp(prefix=f"{_TEMP_PREFIX}trash-", dir=removal.target.parent)
                )
                removal.trash = trash / removal.target.name
                os.replace(removal.target, removal.trash)
                removal.done = True
            for add in self._adds:
                if add.target.exists():
                    raise FileExistsError(f"{add.target} appeared meanwhile")
                os.replace(add.temp, add.target)
                add.done = True
            for swap in self._swaps:
                os.replace(swap.temp, swap.target)
                swap.done = True
        except OSError as exc:
            self._fail(f"cannot {self.what}", exc)
        targets = [c.target for c in self._swaps] + [c.target for c in self._adds]
        targets += [c.target for c in self._removals]
        for folder in {target.parent for target in targets}:
            _fsync_dir(folder)
        self._cleanup(committed=True)

    # -- internals -------------------------------------------------------------------------

    def _ensure_dir(self, folder: Path) -> None:
        missing: list[Path] = []
        probe = folder
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        for path in reversed(missing):
            path.mkdir()
            self._made_dirs.append(path)

    def _backup(self, target: Path) -> Path:
        backup = target.with_name(f"{_TEMP_PREFIX}{target.name}-{os.urandom(6).hex()}.bak")
        try:
            os.link(target, backup)
        except OSError:
            shutil.copy2(target, backup)  # filesystems without hard links
        return backup

    def _fail(self, message: str, exc: OSError) -> None:
        problems = self._undo()
        detail = f"{message}: {exc.strerror or exc}"
        if exc.filename:
            detail += f" ({exc.filename})"
        if problems:
            detail += "; undo was incomplete: " + "; ".join(problems)
        raise PublishError(detail) from exc

    def _undo(self) -> list[str]:
        problems: list[str] = []
        for swap in reversed(self._swaps):
            if not swap.done:
                continue
            try:
                if swap.backup is not None:
                    os.replace(swap.backup, swap.target)
                    swap.backup = None
                else:
                    swap.target.unlink()
            except OSError as exc:
                problems.append(f"restore {swap.target}: {exc}")
        for add in reversed(self._adds):
            if add.done:
                _remove(add.target)
        for removal in reversed(self._removals):
            if removal.done and removal.trash is not None:
                try:
                    os.replace(removal.trash, removal.target)
                    removal.done = False
                except OSError as exc:
                    problems.append(f"restore {removal.target}: {exc}")
        self._cleanup(committed=False)
        for folder in reversed(self._made_dirs):
            try:
                folder.rmdir()
            except OSError as exc:
                problems.append(f"remove {folder}: {exc}")
        return problems

    def _cleanup(self, *, committed: bool) -> None:
        for swap in self._swaps:
            if not swap.done:
                _remove(swap.temp)
            if swap.backup is not None and (committed or not swap.done):
                _remove(swap.backup)  # else the undo failed: the backup is the old file
        for add in self._adds:
            if not add.done:
                _remove(add.temp)
        for removal in self._removals:
            if removal.trash is None:
                continue
            if removal.done and committed:
                _remove(removal.trash.parent)  # delete the moved-aside post
            elif removal.done:
                log.error("post kept at %s after a failed undo", removal.trash)
            else:
                try:
                    removal.trash.parent.rmdir()  # rmdir, not rmtree: never lose a post
                except OSError as exc:
                    log.warning("could not remove %s: %s", removal.trash.parent, exc)


def leftovers(folder: Path) -> list[Path]:
    """Temp files, backups and trash a killed process left in ``folder``."""
    try:
        return sorted(path for path in folder.iterdir() if path.name.startswith(_TEMP_PREFIX))
    except OSError:
        return []


def is_trash(path: Path) -> bool:
    return path.is_dir() and path.name.startswith(f"{_TEMP_PREFIX}trash-")


def remove_quietly(path: Path) -> None:
    """Remove a leftover temp file or folder, logging (not raising) on failure."""
    _remove(path)
