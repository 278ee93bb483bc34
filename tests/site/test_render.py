"""render_markdown: what survives and what never reaches a page."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from blogpod.site.render import render_markdown, sanitise_html
from tests.site.htmlcheck import dangerous_parts


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def names(html: str) -> list[str]:
    return [tag for tag, _ in tags_of(html)]


def test_headings_paragraphs_and_emphasis() -> None:
    html = render_markdown("# One\n\n## Two\n\nSome *soft* and **strong** text.\n")
    assert names(html) == ["h1", "h2", "p", "em", "strong"]
    assert "Some <em>soft</em> and <strong>strong</strong> text." in html


def test_tables_keep_alignment() -> None:
    html = render_markdown("| a | b |\n|:--|--:|\n| 1 | 2 |\n")
    assert names(html) == ["table", "thead", "tr", "th", "th", "tbody", "tr", "td", "td"]
    assert '<td style="text-align:right">2</td>' in html


def test_fenced_code_is_escaped_and_keeps_language() -> None:
    html = render_markdown("```python\nif a < b and c > d:\n    print('<b>')\n```\n")
    assert '<pre><code class="language-python">' in html
    assert "if a &lt; b and c &gt; d:" in html
    assert "<b>" not in html


def test_strikethrough_and_lists() -> None:
    html = render_markdown("~~gone~~\n\n3. three\n4. four\n\n- x\n")
    assert "<s>gone</s>" in html
    assert '<ol start="3">' in html
    assert names(html).count("li") == 3


def test_links_get_safe_rel() -> None:
    html = render_markdown("[site](https://example.com/a?b=1)")
    ((_tag, attrs),) = [t for t in tags_of(html) if t[0] == "a"]
    assert attrs == {"href": "https://example.com/a?b=1", "rel": "noopener noreferrer nofollow"}


def test_raw_html_is_shown_as_text_not_markup() -> None:
    html = render_markdown('Look: <b onclick="x()">bold</b>')
    assert names(html) == ["p"]
    assert "&lt;b onclick=" in html


HOSTILE_MARKDOWN = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "text <script>alert(1)</script> text",
    "<img src=x onerror=alert(1)>",
    '<img src="x" ONERROR="alert(1)">',
    "![a](x onerror=alert(1))",
    '![a](x "onerror=alert(1)")',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1)  )",
    "[click](java\tscript:alert(1))",
    "[click](javascript&#58;alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![img](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![img](javascript:alert(1))",
    "[ref][r]\n\n[r]: javascript:alert(1)",
    "<javascript:alert(1)>",
    '<a href="javascript:alert(1)">raw link</a>',
    "<a href='JAVASCRIPT:alert(1)'>raw</a>",
    '<iframe src="https://evil.example"></iframe>',
    "<style>body{display:none}</style>",
    '<svg onload="alert(1)"><script>alert(1)</script></svg>',
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    '<object data="evil.swf"></object><embed src="evil.swf">',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<!--<script>alert(1)</script>-->",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "```html\n<script>alert(1)</script>\n```",
    "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    "# <script>alert(1)</script> heading",
    '<details open ontoggle="alert(1)">x</details>',
    '<a href="&#x6A;avascript:alert(1)">entity</a>',
    '<a href="java&#x09;script:alert(1)">tab</a>',
]


@pytest.mark.parametrize("markdown", HOSTILE_MARKDOWN)
def test_hostile_markdown_is_harmless(markdown: str) -> None:
    html = render_markdown(markdown)
    assert dangerous_parts(html) == [], html


@pytest.mark.parametrize("markdown", HOSTILE_MARKDOWN)
def test_hostile_raw_html_is_harmless_even_if_passed_straight_to_the_sanitiser(
    markdown: str,
) -> None:
    """The sanitiser alone must hold, in case the Markdown layer ever lets HTML through."""
    html = sanitise_html(markdown)
    assert dangerous_parts(html) == [], html


def test_checker_itself_flags_danger() -> None:
    """Guard against a checker that can never fail."""
    assert dangerous_parts('<a href=" JaVa\tScript:alert(1)">x</a>')
    assert dangerous_parts("<img src=x onerror=alert(1)>")
    assert dangerous_parts("<svg></svg>")
    assert dangerous_parts('<a href="data:text/html,x">x</a>')
    assert dangerous_parts('<a href="https://example.com">x</a>') == []
    assert dangerous_parts('<a href="/posts/x/">x</a>') == []
