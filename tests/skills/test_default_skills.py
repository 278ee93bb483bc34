"""The shipped blog-writer tells the model the Markdown shape the site publisher relies on."""

from __future__ import annotations

from blogpod.skills.model import split_front_matter
from tests.support.processes import REPO


def test_blog_writer_asks_for_the_shape_the_site_needs() -> None:
    front = split_front_matter((REPO / "skills/blog-writer/SKILL.md").read_text())
    body = front.body
    for must in ("`# <Title>`", "exactly one", "`##` heading", "## Conclusion", "language tag"):
        assert must in body, must
    # the example in the skill itself follows the shape: title, one-sentence summary, sections
    example = body.split("````markdown\n", 1)[1].split("````", 1)[0]
    lines = example.splitlines()
    assert lines[0].startswith("# ")
    assert lines[1] == "" and lines[2].endswith(".") and lines[2].count(". ") == 0
    assert "## Conclusion" in lines


def test_every_shipped_skill_ends_with_a_conclusion_section() -> None:
    for name in ("blog-writer", "release-notes", "tutorial"):
        assert "## Conclusion" in (REPO / "skills" / name / "SKILL.md").read_text(), name
