"""SitePublisher: layout, front matter, slugs, listing, unpublish, concurrency."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from blogpod.site import (
    InvalidSlug,
    PostNotFound,
    SiteError,
    SitePublisher,
)
from tests.site.conftest import make_meta, snapshot
from tests.site.htmlcheck import dangerous_parts

ARTICLE = """# Testing the *Static* Site

Static sites are **simple**: files on disk, served by nginx.

## Why

| tool | role |
|------|------|
| nginx | serve |

```python
print("hi")
```
"""


class _Outline(HTMLParser):
    """Collects h1 texts, post links and elements with a class, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.h1: list[str] = []
        self.links: list[str] = []
        self.classes: list[str] = []
        self.alternate: list[dict[str, str | None]] = []
        self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self._in_h1 = tag == "h1"
        if self._in_h1:
            self.h1.append("")
        if tag == "a" and (values.get("href") or "").startswith("/posts/"):
            self.links.append(values["href"] or "")
        if values.get("class"):
            self.classes.extend((values["class"] or "").split())
        if tag == "link" and values.get("rel") == "alternate":
            self.alternate.append(values)

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._in_h1:
            self.h1[-1] += data


def outline(path: Path) -> _Outline:
    parser = _Outline()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_publish_writes_the_site_layout(publisher: SitePublisher, site_dir: Path) -> None:
    post = publisher.publish(ARTICLE, make_meta())
    assert post.slug == "testing-the-static-site"
    assert post.title == "Testing the Static Site"
    assert post.summary == "Static sites are simple: files on disk, served by nginx."
    assert post.url == "/posts/testing-the-static-site/"
    assert post.folder == site_dir / "posts" / post.slug
    names = {str(p.relative_to(site_dir)) for p in site_dir.rglob("*") if p.is_file()}
    assert names == {
        "index.html",
        "feed.xml",
        "posts.json",
        "assets/blog.css",
        "posts/testing-the-static-site/index.html",
        "posts/testing-the-static-site/post.md",
    }


def test_post_page_shows_title_once_and_provenance(
    publisher: SitePublisher, site_dir: Path
) -> None:
    post = publisher.publish(ARTICLE, make_meta(draft=True))
    page_path = post.folder / "index.html"
    page = page_path.read_text(encoding="utf-8")
    parsed = outline(page_path)
    assert parsed.h1 == ["Testing the Static Site"]  # the body's own "# " heading removed
    assert "blog-post" in page and "v1.4.0" in page and "gpt-test" in page
    assert "badge-draft" in parsed.classes
    assert "Draft quality" in page
    assert "<table>" in page and 'class="language-python"' in page
    assert 'href="/assets/blog.css"' in page and 'href="/studio/"' in page
    assert "<script" not in page
    assert dangerous_parts(page) == []


def test_no_draft_badge_for_a_normal_post(publisher: SitePublisher, site_dir: Path) -> None:
    post = publisher.publish(ARTICLE, make_meta())
    assert "badge-draft" not in outline(post.folder / "index.html").classes
    assert "badge-draft" not in outline(site_dir / "index.html").classes


def test_front_matter_has_every_field(publisher: SitePublisher) -> None:
    meta = make_meta(3, tags=["a", "b: c"], draft=True, skill_version="2.0")
    post = publisher.publish(ARTICLE, meta)
    text = (post.folder / "post.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n", 1)
    front = yaml.safe_load(head)
    assert front == {
        "title": "Testing the Static Site",
        "date": "2026-11-01T12:30:00+00:00",
        "summary": "Static sites are simple: files on disk, served by nginx.",
        "tags": ["a", "b: c"],
        "skill": "blog-post",
        "skill_version": "2.0",
        "model": "gpt-test",
        "provider": "scripted",
        "draft": True,
        "quality": "draft",
        "job_id": "job-3",
    }
    assert body.strip() == ARTICLE.strip()


def test_get_post_returns_markdown_and_front_matter(publisher: SitePublisher) -> None:
    published = publisher.publish(ARTICLE, make_meta())
    detail = publisher.get_post(published.slug)
    assert detail.markdown.strip() == ARTICLE.strip()
    assert detail.front_matter["skill_version"] == "1.4.0"
    assert detail.title == published.title and detail.summary == published.summary


def test_title_falls_back_to_topic_then_first_line(publisher: SitePublisher) -> None:
    text = "No heading here.\n\nSecond paragraph."
    with_topic = publisher.publish(text, make_meta(topic="My Topic"))
    assert with_topic.title == "My Topic"
    assert with_topic.summary == "No heading here."
    first_line = publisher.publish("**Bold start** of text\n\nmore", make_meta(1))
    assert first_line.title == "Bold start of text"
    assert first_line.summary == "more"


def test_long_summary_is_cut_at_a_word(publisher: SitePublisher) -> None:
    words = " ".join(f"word{i}" for i in range(200))
    post = publisher.publish(f"# T\n\n{words}\n", make_meta())
    assert len(post.summary) <= 280
    assert post.summary.endswith("…")
    assert post.summary[:-1].split(" ")[-1].startswith("word")
    assert words.startswith(post.summary[:-1])


def test_slug_is_ascii_lowercase_and_bounded(publisher: SitePublisher) -> None:
    post = publisher.publish("# Ünïcode Café: ../../etc/passwd, 日本語!\n", make_meta())
    assert post.slug == "unicode-cafe-etc-passwd"
    long = publisher.publish("# " + "very long title " * 30, make_meta(1))
    assert len(long.slug) <= 80 and not long.slug.endswith("-")
    empty = publisher.publish("# 日本語\n", make_meta(2))
    assert empty.slug == "post"


def test_slugs_are_unique_and_never_overwrite(publisher: SitePublisher, site_dir: Path) -> None:
    # A folder nobody listed (put there by hand) must not be overwritten either.
    stray = site_dir / "posts" / "same-title-3"
    stray.mkdir(parents=True)
    (stray / "keep.txt").write_text("mine")
    slugs = [publisher.publish(f"# Same Title\n\nv{i}", make_meta(i)).slug for i in range(4)]
    assert slugs == ["same-title", "same-title-2", "same-title-4", "same-title-5"]
    assert (stray / "keep.txt").read_text() == "mine"
    assert [publisher.get_post(s).summary for s in slugs] == ["v0", "v1", "v2", "v3"]


BAD_SLUGS = [
    "",
    "..",
    "../etc",
    "../../etc/passwd",
    "a/b",
    "a\\b",
    "/abs",
    "Upper",
    "with space",
    ".tmp-x",
    "-lead",
    "trail-",
    "double--hyphen",
    "x" * 101,
    "nul\x00",
    "%2e%2e",
]


@pytest.mark.parametrize("slug", BAD_SLUGS)
def test_bad_slugs_are_rejected(publisher: SitePublisher, slug: str) -> None:
    publisher.publish(ARTICLE, make_meta())
    with pytest.raises(InvalidSlug):
        publisher.get_post(slug)
    with pytest.raises(InvalidSlug):
        publisher.unpublish(slug)


def test_missing_post(publisher: SitePublisher) -> None:
    with pytest.raises(PostNotFound):
        publisher.get_post("nothing-here")
    with pytest.raises(PostNotFound):
        publisher.unpublish("nothing-here")
    assert issubclass(PostNotFound, SiteError) and issubclass(InvalidSlug, SiteError)


def test_index_and_listing_newest_first(publisher: SitePublisher, site_dir: Path) -> None:
    # Published out of order: the date decides, not the publish order.
    for n in (2, 0, 3, 1):
        publisher.publish(f"# Post {n}\n\nSummary {n}.", make_meta(n, draft=n == 3))
    expected = ["post-3", "post-2", "post-1", "post-0"]
    assert [p.slug for p in publisher.list_posts()] == expected
    manifest = json.loads((site_dir / "posts.json").read_text())
    assert [p["slug"] for p in manifest["posts"]] == expected
    index = outline(site_dir / "index.html")
    assert index.links == [f"/posts/{slug}/" for slug in expected]
    assert index.classes.count("badge-draft") == 1
    assert index.alternate == [
        {
            "rel": "alternate",
            "type": "application/atom+xml",
            "title": "Test <Blog> & Co",
            "href": "/feed.xml",
        }
    ]
    html = (site_dir / "index.html").read_text()
    assert "Summary 3." in html and "Test &lt;Blog&gt; &amp; Co" in html


def test_unpublish_removes_post_and_rebuilds(publisher: SitePublisher, site_dir: Path) -> None:
    keep = publisher.publish("# Keep\n\nstays", make_meta(0))
    gone = publisher.publish("# Gone\n\nleaves", make_meta(1))
    publisher.unpublish(gone.slug)
    assert not gone.folder.exists()
    assert [p.slug for p in publisher.list_posts()] == [keep.slug]
    assert outline(site_dir / "index.html").links == [keep.url]
    assert b"/posts/gone/" not in (site_dir / "feed.xml").read_bytes()
    assert not [p for p in site_dir.rglob(".*")]  # no temp or trash left behind
    with pytest.raises(PostNotFound):
        publisher.get_post(gone.slug)


def test_base_path_prefixes_every_link(site_dir: Path) -> None:
    publisher = SitePublisher(site_dir, base_path="blog")
    post = publisher.publish(ARTICLE, make_meta())
    assert post.url == "/blog/posts/testing-the-static-site/"
    page = (post.folder / "index.html").read_text()
    assert 'href="/blog/assets/blog.css"' in page and 'href="/blog/studio/"' in page


def test_lost_manifest_is_rebuilt_from_the_posts(publisher: SitePublisher, site_dir: Path) -> None:
    first = publisher.publish("# First\n\none", make_meta(0, tags=["x"]))
    second = publisher.publish("# Second\n\ntwo", make_meta(1, draft=True))
    (site_dir / "posts.json").write_text("{not json")
    listed = publisher.list_posts()
    assert [p.slug for p in listed] == [second.slug, first.slug]
    assert listed[0].draft and listed[1].tags == ["x"] and listed[1].date == first.date
    (site_dir / "posts.json").unlink()
    third = publisher.publish("# Third\n\nthree", make_meta(2))
    assert [p.slug for p in publisher.list_posts()] == [third.slug, second.slug, first.slug]


def test_hostile_post_is_harmless_on_every_page(publisher: SitePublisher, site_dir: Path) -> None:
    hostile = (
        '# <img src=x onerror=alert(1)> Title"><script>alert(1)</script>\n\n'
        "Summary <script>alert(1)</script> [x](javascript:alert(1))\n\n"
        '<iframe src="https://evil.example"></iframe>\n'
    )
    post = publisher.publish(hostile, make_meta(tags=['"><script>alert(1)</script>']))
    for page in (post.folder / "index.html", site_dir / "index.html"):
        assert dangerous_parts(page.read_text()) == [], page


def test_concurrent_publishes_all_land(publisher: SitePublisher, site_dir: Path) -> None:
    barrier = threading.Barrier(8, timeout=30)
    slugs: list[str] = []
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            barrier.wait()
            # Each thread uses its own publisher instance on the same folder, like workers would.
            slugs.append(SitePublisher(site_dir).publish("# Same\n\nx", make_meta(n)).slug)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(set(slugs)) == 8
    listed = {p.slug for p in publisher.list_posts()}
    assert listed == set(slugs)
    assert len(outline(site_dir / "index.html").links) == 8
    assert (site_dir / "feed.xml").read_bytes().count(b"<entry>") == 8


def test_site_package_imports_neither_copilot_nor_fastapi() -> None:
    code = (
        "import sys, blogpod.site, blogpod.site.publisher, blogpod.site.render;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('copilot', 'fastapi')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_publish_is_idempotent_per_job(publisher: SitePublisher, site_dir: Path) -> None:
    """A job requeued after its post landed gets that post back, not a second copy."""
    first = publisher.publish("# Same Job\n\nOnce.\n", make_meta(7))
    before = snapshot(site_dir)
    again = publisher.publish("# Same Job, retried\n\nTwice.\n", make_meta(7))
    assert again.slug == first.slug
    assert [p.slug for p in publisher.list_posts()] == [first.slug]
    assert snapshot(site_dir) == before
