"""Markdown to safe HTML.

Model output is untrusted: markdown-it-py renders with raw HTML disabled (so any HTML
in the Markdown is escaped as text), then nh3 sanitises the result against an allowlist.
The two layers are independent so a parser quirk in one is caught by the other.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

#: Tags a rendered post may contain; anything else is stripped (text kept).
ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4",
        "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup",
        "table", "tbody", "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip

#: Per-tag attributes; no "*" entry, so no event handler or style can slip through.
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "th": {"style"},
    "td": {"style"},
    "ol": {"start"},
}

#: Only these URL schemes survive; relative URLs are kept too.
ALLOWED_URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})

#: Elements removed together with their content (their text is never useful prose).
DROPPED_WITH_CONTENT: frozenset[str] = frozenset(
    {"script", "style", "iframe", "object", "embed", "svg", "math", "template", "noscript"}
)

LINK_REL = "noopener noreferrer nofollow"


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # "html": False makes raw HTML in the Markdown come out escaped, as literal text.
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def sanitise_html(html: str) -> str:
    """Clean an HTML fragment against the post allowlist."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
        filter_style_properties={"text-align"},
    )


def render_markdown(text: str) -> str:
    """Render untrusted Markdown to HTML that is safe to embed in a page."""
    return sanitise_html(_parser().render(text))
