"""Structure of a post, not its wording: a title, sections, a conclusion, no empty section.

Parsed with markdown-it-py so that a `# comment` inside a code block is not taken for a
heading. Used by the real-model tests and by bench/local_model.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markdown_it import MarkdownIt

CONCLUSION_WORDS = ("conclusion", "summary", "wrapping up", "final thoughts", "takeaway")


@dataclass
class PostShape:
    title: str | None = None
    sections: list[str] = field(default_factory=list)
    empty_sections: list[str] = field(default_factory=list)
    content_before_title: bool = False

    @property
    def has_conclusion(self) -> bool:
        return bool(self.sections) and any(
            word in self.sections[-1].lower() for word in CONCLUSION_WORDS
        )

    def problems(self, min_sections: int = 3) -> list[str]:
        found = []
        if not self.title:
            found.append("no `# ` title")
        if self.content_before_title:
            found.append("text before the title")
        body = self.sections[:-1] if self.has_conclusion else self.sections
        if len(body) < min_sections:
            found.append(f"{len(body)} `## ` sections before the conclusion, want {min_sections}+")
        if not self.has_conclusion:
            last = self.sections[-1] if self.sections else None
            found.append(f"the last section is not a conclusion ({last!r})")
        if self.empty_sections:
            found.append(f"empty sections: {self.empty_sections}")
        return found


def post_shape(markdown: str) -> PostShape:
    tokens = MarkdownIt("commonmark").parse(markdown)
    shape = PostShape()
    current: str | None = None
    current_has_body = False
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type == "heading_open" and token.tag in ("h1", "h2"):
            text = tokens[index + 1].content.strip()
            if current is not None and not current_has_body:
                shape.empty_sections.append(current)
            if token.tag == "h1" and shape.title is None and current is None:
                shape.title = text or None
                current = None
            else:
                shape.sections.append(text)
                current = text
            current_has_body = False
            index += 3  # heading_open, inline, heading_close
            continue
        if token.nesting >= 0 and token.type not in ("heading_close",):
            if shape.title is None and not shape.sections:
                shape.content_before_title = True
            if current is not None and (token.content.strip() or token.type == "hr"):
                current_has_body = True
        index += 1
    if current is not None and not current_has_body:
        shape.empty_sections.append(current)
    return shape
