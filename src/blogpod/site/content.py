"""Title, summary and slug taken from a post's Markdown."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

#: A slug: lowercase ASCII words joined by single hyphens. Nothing else may name a folder.
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_MAX = 80
SLUG_LIMIT = 100  # accepted on input: room for the "-2", "-3"... of a duplicate
SUMMARY_MAX = 280
TITLE_MAX = 200

_parser = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


@dataclass(frozen=True)
class Extracted:
    title: str
    summary: str
    body: str  # the Markdown with the title heading removed


def _plain(inline: Token) -> str:
    """Text of an inline token without its Markdown markup."""
    parts: list[str] = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-") + "…"


def extract(markdown: str, *, fallback_title: str | None = None) -> Extracted:
    """Find the first `# ` heading (the title) and the first paragraph after it."""
    tokens = _parser.parse(markdown)
    title = ""
    title_lines: tuple[int, int] | None = None
    start = 0
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h1":
            title = _plain(tokens[index + 1])
            title_lines = (token.map[0], token.map[1]) if token.map else None
            start = index + 1
            break
    if not title:
        title = (fallback_title or "").strip() or _first_line(markdown) or "Untitled"
    paragraphs = (
        _plain(tokens[index + 1])
        for index in range(start, len(tokens))
        if tokens[index].type == "paragraph_open"
    )
    summary = next((text for text in paragraphs if text and text != title), "")
    body = markdown
    if title and title_lines is not None:
        lines = markdown.splitlines(keepends=True)
        body = "".join(lines[: title_lines[0]] + lines[title_lines[1] :]).lstrip("\n")
    return Extracted(_shorten(title, TITLE_MAX), _shorten(summary, SUMMARY_MAX), body)


def _first_line(markdown: str) -> str:
    for line in markdown.splitlines():
        text = re.sub(r"[#*_`>\[\]]+", "", line).strip()
        if text:
            return text
    return ""


def slugify(title: str) -> str:
    """ASCII, lowercase, hyphen-separated, at most SLUG_MAX characters; never empty."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > SLUG_MAX:
        slug = slug[:SLUG_MAX]
        slug = slug[: slug.rindex("-")] if "-" in slug[SLUG_MAX // 2 :] else slug
        slug = slug.strip("-")
    return slug or "post"


def is_valid_slug(slug: str) -> bool:
    return len(slug) <= SLUG_LIMIT and SLUG_PATTERN.fullmatch(slug) is not None
