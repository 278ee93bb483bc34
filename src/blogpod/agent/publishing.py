"""The agent's side of publishing: one SitePublisher, one write at a time, off the event loop.

``blogpod.site`` is synchronous and owns the site folder's layout; here we only serialise its
calls (so concurrent jobs never race on the manifest) and translate its errors for jobs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from blogpod.agent.jobs import JobFailed
from blogpod.site.errors import SiteError
from blogpod.site.models import PostDetail, PostMeta, PostSummary
from blogpod.site.publisher import SitePublisher


class Site:
    def __init__(self, publisher: SitePublisher) -> None:
        self.publisher = publisher
        self._lock = asyncio.Lock()

    async def publish_job(self, markdown: str, job: dict[str, Any]) -> tuple[str, str, str]:
        """Publish a job's post; a failed write fails the job and leaves the site unchanged."""
        meta = PostMeta(
            job_id=job["id"],
            skill=job["skill"],
            skill_version=job["skill_version"] or "",
            model=job["model"],
            provider=job["provider"],
            tags=list(job["keywords"]),
            draft=bool(job["draft"]),
            topic=job["topic"],
        )
        async with self._lock:
            try:
                post = await asyncio.to_thread(self.publisher.publish, markdown, meta)
            except SiteError as exc:
                raise JobFailed(f"the post could not be published: {exc}") from exc
        return post.slug, post.url, post.title

    async def unpublish(self, slug: str) -> None:
        async with self._lock:
            await asyncio.to_thread(self.publisher.unpublish, slug)

    async def list_posts(self) -> list[PostSummary]:
        return await asyncio.to_thread(self.publisher.list_posts)

    async def get_post(self, slug: str) -> PostDetail:
        return await asyncio.to_thread(self.publisher.get_post, slug)
