"""Response bodies of the skill server's API (the OpenAPI docs are generated from them)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from blogpod.skills.catalog import Finding, SkillFile

Status = Literal["ok", "stale", "rejected"]


class SkillSummary(BaseModel):
    """A live skill; ``findings`` are its current findings (for ``stale``: why it is stale)."""

    name: str
    description: str
    version: str
    status: Literal["ok", "stale"]
    findings_count: int
    findings: list[Finding]


class VersionSeenOut(BaseModel):
    version: str | None
    status: Status
    seen_at: datetime
    errors: int


class SkillDetail(BaseModel):
    """A live skill (``ok`` or ``stale``), or a ``rejected`` one with only its findings."""

    name: str
    status: Status
    description: str | None = None
    version: str | None = None
    license: str | None = None
    compatibility: str | None = None
    allowed_tools: str | None = None
    metadata: dict[str, str] = {}
    published_at: datetime | None = None
    body: str | None = None
    files: list[SkillFile] = []
    findings: list[Finding] = []
    history: list[VersionSeenOut] = []


class ValidationReport(BaseModel):
    valid: bool
    name: str
    version: str
    files: list[SkillFile]
    findings: list[Finding]


class SyncOut(BaseModel):
    snapshot: str
    changed: bool
    skills: int
    rejected: int


class ProblemOut(BaseModel):
    """RFC 9457 problem details, the body of every error (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


def problem_responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the problem+json errors an endpoint can answer."""
    schema = {"$ref": "#/components/schemas/ProblemOut"}
    return {
        code: {
            "model": ProblemOut,
            "description": "An error as problem+json.",
            "content": {"application/problem+json": {"schema": schema}},
        }
        for code in codes
    }


class Health(BaseModel):
    status: str
    snapshot: str | None = None
