"""Jobs and their event logs in SQLite (WAL) on the agent's state volume.

The store is synchronous (stdlib ``sqlite3``) behind one lock; the async side calls it through
``asyncio.to_thread`` so the event loop never waits on the disk. Events are stored with the
job so an SSE client can replay exactly what it missed, even after an agent restart.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    topic TEXT NOT NULL,
    skill TEXT NOT NULL,
    skill_version TEXT,
    audience TEXT,
    tone TEXT,
    length TEXT,
    keywords TEXT NOT NULL DEFAULT '[]',
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    draft INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    post_slug TEXT,
    post_url TEXT,
    post_title TEXT,
    timings TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL,
    id INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, id)
) WITHOUT ROWID;
"""


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class StoredEvent:
    id: int
    type: str
    data: dict[str, Any]


class JobNotFound(Exception):
    """No job with that id."""


class JobStore:
    """All job state of one agent. Thread-safe; every public method is one transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- jobs -------------------------------------------------------------------------------

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        job_id = uuid.uuid4().hex
        row = {
            "id": job_id,
            "status": "queued",
            "created_at": utc_now(),
            **fields,
            "keywords": json.dumps(fields.get("keywords") or []),
        }
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._lock:
            self._db.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", list(row.values()))  # noqa: S608
        return self.get(job_id)

    def get(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return _job_dict(row)

    def recent(self, limit: int = 100, status: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT * FROM jobs"
        args: list[Any] = []
        if status:
            query += " WHERE status = ?"
            args.append(status)
        query += " ORDER BY seq DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [_job_dict(r) for r in rows]

    def update(self, job_id: str, **fields: Any) -> None:
        if "timings" in fields:
            fields["timings"] = json.dumps(fields["timings"])
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._db.execute(
                f"UPDATE jobs SET {sets} WHERE id = ?",  # noqa: S608
                [*fields.values(), job_id],
            )

    def transition(self, job_id: str, allowed_from: tuple[str, ...], **fields: Any) -> bool:
        """Update the job only if its status is one of ``allowed_from`` (atomic); True if done."""
        sets = ", ".join(f"{k} = ?" for k in fields)
        marks = ", ".join("?" for _ in allowed_from)
        with self._lock:
            cursor = self._db.execute(
                f"UPDATE jobs SET {sets} WHERE id = ? AND status IN ({marks})",  # noqa: S608
                [*fields.values(), job_id, *allowed_from],
            )
        return cursor.rowcount == 1

    def ids_with_status(self, *statuses: str) -> list[str]:
        marks = ", ".join("?" for _ in statuses)
        with self._lock:
            rows = self._db.execute(
                f"SELECT id FROM jobs WHERE status IN ({marks}) ORDER BY seq",  # noqa: S608
                statuses,
            ).fetchall()
        return [r["id"] for r in rows]

    def count_by_status(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
            counts = {r["status"]: r["n"] for r in rows.fetchall()}
        return {s: counts.get(s, 0) for s in JOB_STATUSES}

    # --- events -----------------------------------------------------------------------------

    def append_event(self, job_id: str, type_: str, data: dict[str, Any]) -> StoredEvent:
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM events WHERE job_id = ?", (job_id,)
            ).fetchone()
            event = StoredEvent(int(row["next"]), type_, data)
            self._db.execute(
                "INSERT INTO events (job_id, id, type, data) VALUES (?, ?, ?, ?)",
                (job_id, event.id, type_, json.dumps(data)),
            )
        return event

    def events_after(self, job_id: str, after: int, limit: int = 500) -> list[StoredEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, type, data FROM events WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?",
                (job_id, after, limit),
            ).fetchall()
        return [StoredEvent(r["id"], r["type"], json.loads(r["data"])) for r in rows]

    def check_writable(self) -> None:
        """Raise if the database cannot take a write (read-only or full volume)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("ROLLBACK")


def _job_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d.pop("seq", None)
    d["keywords"] = json.loads(d["keywords"] or "[]")
    d["timings"] = json.loads(d["timings"] or "{}")
    d["draft"] = bool(d["draft"])
    return d
