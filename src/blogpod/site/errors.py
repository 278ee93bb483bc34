"""Errors raised by the static-blog publisher.

All derive from :class:`SiteError` so callers (the agent service) can map the whole
family to one problem type and still tell a missing post from a failed write.
"""

from __future__ import annotations


class SiteError(Exception):
    """Base class for every site publishing error."""


class PublishError(SiteError):
    """A write to the site folder failed; the site was left as it was before the call."""


class PostNotFound(SiteError):
    """No post with the given slug exists."""


class InvalidSlug(SiteError):
    """The slug does not match the slug pattern (guards against path traversal)."""
