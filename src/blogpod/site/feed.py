"""The Atom 1.0 feed, built with xml.etree so every value is escaped by the library."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime

from blogpod.site.models import PostSummary

ATOM_NS = "http://www.w3.org/2005/Atom"
_ID_NAMESPACE = uuid.UUID("6f1c2a8e-3b5d-4c1e-9a7f-2d8b0e4c6a10")  # blogpod's own namespace

ET.register_namespace("", ATOM_NS)


#: Characters XML 1.0 forbids even when escaped; model output may contain them.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _q(tag: str) -> str:
    return f"{{{ATOM_NS}}}{tag}"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, _q(tag), {k: _xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _xml_text(text)
    return element


def entry_id(post: PostSummary) -> str:
    """Stable across rebuilds, unique per post even if a slug is reused after unpublish."""
    name = f"{post.slug}|{post.date.isoformat()}|{post.job_id}"
    return f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, name)}"


def build_feed(posts: Sequence[PostSummary], *, title: str, base_path: str) -> bytes:
    """Atom XML for ``posts`` (already newest first). Links are paths under ``base_path``."""
    feed = ET.Element(_q("feed"))
    _sub(feed, "title", title)
    _sub(feed, "id", f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, f'feed|{base_path}|{title}')}")
    newest = max((post.date for post in posts), default=datetime(1970, 1, 1, tzinfo=UTC))
    _sub(feed, "updated", _stamp(newest))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=f"{base_path}feed.xml")
    _sub(feed, "link", rel="alternate", type="text/html", href=base_path)
    author = _sub(feed, "author")
    _sub(author, "name", title)
    _sub(feed, "generator", "blogpod")
    for post in posts:
        entry = _sub(feed, "entry")
        _sub(entry, "id", entry_id(post))
        _sub(entry, "title", post.title)
        _sub(entry, "updated", _stamp(post.date))
        _sub(entry, "published", _stamp(post.date))
        _sub(entry, "link", rel="alternate", type="text/html", href=post.url)
        _sub(entry, "summary", post.summary or post.title)
        for tag in post.tags:
            _sub(entry, "category", term=tag)
    ET.indent(feed)
    xml: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return xml + b"\n"
