"""The static blog: Markdown to safe HTML, posts, index and Atom feed.

Used by the agent service; deliberately free of Copilot and FastAPI imports.
"""

from blogpod.site.errors import InvalidSlug, PostNotFound, PublishError, SiteError
from blogpod.site.models import PostDetail, PostMeta, PostSummary, PublishedPost
from blogpod.site.publisher import SitePublisher
from blogpod.site.render import render_markdown

__all__ = [
    "InvalidSlug",
    "PostDetail",
    "PostMeta",
    "PostNotFound",
    "PostSummary",
    "PublishError",
    "PublishedPost",
    "SiteError",
    "SitePublisher",
    "render_markdown",
]
