"""Upload parsing edge cases that need a hand-crafted archive."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from blogpod.skills.model import SkillLimits
from blogpod.skills.upload import UploadRejected, skill_from_upload
from blogpod.skills.validator import validate_skill
from tests.skills.helpers import skill_md


def lying_zip(real: bytes, declared: int) -> bytes:
    """A zip whose headers claim ``declared`` bytes for an entry that unpacks to more."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("SKILL.md", skill_md("a"))
        zf.writestr("blob", real)
    data = bytearray(buf.getvalue())
    local = data.index(b"PK\x03\x04", data.index(b"PK\x03\x04") + 4)
    struct.pack_into("<I", data, local + 22, declared)
    central = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 4)
    struct.pack_into("<I", data, central + 24, declared)
    return bytes(data)


def test_entry_unpacking_past_its_declared_size_is_refused() -> None:
    limits = SkillLimits(max_skill_bytes=100_000)
    honest = skill_from_upload("a.zip", lying_zip(b"\0" * 1000, 1000), limits)
    assert honest.files["blob"] == b"\0" * 1000
    with pytest.raises(UploadRejected) as info:
        skill_from_upload("a.zip", lying_zip(b"\0" * 5_000_000, 10), limits)
    assert 400 <= info.value.status < 500


def test_several_top_folders_are_not_one_skill() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a/SKILL.md", skill_md("a"))
        zf.writestr("b/SKILL.md", skill_md("b"))
    source = skill_from_upload("x.zip", buf.getvalue(), SkillLimits())
    result = validate_skill(source, SkillLimits())
    assert not result.ok
    assert [f.rule for f in result.findings] == ["skill-md-missing"]


def test_top_folder_name_is_checked_against_the_front_matter() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("folder/SKILL.md", skill_md("other"))
    source = skill_from_upload("x.zip", buf.getvalue(), SkillLimits())
    assert (source.name, source.layout, source.prefix) == ("folder", "tree", "folder/")


def test_macos_resource_folder_is_ignored() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a/SKILL.md", skill_md("a"))
        zf.writestr("__MACOSX/a/._SKILL.md", b"junk")
    source = skill_from_upload("x.zip", buf.getvalue(), SkillLimits())
    assert list(source.files) == ["SKILL.md"]
