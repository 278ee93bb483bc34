"""Run the real agent (``blogpod serve agent``) as a process against a scripted provider.

Also builds a skill snapshot by hand, in the layout ``blogpod.skills.catalog`` documents, so
agent tests do not depend on the skill server.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.support.processes import ServiceProcess, blogpod_env, free_port

DEFAULT_SKILL_BODY = """---
name: {name}
description: Writes a clear technical blog post about the given topic.
---

# {name}

Write for curious engineers. Use short paragraphs and concrete examples.
"""

#: The API key the agent is configured with in tests; it must never show up in its logs.
TEST_API_KEY = "sk-test-DO-NOT-LOG-5f0c2b7e9a41"


def write_skill_snapshot(shared: Path, skills: dict[str, str]) -> dict[str, str]:
    """Publish ``{name: SKILL.md text}`` as a new snapshot; returns ``{name: version}``."""
    snapshot_id = hashlib.sha256(json.dumps(skills, sort_keys=True).encode()).hexdigest()[:16]
    root = shared / "snapshots" / snapshot_id
    now = datetime.now(UTC).isoformat()
    entries = []
    versions = {}
    for name, text in skills.items():
        folder = root / "skills" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "SKILL.md").write_text(text, encoding="utf-8")
        digest = hashlib.sha256(text.encode()).hexdigest()
        versions[name] = digest[:12]
        entries.append(
            {
                "name": name,
                "description": f"skill {name}",
                "version": versions[name],
                "files": [{"path": "SKILL.md", "size": len(text.encode()), "sha256": digest}],
                "published_at": now,
            }
        )
    catalog = {"snapshot": snapshot_id, "created_at": now, "skills": entries}
    (root / "catalog.json").write_text(json.dumps(catalog), encoding="utf-8")
    tmp_link = shared / f".current-{snapshot_id}"
    if tmp_link.is_symlink():
        tmp_link.unlink()
    tmp_link.symlink_to(Path("snapshots") / snapshot_id)
    os.replace(tmp_link, shared / "current")
    return versions


@dataclass
class AgentProcess:
    """One agent process and the folders it works in."""

    root: Path
    provider_url: str
    overrides: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    token: str | None = None
    process: ServiceProcess | None = None
    logs_before: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def site_dir(self) -> Path:
        return self.root / "site"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def skills_dir(self) -> Path:
        return self.root / "skills-shared"

    def env(self) -> dict[str, str]:
        values = {
            "BLOGPOD_AGENT_PORT": str(self.port),
            "BLOGPOD_STATE_DIR": str(self.state_dir),
            "BLOGPOD_SITE_DIR": str(self.site_dir),
            "BLOGPOD_SKILLS_SHARED": str(self.skills_dir),
            "BLOGPOD_PROVIDER": "openai",
            "BLOGPOD_PROVIDER_BASE_URL": self.provider_url,
            "BLOGPOD_PROVIDER_API_KEY": TEST_API_KEY,
            "BLOGPOD_MODEL": "scripted-model",
            "BLOGPOD_LOG_LEVEL": "DEBUG",
            "BLOGPOD_INACTIVITY_TIMEOUT_S": "20",
            "BLOGPOD_JOB_TIMEOUT_S": "120",
            "BLOGPOD_SSE_HEARTBEAT_S": "1",
            **({"BLOGPOD_API_TOKEN": self.token} if self.token else {}),
            **self.overrides,
        }
        return blogpod_env(**values)

    def start(self, timeout: float = 90.0, ready_path: str = "/readyz") -> None:
        self.skills_dir.mkdir(parents=True, exist_ok=True)
        self.process = ServiceProcess(
            [sys.executable, "-m", "blogpod", "serve", "agent"], env=self.env()
        )
        self.process.wait_http(self.url + ready_path, timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the agent (its CLI child dies with its stdin), keeping its logs."""
        assert self.process is not None
        self.process.kill()
        self.process.proc.wait(10)
        self.logs_before.append(_read_log(self.process))
        self.process.stop()
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.logs_before.append(_read_log(self.process))
            self.process = None

    def logs(self) -> str:
        current = _read_log(self.process) if self.process is not None else ""
        return "".join(self.logs_before) + current

    def cli_pids(self) -> list[int]:
        """The Copilot CLI processes under this agent."""
        assert self.process is not None
        parent = psutil.Process(self.process.pid)
        return [
            p.pid
            for p in parent.children(recursive=True)
            if "copilot" in " ".join(_cmdline(p)).lower()
        ]

    # --- API helpers --------------------------------------------------------------------

    def client(self, authorized: bool = True) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if authorized and self.token else {}
        return httpx.Client(base_url=self.url, timeout=30, headers=headers)

    def events(self, job_id: str, last_event_id: int | None = None) -> list[dict[str, Any]]:
        """Read the job's SSE stream to its end (the job must finish; bounded by timeouts)."""
        headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
        with httpx.stream(
            "GET", f"{self.url}/api/v1/jobs/{job_id}/events", headers=headers, timeout=60
        ) as resp:
            resp.raise_for_status()
            return [e for e in sse_events(resp.iter_lines()) if "event" in e]

    def submit(self, topic: str, **fields: Any) -> dict[str, Any]:
        with self.client() as c:
            resp = c.post("/api/v1/posts", json={"topic": topic, **fields})
        assert resp.status_code == 202, resp.text
        job: dict[str, Any] = resp.json()
        return job

    def job(self, job_id: str) -> dict[str, Any]:
        with self.client() as c:
            resp = c.get(f"/api/v1/jobs/{job_id}")
        resp.raise_for_status()
        job: dict[str, Any] = resp.json()
        return job

    def wait_final(self, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Poll until the job reaches a final status (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return job
            time.sleep(0.2)
        raise TimeoutError(f"job {job_id} not final after {timeout}s: {self.job(job_id)}")

    def wait_status(self, job_id: str, status: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["status"] == status:
                return job
            time.sleep(0.1)
        raise TimeoutError(f"job {job_id} never {status}: {self.job(job_id)}")


def _read_log(process: ServiceProcess) -> str:
    return Path(process.log_file.name).read_text(errors="replace")


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def sse_events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Parse raw SSE lines into ``{id, event, data, comment}`` dicts (data JSON-decoded)."""
    current: dict[str, Any] = {}
    for line in lines:
        if line == "":
            if current:
                yield current
            current = {}
            continue
        if line.startswith(":"):
            current.setdefault("comment", line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            current["data"] = json.loads(value)
        elif name == "id":
            current["id"] = int(value)
        elif name == "event":
            current["event"] = value
    if current:
        yield current
