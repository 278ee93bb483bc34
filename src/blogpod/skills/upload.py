"""Turn an uploaded SKILL.md or zip of a skill folder into a SkillSource, in memory only.

Archives come from strangers, so nothing is trusted: entry names are checked before
anything is read (no absolute paths, ``..``, backslashes or symlinks), and decompression
stops as soon as the skill's byte limit is passed, whatever the archive claims.
"""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import PurePosixPath

from blogpod.skills.model import (
    SKILL_MD,
    ParseError,
    SkillError,
    SkillLimits,
    SkillSource,
    split_front_matter,
)

_ZIP_MAGIC = b"PK\x03\x04"
_CHUNK = 64 * 1024
_IGNORED_TOP = "__MACOSX"


class UploadRejected(SkillError):
    """The upload itself is unacceptable (not the skill in it); maps to a 4xx problem."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


def skill_from_upload(filename: str | None, data: bytes, limits: SkillLimits) -> SkillSource:
    """A SkillSource from a ``SKILL.md``, a flat ``<name>.md`` or a ``.zip`` upload."""
    base = PurePosixPath((filename or "").replace("\\", "/")).name
    if data.startswith(_ZIP_MAGIC) or base.lower().endswith(".zip"):
        return _from_zip(data, limits)
    if base.endswith(".md") and base != SKILL_MD:
        return SkillSource(
            name=base[: -len(".md")],
            layout="flat",
            files={SKILL_MD: data},
            skill_md_path=base,
        )
    return SkillSource(name=_front_matter_name(data), layout="upload", files={SKILL_MD: data})


def _front_matter_name(data: bytes) -> str:
    """The skill's own ``name`` when there is no folder name to compare it with."""
    try:
        front = split_front_matter(data.decode("utf-8"))
    except (UnicodeDecodeError, ParseError):
        return ""
    name = front.data.get("name") if isinstance(front.data, dict) else None
    return name if isinstance(name, str) else ""


def _from_zip(data: bytes, limits: SkillLimits) -> SkillSource:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
        raise UploadRejected(400, "Bad Upload", f"not a readable zip archive: {exc}") from exc
    if len(infos) > 2 * limits.max_files + 10:
        raise UploadRejected(
            413, "Upload Too Large", f"the archive has {len(infos)} entries; too many for a skill"
        )
    files = [info for info in infos if not info.is_dir() and not _ignored(info.filename)]
    for info in infos:
        _check_entry(info)
    if len(files) > limits.max_files:
        raise UploadRejected(
            413,
            "Upload Too Large",
            f"the archive has {len(files)} files; the limit is {limits.max_files}",
        )
    declared = sum(info.file_size for info in files)
    if declared > limits.max_skill_bytes:
        raise UploadRejected(
            413,
            "Upload Too Large",
            f"the archive unpacks to {declared} bytes; the limit is {limits.max_skill_bytes}",
        )
    prefix = _skill_prefix([info.filename for info in files])
    name = prefix.rstrip("/")
    source = SkillSource(name=name, layout="tree" if name else "upload", prefix=prefix)
    budget = limits.max_skill_bytes
    for info in files:
        rel = info.filename[len(prefix) :]
        if any(part.startswith(".") for part in rel.split("/")):
            source.findings.append(
                source.finding(
                    "hidden-file", "warning", "hidden files are not published", prefix + rel
                )
            )
            continue
        content = _read_bounded(archive, info, budget)
        budget -= len(content)
        source.files[rel] = content
    if not name:
        source.name = _front_matter_name(source.files.get(SKILL_MD, b""))
    return source


def _ignored(name: str) -> bool:
    return name.split("/", 1)[0] == _IGNORED_TOP


def _check_entry(info: zipfile.ZipInfo) -> None:
    name = info.filename
    parts = name.rstrip("/").split("/")
    unsafe = (
        not name
        or "\\" in name
        or name.startswith("/")
        or ":" in parts[0]
        or any(part in ("", ".", "..") for part in parts)
        or any(ord(c) < 32 for c in name)
    )
    if unsafe:
        raise UploadRejected(422, "Unsafe Archive", f"unsafe path in archive: {name!r}")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UploadRejected(422, "Unsafe Archive", f"symlinks are not allowed: {name!r}")
    if info.flag_bits & 0x1:
        raise UploadRejected(422, "Unsafe Archive", f"encrypted entry: {name!r}")


def _skill_prefix(names: list[str]) -> str:
    """``"<name>/"`` when every file is in one top folder, else ``""`` (the archive's root).

    An archive without SKILL.md there is still a skill upload, just an invalid one: the
    validator reports ``skill-md-missing``.
    """
    if SKILL_MD in names:
        return ""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        return f"{tops.pop()}/"
    return ""


def _read_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """Decompress at most ``budget`` bytes: a zip bomb is stopped, not unpacked."""
    out = bytearray()
    try:
        with archive.open(info) as fh:
            while chunk := fh.read(min(_CHUNK, budget - len(out) + 1)):
                out += chunk
                if len(out) > budget or len(out) > info.file_size:
                    raise UploadRejected(
                        413,
                        "Upload Too Large",
                        f"{info.filename!r} unpacks to more than it declares or the skill limit",
                    )
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
        raise UploadRejected(400, "Bad Upload", f"cannot unpack {info.filename!r}: {exc}") from exc
    return bytes(out)
