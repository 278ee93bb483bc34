"""The static blog: publish and unpublish posts, rebuild the index and the feed.

The site folder is served as-is by nginx, so every change goes through
:class:`~blogpod.site.atomic.SiteChange`: a reader sees the old site or the new one,
never a half-written file, and a failed write leaves the old site in place.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from pydantic import ValidationError

from blogpod.site.atomic import SiteChange, is_trash, leftovers, remove_quietly
from blogpod.site.content import extract, is_valid_slug, slugify
from blogpod.site.errors import InvalidSlug, PostNotFound, PublishError, SiteError
from blogpod.site.feed import build_feed
from blogpod.site.models import PostDetail, PostMeta, PostSummary, PublishedPost
from blogpod.site.render import render_markdown

log = logging.getLogger(__name__)

MANIFEST = "posts.json"
MANIFEST_VERSION = 1
_TEMPLATES = Path(str(resources.files("blogpod.site") / "templates"))

# One lock per site folder, shared by every publisher instance in the process.
_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(folder: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(folder, threading.Lock())


def _normalise_base(base_path: str) -> str:
    return "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"


def _view(post: PostSummary) -> dict[str, Any]:
    """What the templates need: the post plus display forms of its date."""
    return {
        **post.model_dump(),
        "date_iso": post.date.isoformat(timespec="seconds"),
        "date_human": f"{post.date:%-d %B %Y}",
    }


def _front_matter(post: PostSummary) -> str:
    fields = {
        "title": post.title,
        "date": post.date.isoformat(timespec="seconds"),
        "summary": post.summary,
        "tags": list(post.tags),
        "skill": post.skill,
        "skill_version": post.skill_version,
        "model": post.model,
        "provider": post.provider,
        "draft": post.draft,
        "quality": "draft" if post.draft else "standard",
        "job_id": post.job_id,
    }
    return yaml.safe_dump(fields, sort_keys=False, allow_unicode=True, width=1000)


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    if text.startswith("---\n"):
        end = text.find("\n---\n", 3)
        if end != -1:
            data = yaml.safe_load(text[4:end]) or {}
            if isinstance(data, dict):
                return data, text[end + 5 :].lstrip("\n")
    return {}, text


class SitePublisher:
    """Owns one site folder. Thread-safe; blocking (call it via ``asyncio.to_thread``)."""

    def __init__(self, site_dir: Path, *, title: str = "blogpod", base_path: str = "/") -> None:
        self.site_dir = Path(site_dir).absolute()
        self.title = title
        self.base_path = _normalise_base(base_path)
        self._lock = _lock_for(self.site_dir)
        self._templates = Environment(
            loader=FileSystemLoader(_TEMPLATES),
            autoescape=select_autoescape(["html"]),
            keep_trailing_newline=True,
        )
        with self._lock:
            try:
                self._recover()
            except OSError as exc:  # never refuse to start: reads work, publish reports
                log.error("could not clean up %s: %s", self.site_dir, exc)

    # -- public API ----------------------------------------------------------------------

    def publish(self, markdown: str, meta: PostMeta) -> PublishedPost:
        """Write a new post and rebuild the manifest, index and feed (all or nothing).

        Idempotent per job: a job requeued after its post landed (the agent was killed
        between publishing and recording it) gets its existing post back, not a copy.
        """
        parts = extract(markdown, fallback_title=meta.topic)
        with self._lock:
            posts = self._load_manifest()
            existing = next((p for p in posts if p.job_id == meta.job_id), None)
            if existing is not None:
                return PublishedPost(**existing.model_dump(), folder=self._post_dir(existing.slug))
            slug = self._unique_slug(slugify(parts.title), posts)
            post = PostSummary(
                slug=slug,
                title=parts.title,
                date=meta.created_at,
                summary=parts.summary,
                url=f"{self.base_path}posts/{slug}/",
                tags=list(meta.tags),
                skill=meta.skill,
                skill_version=meta.skill_version,
                model=meta.model,
                provider=meta.provider,
                draft=meta.draft,
                job_id=meta.job_id,
            )
            body = Markup(render_markdown(parts.body))  # noqa: S704 - sanitised by nh3
            page = self._render("post.html", post=_view(post), body=body)
            source = f"---\n{_front_matter(post)}---\n\n{markdown.rstrip()}\n"
            change = SiteChange(f"publish post {slug!r}")
            change.add_folder(
                self._post_dir(slug),
                {"index.html": page.encode(), "post.md": source.encode()},
            )
            self._stage_listing(change, [post, *posts])
            change.commit()
        log.info("published post %s", slug, extra={"slug": slug, "job_id": meta.job_id})
        return PublishedPost(**post.model_dump(), folder=self._post_dir(slug))

    def unpublish(self, slug: str) -> None:
        """Remove a post and rebuild the manifest, index and feed (all or nothing)."""
        folder = self._checked_dir(slug)
        with self._lock:
            posts = self._load_manifest()
            if not folder.is_dir() and all(post.slug != slug for post in posts):
                raise PostNotFound(f"no post with slug {slug!r}")
            change = SiteChange(f"unpublish post {slug!r}")
            if folder.is_dir():
                change.remove_folder(folder)
            self._stage_listing(change, [post for post in posts if post.slug != slug])
            change.commit()
        log.info("unpublished post %s", slug, extra={"slug": slug})

    def list_posts(self) -> list[PostSummary]:
        """Every post, newest first."""
        with self._lock:
            return self._load_manifest()

    def get_post(self, slug: str) -> PostDetail:
        """One post with its Markdown and front matter."""
        folder = self._checked_dir(slug)
        with self._lock:
            summary = next((p for p in self._load_manifest() if p.slug == slug), None)
            try:
                text = (folder / "post.md").read_text(encoding="utf-8")
            except FileNotFoundError:
                summary = None
            except OSError as exc:
                raise SiteError(f"cannot read post {slug!r}: {exc}") from exc
        if summary is None:
            raise PostNotFound(f"no post with slug {slug!r}")
        front_matter, body = _split_front_matter(text)
        return PostDetail(**summary.model_dump(), markdown=body, front_matter=front_matter)

    def rebuild(self) -> None:
        """Rewrite the manifest, index, feed and stylesheet (e.g. after an upgrade)."""
        with self._lock:
            change = SiteChange("rebuild the site index")
            self._stage_listing(change, self._load_manifest())
            change.commit()

    # -- internals ---------------------------------------------------------------------------

    def _recover(self) -> None:
        """Finish the job of a process killed mid-change: the posts on disk are the truth.

        A kill can leave temp files, a moved-aside post (unpublish) or a post folder whose
        manifest update never happened (publish). Put moved-aside posts back if they are
        still listed, delete the rest, then rebuild the listing from the posts on disk.
        """
        posts_root = self.site_dir / "posts"
        found = [
            *leftovers(self.site_dir),
            *leftovers(self.site_dir / "assets"),
            *leftovers(posts_root),
        ]
        if not found:
            return
        log.warning("cleaning up after an interrupted change: %s", [str(p) for p in found])
        listed = {post.slug for post in self._load_manifest()}
        for path in found:
            if is_trash(path):
                for post in path.iterdir():
                    if post.name in listed and not (posts_root / post.name).exists():
                        post.rename(posts_root / post.name)
            remove_quietly(path)
        posts = self._scan_posts()
        try:
            change = SiteChange("rebuild the site after an interrupted change")
            self._stage_listing(change, posts)
            change.commit()
        except PublishError as exc:
            log.error("%s", exc)  # the next publish retries; reading still works

    def _post_dir(self, slug: str) -> Path:
        return self.site_dir / "posts" / slug

    def _checked_dir(self, slug: str) -> Path:
        if not isinstance(slug, str) or not is_valid_slug(slug):
            raise InvalidSlug(f"invalid slug {slug!r}: use lowercase letters, digits and hyphens")
        return self._post_dir(slug)

    def _unique_slug(self, base: str, posts: Iterable[PostSummary]) -> str:
        taken = {post.slug for post in posts}
        candidate, number = base, 1
        while candidate in taken or self._post_dir(candidate).exists():
            number += 1
            candidate = f"{base}-{number}"
        return candidate

    def _render(self, template: str, **context: Any) -> str:
        return self._templates.get_template(template).render(
            site_title=self.title, base_path=self.base_path, **context
        )

    def _stage_listing(self, change: SiteChange, posts: list[PostSummary]) -> None:
        """Stage the manifest, index, feed and stylesheet for ``posts``."""
        posts = sorted(posts, key=lambda post: (post.date, post.slug), reverse=True)
        manifest = {
            "version": MANIFEST_VERSION,
            "posts": [post.model_dump(mode="json") for post in posts],
        }
        css = (_TEMPLATES / "blog.css").read_bytes()
        change.write_file(self.site_dir / "assets" / "blog.css", css)
        change.write_file(
            self.site_dir / "feed.xml",
            build_feed(posts, title=self.title, base_path=self.base_path),
        )
        index = self._render("index.html", posts=[_view(post) for post in posts])
        change.write_file(self.site_dir / "index.html", index.encode())
        # The manifest goes last: it is the record of what is published.
        change.write_file(
            self.site_dir / MANIFEST,
            (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode(),
        )

    def _load_manifest(self) -> list[PostSummary]:
        """The manifest, or (when it is missing or unreadable) the posts found on disk."""
        path = self.site_dir / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            posts = [PostSummary.model_validate(item) for item in data["posts"]]
        except FileNotFoundError:
            return self._scan_posts()
        except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
            log.warning("manifest %s unreadable (%s); rebuilding it from the posts", path, exc)
            return self._scan_posts()
        return sorted(posts, key=lambda post: (post.date, post.slug), reverse=True)

    def _scan_posts(self) -> list[PostSummary]:
        posts: list[PostSummary] = []
        root = self.site_dir / "posts"
        if not root.is_dir():
            return posts
        for source in sorted(root.glob("*/post.md")):
            slug = source.parent.name
            if not is_valid_slug(slug):
                continue  # a temp folder or something put there by hand
            try:
                front, _ = _split_front_matter(source.read_text(encoding="utf-8"))
                posts.append(
                    PostSummary(slug=slug, url=f"{self.base_path}posts/{slug}/", **_known(front))
                )
            except (OSError, ValueError, yaml.YAMLError) as exc:
                log.warning("skipping %s: %s", source, exc)
        return sorted(posts, key=lambda post: (post.date, post.slug), reverse=True)


def _known(front: dict[str, Any]) -> dict[str, Any]:
    fields = set(PostSummary.model_fields) - {"slug", "url"}
    values = {key: value for key, value in front.items() if key in fields}
    if isinstance(values.get("date"), str):
        values["date"] = datetime.fromisoformat(values["date"])
    values.setdefault("date", datetime.fromtimestamp(0, UTC))
    return values


__all__ = ["InvalidSlug", "PostNotFound", "PublishError", "SitePublisher"]
