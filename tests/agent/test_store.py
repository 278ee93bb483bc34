"""JobStore: the job table's status changes are atomic guards against racing finishers."""

from __future__ import annotations

from pathlib import Path

from blogpod.agent.store import JobStore


def _store_with_job(tmp_path: Path) -> tuple[JobStore, str]:
    store = JobStore(tmp_path / "jobs.db")
    job = store.create({"topic": "t", "skill": "blog-writer", "provider": "local", "model": "m"})
    return store, job["id"]


def test_transition_applies_only_from_the_allowed_statuses(tmp_path: Path) -> None:
    store, job_id = _store_with_job(tmp_path)
    assert store.transition(job_id, ("queued",), status="running")
    assert store.get(job_id)["status"] == "running"
    assert store.transition(job_id, ("queued", "running"), status="cancelled")
    # A worker that claims the job after a cancel, or a second finisher, changes nothing.
    assert not store.transition(job_id, ("queued", "running"), status="running")
    assert not store.transition(job_id, ("queued", "running"), status="failed", error="late")
    row = store.get(job_id)
    assert row["status"] == "cancelled" and row["error"] is None
    store.close()
