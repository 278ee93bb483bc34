"""Request and response bodies of the agent API (the shapes in docs/architecture.md)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]

#: C0 and C1 control characters and DEL; a topic may still span lines (tab, newline, CR).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"[\t\n\r]")


def _no_control_characters(value: str) -> str:
    """Control characters would reach the prompt, the logs and the published page's title."""
    found = _CONTROL.search(value)
    if found:
        raise ValueError(f"must not contain control characters (found U+{ord(found[0]):04X})")
    return value


def _one_line(value: str) -> str:
    _no_control_characters(value)
    if _LINE_BREAK.search(value):
        raise ValueError("must be one line (no tab or line break)")
    return value


Text = Annotated[str, AfterValidator(_no_control_characters)]
Line = Annotated[str, AfterValidator(_one_line)]


class PostRequest(BaseModel):
    """``POST /api/v1/posts``: what to write."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    topic: Text = Field(min_length=1, max_length=2000, description="What the post is about.")
    skill: Line | None = Field(
        None, min_length=1, max_length=64, description="Skill to follow (default: blog-writer)."
    )
    audience: Line | None = Field(None, max_length=200, description="Who the post is for.")
    tone: Line | None = Field(None, max_length=100, description="e.g. friendly, formal.")
    length: Line | None = Field(
        None, max_length=40, description="e.g. short, medium, long or '800 words'."
    )
    keywords: list[Annotated[Line, Field(max_length=100)]] = Field(
        default_factory=list, max_length=20, description="Words the post should use."
    )


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class PostRef(BaseModel):
    slug: str
    url: str
    title: str


class Job(BaseModel):
    id: str
    status: JobStatus
    topic: str
    skill: str
    skill_version: str | None
    audience: str | None
    tone: str | None
    length: str | None
    keywords: list[str]
    provider: str
    model: str
    draft: bool = Field(description="True when written by the local model (draft quality).")
    attempts: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    usage: Usage
    error: str | None
    post: PostRef | None
    events_url: str
    timings: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Job:
        post = None
        if row.get("post_slug"):
            post = PostRef(slug=row["post_slug"], url=row["post_url"], title=row["post_title"])
        return cls(
            **{k: row[k] for k in _PLAIN},
            usage=Usage(input_tokens=row["input_tokens"], output_tokens=row["output_tokens"]),
            post=post,
            events_url=f"/api/v1/jobs/{row['id']}/events",
            timings=row.get("timings") or {},
        )


_PLAIN = (
    "id", "status", "topic", "skill", "skill_version", "audience", "tone", "length", "keywords",
    "provider", "model", "draft", "attempts", "created_at", "started_at", "finished_at", "error",
)  # fmt: skip
