"""Every validator rule with a case that passes and one that fails."""

from __future__ import annotations

import pytest

from blogpod.skills.model import SkillLimits, SkillSource
from blogpod.skills.validator import RULES, validate_skill
from tests.skills.helpers import GOOD_DESCRIPTION, skill_md


def run(text: str | bytes, folder: str = "demo", limits: SkillLimits | None = None) -> list:
    data = text.encode() if isinstance(text, str) else text
    source = SkillSource(name=folder, layout="tree", files={"SKILL.md": data}, prefix=f"{folder}/")
    return validate_skill(source, limits or SkillLimits()).findings


def rules(text: str | bytes, folder: str = "demo", **kw: object) -> set[str]:
    return {f.rule for f in run(text, folder, **kw)}  # type: ignore[arg-type]


# (rule, passing SKILL.md, failing SKILL.md, folder)
CASES = [
    ("front-matter-missing", skill_md(), "# no front matter\n", "demo"),
    ("front-matter-unclosed", skill_md(), "---\nname: demo\ndescription: x\n", "demo"),
    ("front-matter-yaml", skill_md(), "---\nname: [demo\n---\nbody\n", "demo"),
    ("front-matter-not-mapping", skill_md(), "---\n- a\n- b\n---\nbody\n", "demo"),
    (
        "duplicate-key",
        skill_md(),
        f"---\nname: demo\nname: demo\ndescription: {GOOD_DESCRIPTION}\n---\nx\n",
        "demo",
    ),
    ("unknown-key", skill_md(license="MIT"), skill_md(version="1.0"), "demo"),
    ("name-missing", skill_md(), f"---\ndescription: {GOOD_DESCRIPTION}\n---\nx\n", "demo"),
    ("name-type", skill_md(), skill_md(name=12), None),
    ("name-length", skill_md("a" * 64), skill_md("a" * 65), None),
    ("name-charset", skill_md("pdf-tools2"), skill_md("PDF_Tools"), None),
    ("name-hyphen", skill_md("a-b-c"), skill_md("a--b"), None),
    ("name-mismatch", skill_md("demo"), skill_md("other"), "demo"),
    ("description-missing", skill_md(), "---\nname: demo\n---\nx\n", "demo"),
    ("description-type", skill_md(), skill_md(description=["a", "b"]), "demo"),
    (
        "description-length",
        skill_md(description="d" * 1024),
        skill_md(description="d" * 1025),
        "demo",
    ),
    ("license-type", skill_md(license="Apache-2.0"), skill_md(license=2), "demo"),
    (
        "compatibility-type",
        skill_md(compatibility="Python 3.11+"),
        skill_md(compatibility=3),
        "demo",
    ),
    (
        "compatibility-length",
        skill_md(compatibility="c" * 500),
        skill_md(compatibility="c" * 501),
        "demo",
    ),
    (
        "metadata-type",
        skill_md(metadata={"author": "me"}),
        skill_md(metadata={"version": 1.0}),
        "demo",
    ),
    (
        "allowed-tools-type",
        skill_md(**{"allowed-tools": "Bash Read"}),
        skill_md(**{"allowed-tools": ["Bash"]}),
        "demo",
    ),
    ("skill-md-encoding", skill_md(), skill_md().encode() + b"\xff\xfe caf\xe9\n", "demo"),
]


@pytest.mark.parametrize(("rule", "good", "bad", "folder"), CASES, ids=[c[0] for c in CASES])
def test_rule_passes_and_fails(rule: str, good: str, bad: str | bytes, folder: str | None) -> None:
    def name_of(text: str | bytes) -> str:
        if folder is not None:
            return folder
        assert isinstance(text, str)
        return text.split("name: ", 1)[1].split("\n", 1)[0].strip("'\"")

    assert run(good, name_of(good)) == [], f"{rule}: the good case has findings"
    assert rule in rules(bad, name_of(bad)), f"{rule}: the bad case was not caught"


def test_empty_description_is_an_error() -> None:
    assert "description-length" in rules(skill_md(description="  "))


def test_leading_and_trailing_hyphens() -> None:
    assert "name-hyphen" in rules(skill_md("-demo"), "-demo")
    assert "name-hyphen" in rules(skill_md("demo-"), "demo-")


def test_empty_name_is_too_short() -> None:
    assert "name-length" in rules(skill_md(""), "")


def test_metadata_must_be_a_mapping() -> None:
    assert "metadata-type" in rules(skill_md(metadata="author=me"))


def test_skill_md_missing() -> None:
    source = SkillSource(name="demo", layout="tree", files={"README.md": b"x"})
    found = validate_skill(source, SkillLimits())
    assert not found.ok
    assert [f.rule for f in found.findings] == ["skill-md-missing"]


def test_skill_md_size_limit() -> None:
    text = skill_md(body="x" * 2000)
    assert run(text, limits=SkillLimits(max_skill_md_bytes=len(text.encode()))) == []
    assert "skill-md-too-large" in rules(
        text, limits=SkillLimits(max_skill_md_bytes=len(text.encode()) - 1)
    )


def test_warnings_do_not_make_a_skill_invalid() -> None:
    short = skill_md(description="Writes.")
    long_body = skill_md(body="line\n" * 501)
    ok_body = skill_md(body="line\n" * 500)
    assert [f.rule for f in run(short)] == ["description-short"]
    assert [f.severity for f in run(short)] == ["warning"]
    assert [f.rule for f in run(long_body)] == ["body-too-long"]
    assert run(ok_body) == []
    source = SkillSource(name="demo", layout="tree", files={"SKILL.md": long_body.encode()})
    assert validate_skill(source, SkillLimits()).ok


def test_findings_carry_skill_file_and_line() -> None:
    text = f"---\nname: demo\ndescription: {GOOD_DESCRIPTION}\nmetadata:\n  v: 1\n---\nbody\n"
    (finding,) = run(text)
    assert finding.skill == "demo"
    assert finding.file == "demo/SKILL.md"
    assert finding.line == 4
    assert finding.rule == "metadata-type"
    assert finding.severity == "error"
    assert "quote" in finding.message


def test_yaml_error_line_points_into_the_file() -> None:
    (finding,) = run("---\nname: demo\ndescription: [unclosed\n---\nbody\n")
    assert finding.rule == "front-matter-yaml"
    assert finding.line is not None and 2 <= finding.line <= 4


def test_unsafe_yaml_tags_are_rejected() -> None:
    text = "---\nname: !!python/object/apply:os.system ['echo pwned']\ndescription: x\n---\n"
    assert "front-matter-yaml" in rules(text)


def test_body_and_fields_are_parsed() -> None:
    text = skill_md(body="# Title\n\nDo it.\n", metadata={"author": "me"}, license="MIT")
    source = SkillSource(name="demo", layout="tree", files={"SKILL.md": text.encode()})
    result = validate_skill(source, SkillLimits())
    assert result.ok and result.info is not None
    assert result.info.body == "# Title\n\nDo it.\n"
    assert result.info.metadata == {"author": "me"}
    assert result.info.license == "MIT"


def test_every_front_matter_rule_has_a_case() -> None:
    covered = {c[0] for c in CASES} | {
        "skill-md-missing",
        "skill-md-too-large",
        "description-short",
        "body-too-long",
    }
    source_rules = {
        "too-many-files",
        "skill-too-large",
        "not-regular-file",
        "symlink-escape",
        "symlink-broken",
        "symlink-loop",
        "bad-file-name",
        "hidden-file",
        "unreadable",
        "duplicate-skill",
        "ignored-file",
        "not-a-skill",
    }  # covered in test_source.py / test_cli.py
    assert set(RULES) - source_rules <= covered
