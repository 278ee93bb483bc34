"""The session's system message and the user prompt of a job.

The skill's instructions go into the system message (small models do not call the ``skill``
tool reliably), so a job follows exactly the skill version it records. The message stays short:
prompt processing dominates on a small CPU model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*(?:\n|\Z)", re.DOTALL)

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


def system_message(skill_md: str, skill_name: str) -> str:
    body = strip_front_matter(skill_md)
    return f"{_RULES}\n\nFollow the skill `{skill_name}`:\n\n{body}\n"


def user_prompt(brief: JobBrief) -> str:
    """The job's parameters; the topic line comes first so it is easy to find."""
    lines = [f"Topic: {brief.topic}"]
    if brief.audience:
        lines.append(f"Audience: {brief.audience}")
    if brief.tone:
        lines.append(f"Tone: {brief.tone}")
    if brief.length:
        lines.append(f"Length: {brief.length}")
    if brief.keywords:
        lines.append("Keywords: " + ", ".join(brief.keywords))
    lines.append("Write the post now.")
    return "\n".join(lines)
