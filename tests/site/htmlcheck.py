"""Parse rendered HTML and list anything that could run script in a browser."""

from __future__ import annotations

import re
from html.parser import HTMLParser

DANGEROUS_TAGS = {"script", "style", "iframe", "object", "embed", "svg", "math", "frame", "base"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "srcset", "poster", "data"}
_SAFE_SCHEME = re.compile(r"^(https?:|mailto:|[^:]*$|[^:]*[/?#])", re.IGNORECASE)


class _Finder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DANGEROUS_TAGS:
            self.problems.append(f"<{tag}> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{name} attribute on <{tag}>")
            if name == "style" and value and not re.fullmatch(r"text-align:\s*\w+;?", value):
                self.problems.append(f"style {value!r} on <{tag}>")
            if name in URL_ATTRIBUTES and value is not None:
                # Browsers ignore control characters and whitespace inside a scheme.
                squashed = re.sub(r"[\x00-\x20]", "", value)
                if not _SAFE_SCHEME.match(squashed):
                    self.problems.append(f"{name}={value!r} on <{tag}>")

    handle_startendtag = handle_starttag


def dangerous_parts(html: str) -> list[str]:
    """Every element, attribute or URL in ``html`` that a browser could turn into script."""
    finder = _Finder()
    finder.feed(html)
    finder.close()
    return finder.problems
