"""Fixtures for the static-blog tests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from blogpod.site import PostMeta, SitePublisher

BASE_TIME = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def make_meta(n: int = 0, **overrides: object) -> PostMeta:
    """Meta of the n-th post; later n means a newer post."""
    values: dict[str, object] = {
        "job_id": f"job-{n}",
        "skill": "blog-post",
        "skill_version": "1.4.0",
        "model": "gpt-test",
        "provider": "scripted",
        "tags": ["testing"],
        "draft": False,
        "created_at": BASE_TIME + timedelta(hours=n),
    }
    values.update(overrides)
    return PostMeta.model_validate(values)


def snapshot(folder: Path) -> dict[str, str]:
    """Every path under ``folder`` (hidden ones too) with a hash of its bytes."""
    state: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_dir():
            state[key] = "<dir>"
        else:
            state[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    return tmp_path / "site"


@pytest.fixture
def publisher(site_dir: Path) -> SitePublisher:
    return SitePublisher(site_dir, title="Test <Blog> & Co")


@pytest.fixture
def meta() -> Callable[..., PostMeta]:
    return make_meta
