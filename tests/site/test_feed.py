"""feed.xml is a valid Atom 1.0 document, newest entry first, with everything escaped."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from lxml import etree  # type: ignore[import-untyped]

from blogpod.site import SitePublisher
from tests.site.conftest import make_meta

ATOM = "{http://www.w3.org/2005/Atom}"


def parse_feed(site_dir: Path) -> etree._Element:
    # A strict parser: any escaping mistake or invalid character fails here.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=False)
    return etree.fromstring((site_dir / "feed.xml").read_bytes(), parser)


def rfc3339(text: str | None) -> datetime:
    assert text is not None and text.endswith("Z"), text
    return datetime.fromisoformat(text)


def test_feed_has_the_required_atom_elements(publisher: SitePublisher, site_dir: Path) -> None:
    for n in (1, 0, 2):
        publisher.publish(f"# Entry {n}\n\nAbout {n}.", make_meta(n, tags=["t1", "t2"]))
    feed = parse_feed(site_dir)
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert len(feed.findall(f"{ATOM}{required}")) == 1, required
    assert feed.findtext(f"{ATOM}author/{ATOM}name")
    assert feed.findtext(f"{ATOM}id", "").startswith("urn:uuid:")
    self_link = feed.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None and self_link.get("href") == "/feed.xml"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == ["Entry 2", "Entry 1", "Entry 0"]
    updated = [rfc3339(e.findtext(f"{ATOM}updated")) for e in entries]
    assert updated == sorted(updated, reverse=True)
    assert rfc3339(feed.findtext(f"{ATOM}updated")) == updated[0]
    for entry in entries:
        for required in ("id", "title", "updated", "summary"):
            assert len(entry.findall(f"{ATOM}{required}")) == 1, required
        link = entry.find(f"{ATOM}link[@rel='alternate']")
        assert link is not None and (link.get("href") or "").startswith("/posts/entry-")
        assert [c.get("term") for c in entry.findall(f"{ATOM}category")] == ["t1", "t2"]
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == 3 and all(i and i.startswith("urn:uuid:") for i in ids)


def test_feed_ids_are_stable_across_rebuilds(publisher: SitePublisher, site_dir: Path) -> None:
    publisher.publish("# A\n\na", make_meta(0))
    before = [e.findtext(f"{ATOM}id") for e in parse_feed(site_dir).iter(f"{ATOM}entry")]
    publisher.publish("# B\n\nb", make_meta(1))
    after = [e.findtext(f"{ATOM}id") for e in parse_feed(site_dir).iter(f"{ATOM}entry")]
    assert after[1:] == before


def test_feed_escapes_markup_and_drops_invalid_characters(site_dir: Path) -> None:
    publisher = SitePublisher(site_dir, title="A & B <feed>")
    title = 'Less < more & "quotes" ]]> end'
    post = publisher.publish(
        f"# {title}\n\nControl \x01\x0b chars & <tags>.", make_meta(tags=["a&b", "<x>"])
    )
    feed = parse_feed(site_dir)
    assert feed.findtext(f"{ATOM}title") == "A & B <feed>"
    entry = feed.find(f"{ATOM}entry")
    assert entry is not None
    assert entry.findtext(f"{ATOM}title") == post.title == title
    assert entry.findtext(f"{ATOM}summary") == "Control  chars & <tags>."
    assert [c.get("term") for c in entry.findall(f"{ATOM}category")] == ["a&b", "<x>"]


def test_empty_feed_is_still_valid(publisher: SitePublisher, site_dir: Path) -> None:
    post = publisher.publish("# Only\n\none", make_meta())
    publisher.unpublish(post.slug)
    feed = parse_feed(site_dir)
    assert feed.findall(f"{ATOM}entry") == []
    assert feed.findtext(f"{ATOM}updated")
