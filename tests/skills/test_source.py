"""Both source layouts, our limits, symlinks and odd files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from blogpod.skills import source as source_mod
from blogpod.skills.model import SkillLimits
from blogpod.skills.source import SourceUnavailable, scan_source
from blogpod.skills.validator import validate_skill
from tests.skills.helpers import skill_md, write_skill

LIMITS = SkillLimits()


def scan(root: Path, limits: SkillLimits = LIMITS) -> dict[str, set[str]]:
    """skill name -> rules of its findings (after validation); '' for source-level findings."""
    result = scan_source(root, limits)
    out: dict[str, set[str]] = {"": {f.rule for f in result.findings}}
    for skill in result.skills:
        out[skill.name] = {f.rule for f in validate_skill(skill, limits).findings}
    return out


def test_tree_layout_reads_every_file(tmp_path: Path) -> None:
    write_skill(
        tmp_path,
        "pdf",
        skill_md("pdf"),
        {
            "scripts/extract.py": "print('hi')\n",
            "references/REFERENCE.md": "# ref\n",
            "assets/font.ttf": "\x00\x01binary",
        },
    )
    (skill,) = scan_source(tmp_path, LIMITS).skills
    assert skill.layout == "tree"
    assert sorted(skill.files) == [
        "SKILL.md",
        "assets/font.ttf",
        "references/REFERENCE.md",
        "scripts/extract.py",
    ]
    assert validate_skill(skill, LIMITS).ok


def test_flat_layout_is_a_one_file_skill(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text(skill_md("notes"))
    (skill,) = scan_source(tmp_path, LIMITS).skills
    assert (skill.name, skill.layout, list(skill.files)) == ("notes", "flat", ["SKILL.md"])
    assert validate_skill(skill, LIMITS).ok


def test_flat_layout_findings_name_the_flat_file(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text(skill_md("other"))
    (skill,) = scan_source(tmp_path, LIMITS).skills
    (finding,) = validate_skill(skill, LIMITS).findings
    assert (finding.rule, finding.file) == ("name-mismatch", "notes.md")


def test_both_layouts_together_and_duplicates(tmp_path: Path) -> None:
    write_skill(tmp_path, "a")
    (tmp_path / "b.md").write_text(skill_md("b"))
    (tmp_path / "a.md").write_text(skill_md("a"))
    found = scan(tmp_path)
    assert found == {"": {"duplicate-skill"}, "a": set(), "b": set()}


def test_hidden_entries_and_kubelet_folders_are_not_skills(tmp_path: Path) -> None:
    write_skill(tmp_path, "..2026_01_01_00_00_00.000000001")
    (tmp_path / ".hidden.md").write_text(skill_md("hidden"))
    write_skill(tmp_path, "a", files={".secret": "x"})
    found = scan(tmp_path)
    assert found == {"": set(), "a": {"hidden-file"}}
    (skill,) = scan_source(tmp_path, LIMITS).skills
    assert ".secret" not in skill.files


def test_other_top_level_files_are_ignored_with_a_warning(tmp_path: Path) -> None:
    write_skill(tmp_path, "a")
    (tmp_path / "notes.txt").write_text("x")
    assert scan(tmp_path) == {"": {"ignored-file"}, "a": set()}


def test_missing_source_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match="cannot read the skills source"):
        scan_source(tmp_path / "nope", LIMITS)


def test_file_count_limit(tmp_path: Path) -> None:
    write_skill(tmp_path, "a", files={f"f{i}": "x" for i in range(3)})
    assert scan(tmp_path, SkillLimits(max_files=4))["a"] == set()
    assert "too-many-files" in scan(tmp_path, SkillLimits(max_files=3))["a"]


def test_skill_size_limit_never_reads_past_it(tmp_path: Path) -> None:
    folder = write_skill(tmp_path, "a")
    (folder / "big.bin").write_bytes(b"x" * 1000)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert scan(tmp_path, SkillLimits(max_skill_bytes=size))["a"] == set()
    assert "skill-too-large" in scan(tmp_path, SkillLimits(max_skill_bytes=size - 1))["a"]


def test_flat_file_size_limit(tmp_path: Path) -> None:
    text = skill_md("a", body="x" * 500)
    (tmp_path / "a.md").write_text(text)
    assert scan(tmp_path, SkillLimits(max_skill_md_bytes=len(text)))["a"] == set()
    assert (
        "skill-md-too-large" in scan(tmp_path, SkillLimits(max_skill_md_bytes=len(text) - 1))["a"]
    )


def test_symlinks_inside_the_source_are_followed(tmp_path: Path) -> None:
    # The shape of a mounted ConfigMap with items[].path.
    payload = tmp_path / "..2026_01_01"
    write_skill(payload, "a", files={"references/guide.md": "# guide\n"})
    (tmp_path / "..data").symlink_to(payload.name)
    (tmp_path / "a").symlink_to("..data/a")
    (payload / "shared.md").write_text("shared\n")
    (payload / "a" / "references" / "shared.md").symlink_to("../../shared.md")
    found = scan(tmp_path)
    assert found == {"": set(), "a": set()}
    (skill,) = scan_source(tmp_path, LIMITS).skills
    assert skill.files["references/shared.md"] == b"shared\n"


def test_symlink_escaping_the_source_is_rejected(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    root = tmp_path / "src"
    folder = write_skill(root, "a")
    (folder / "leak.txt").symlink_to(outside / "secret.txt")
    assert "symlink-escape" in scan(root)["a"]
    (skill,) = scan_source(root, LIMITS).skills
    assert "leak.txt" not in skill.files


def test_skill_folder_linking_outside_is_rejected(tmp_path: Path) -> None:
    write_skill(tmp_path / "outside", "a")
    root = tmp_path / "src"
    root.mkdir()
    (root / "a").symlink_to(tmp_path / "outside" / "a")
    assert "symlink-escape" in scan(root)["a"]


def test_flat_file_linking_outside_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(skill_md("a"))
    root = tmp_path / "src"
    root.mkdir()
    (root / "a.md").symlink_to(tmp_path / "a.md")
    assert "symlink-escape" in scan(root)["a"]


def test_broken_symlink_and_loop(tmp_path: Path) -> None:
    folder = write_skill(tmp_path, "a")
    (folder / "gone").symlink_to("nothing-here")
    assert "symlink-broken" in scan(tmp_path)["a"]
    (folder / "gone").unlink()
    (folder / "loop").symlink_to(".")
    assert "symlink-loop" in scan(tmp_path)["a"]


def test_fifo_is_not_a_regular_file(tmp_path: Path) -> None:
    folder = write_skill(tmp_path, "a")
    assert scan(tmp_path)["a"] == set()
    os.mkfifo(folder / "pipe")
    assert "not-regular-file" in scan(tmp_path)["a"]


def test_non_utf8_file_name(tmp_path: Path) -> None:
    folder = write_skill(tmp_path, "a")
    os.close(os.open(os.fsencode(folder) + b"/bad-\xff.txt", os.O_CREAT | os.O_WRONLY))
    assert "bad-file-name" in scan(tmp_path)["a"]


def test_read_errors_are_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_skill(tmp_path, "a")
    real = source_mod._read_limited
    calls = {"n": 0}

    def flaky(path: Path, limit: int) -> bytes | None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("transient")
        return real(path, limit)

    monkeypatch.setattr(source_mod, "_read_limited", flaky)
    monkeypatch.setattr(source_mod, "RETRY_PAUSE", 0)
    assert scan(tmp_path) == {"": set(), "a": set()}


def test_persistent_read_errors_become_a_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_skill(tmp_path, "a")

    def broken(path: Path, limit: int) -> bytes | None:
        raise OSError("I/O error")

    monkeypatch.setattr(source_mod, "_read_limited", broken)
    monkeypatch.setattr(source_mod, "RETRY_PAUSE", 0)
    assert "unreadable" in scan(tmp_path)["a"]


def test_skill_vanishing_mid_scan_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_skill(tmp_path, "a")
    write_skill(tmp_path, "b")
    real = source_mod._read_limited

    def vanish(path: Path, limit: int) -> bytes | None:
        if path.parent.name == "a":
            shutil.rmtree(path.parent)
            raise FileNotFoundError(path)
        return real(path, limit)

    monkeypatch.setattr(source_mod, "_read_limited", vanish)
    monkeypatch.setattr(source_mod, "RETRY_PAUSE", 0)
    assert scan(tmp_path) == {"": set(), "b": set()}


def test_dangling_top_level_link_is_not_a_skill(tmp_path: Path) -> None:
    # what a removed ConfigMap key looks like between the `..data` swap and the link cleanup
    write_skill(tmp_path, "a")
    (tmp_path / "gone").symlink_to("..data/gone")
    assert scan(tmp_path) == {"": set(), "a": set()}


def test_a_data_swap_mid_read_never_mixes_two_payloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for gen in ("1", "2"):
        write_skill(
            tmp_path / f"..payload{gen}",
            "a",
            skill_md("a", body=f"v{gen}\n"),
            files={"ref.md": f"ref v{gen}\n"},
        )
    (tmp_path / "..data").symlink_to("..payload1")
    (tmp_path / "a").symlink_to("..data/a")
    real = source_mod._read_limited
    swapped: list[bool] = []

    def swap_after_first_read(path: Path, limit: int) -> bytes | None:
        data = real(path, limit)
        if not swapped:
            swapped.append(True)
            (tmp_path / "..data_tmp").symlink_to("..payload2")
            os.replace(tmp_path / "..data_tmp", tmp_path / "..data")
        return data

    monkeypatch.setattr(source_mod, "_read_limited", swap_after_first_read)
    (first,) = scan_source(tmp_path, LIMITS).skills
    assert swapped
    assert first.files == {"SKILL.md": skill_md("a", body="v1\n").encode(), "ref.md": b"ref v1\n"}
    (second,) = scan_source(tmp_path, LIMITS).skills
    assert second.files["ref.md"] == b"ref v2\n"


def test_flat_file_swapped_for_a_fifo_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "a.md")
    # never a file: not a skill, and the read never blocks
    assert scan(tmp_path) == {"": {"ignored-file"}}
    with pytest.raises(OSError, match="not a regular file"):
        source_mod._read_limited(tmp_path / "a.md", 100)
