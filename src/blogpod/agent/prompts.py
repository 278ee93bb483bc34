"""The session's system message and the user prompt of a job.

The skill's instructions go into the system message (small models do not call the ``skill``
tool reliably), so a job follows exactly the skill version it records. The message stays short:
prompt processing dominates on a small CPU model.

A 1.5B model copies what looks like a post: it echoed the skill's own ``##`` headings into its
answer and stopped after as many sections as the skill's example had. So the skill is fenced
in ``<skill>`` tags with its headings turned into bold lines, and for small models a skill may
name the post's sections in ``metadata.outline`` (``;``-separated), which the user prompt then
asks for: measured on six topics, 6 of 6 well-shaped posts with it, 4 of 6 without (1 of 6
before the skill was fenced and its example given three sections).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from markdown_it import MarkdownIt

_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*(?:\n|\Z)", re.DOTALL)
_MARKDOWN = MarkdownIt("commonmark")
OUTLINE_KEY = "outline"

_RULES = (
    "You are a blog writer. Answer with the post only, in Markdown: start with a `# ` title "
    "line, then a one-paragraph summary, then sections with `## ` headings. No preamble, no "
    "closing remarks, no HTML."
)


@dataclass(frozen=True)
class JobBrief:
    topic: str
    audience: str | None = None
    tone: str | None = None
    length: str | None = None
    keywords: list[str] = field(default_factory=list)


def strip_front_matter(skill_md: str) -> str:
    """The body of a SKILL.md (YAML front matter removed)."""
    return _FRONT_MATTER.sub("", skill_md, count=1).strip()


def headings_as_bold(markdown: str) -> str:
    """Headings outside code become bold lines (the model must not copy them as its own)."""
    lines = markdown.splitlines()
    tokens = _MARKDOWN.parse(markdown)
    headings = [
        (opening.map, title.content)
        for opening, title in pairwise(tokens)
        if opening.type == "heading_open" and opening.map and title.content
    ]
    for (start, end), title in reversed(headings):  # a setext heading spans two lines
        lines[start:end] = [f"**{title}**"]
    return "\n".join(lines)


def system_message(skill_md: str, skill_name: str) -> str:
    body = headings_as_bold(strip_front_matter(skill_md))
    return (
        f"{_RULES}\n\nFollow the skill `{skill_name}`. Its instructions are between the <skill> "
        f"tags; they are not part of the post.\n<skill>\n{body}\n</skill>\n"
    )


def skill_outline(metadata: Mapping[str, str]) -> list[str]:
    """The sections a skill names in ``metadata.outline`` (empty when it names none)."""
    return [part.strip() for part in metadata.get(OUTLINE_KEY, "").split(";") if part.strip()]


def user_prompt(brief: JobBrief, outline: Sequence[str] = ()) -> str:
    """The job's parameters; the topic line comes first so it is easy to find.

    With an ``outline`` the last line asks for exactly those sections, in order.
    """
    lines = [f"Topic: {brief.topic}"]
    if brief.audience:
        lines.append(f"Audience: {brief.audience}")
    if brief.tone:
        lines.append(f"Tone: {brief.tone}")
    if brief.length:
        lines.append(f"Length: {brief.length}")
    if brief.keywords:
        lines.append("Keywords: " + ", ".join(brief.keywords))
    if outline:
        sections = ", ".join(f"`## {name}`" for name in outline)
        lines.append(
            "Write the post now: the `# ` title, one summary sentence, then these sections "
            f"in this order: {sections}."
        )
    else:
        lines.append("Write the post now.")
    return "\n".join(lines)
