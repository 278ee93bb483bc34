"""Values passed between the agent and the publisher."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    # A naive time is taken as UTC so feed and manifest dates are always comparable.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class PostMeta(BaseModel):
    """What the agent knows about a post besides its Markdown."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    skill: str
    skill_version: str
    model: str
    provider: str
    tags: list[str] = Field(default_factory=list)
    draft: bool = Field(False, description="True when written by the small local model.")
    created_at: datetime = Field(default_factory=_utc_now)
    topic: str | None = Field(None, description="Title fallback when the Markdown has no `# `.")

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _as_utc(value)


class PostSummary(BaseModel):
    """One entry of the manifest (`posts.json`) and of `GET /api/v1/posts`."""

    model_config = ConfigDict(frozen=True)

    slug: str
    title: str
    date: datetime
    summary: str
    url: str = Field(description="Path of the post page, under the site's base path.")
    tags: list[str] = Field(default_factory=list)
    skill: str
    skill_version: str
    model: str
    provider: str
    draft: bool = False
    job_id: str = ""

    @field_validator("date")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _as_utc(value)


class PostDetail(PostSummary):
    """A post with its Markdown source and the front matter of its `post.md`."""

    markdown: str
    front_matter: dict[str, Any]


class PublishedPost(PostSummary):
    """The result of a publish: the manifest entry plus where the post lives on disk."""

    folder: Path
