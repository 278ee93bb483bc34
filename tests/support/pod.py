"""The whole local Pod (nginx + skill server + agent) as real child processes, for tests and
benchmarks.

Each service runs with the same command as its container (``blogpod serve <name>``) and the
same settings ``blogpod up`` gives it: one folder per volume under a data dir, every port a
free one on 127.0.0.1. Unlike ``blogpod up``, each service is its own process group here, so a
test can SIGKILL and restart the agent alone.

Use :func:`local_pod` (a context manager) or the pytest fixtures in the test folders::

    with ScriptedProvider.running(tokens=40) as provider:
        with local_pod(tmp_path, provider.base_url) as pod:
            job = pod.write("A topic")
            done = pod.wait_job(job["id"], timeout=120)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.support.processes import REPO, ServiceProcess, blogpod_env, free_port

BLOGPOD = str(Path(sys.executable).parent / "blogpod")
SERVICES = ("skills", "agent", "web")
FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})
#: Prefix of every temp file or folder the site publisher writes before its rename.
SITE_TEMP_PREFIX = ".tmp-"

DEFAULT_SKILL = """---
name: blog-writer
description: Writes a clear, well-structured blog post about a topic for a general audience.
---

# Blog writer

Write a blog post in Markdown about the topic. Start with a `# ` title, then short sections.
"""


@dataclass
class PodPorts:
    web: int = field(default_factory=free_port)
    agent: int = field(default_factory=free_port)
    skills: int = field(default_factory=free_port)


@dataclass
class PodLayout:
    """One folder per Pod volume, as ``blogpod up`` lays them out under its data dir."""

    data_dir: Path

    @property
    def site(self) -> Path:
        return self.data_dir / "site"

    @property
    def state(self) -> Path:
        return self.data_dir / "state"

    @property
    def skills_shared(self) -> Path:
        return self.data_dir / "skills-shared"

    @property
    def skills_source(self) -> Path:
        return self.data_dir / "skills-source"

    @property
    def tmp(self) -> Path:
        return self.data_dir / "tmp"

    @property
    def nginx(self) -> Path:
        return self.data_dir / "nginx"

    def make(self) -> None:
        for folder in (self.site, self.state, self.skills_shared, self.skills_source, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)


def seed_skills(source: Path, from_dir: Path | None = None) -> None:
    """Fill a skills-source folder: the repo's skills, or one small default skill."""
    import shutil

    repo_skills = from_dir or (REPO / "skills")
    if any(repo_skills.glob("*/SKILL.md")):
        for skill in repo_skills.iterdir():
            if (skill / "SKILL.md").is_file():
                shutil.copytree(skill, source / skill.name, dirs_exist_ok=True)
        return
    (source / "blog-writer").mkdir(parents=True, exist_ok=True)
    (source / "blog-writer" / "SKILL.md").write_text(DEFAULT_SKILL)


def pod_env(
    layout: PodLayout, ports: PodPorts, provider_url: str, **overrides: str
) -> dict[str, str]:
    """The environment of every service (each reads only its own ``BLOGPOD_*`` variables)."""
    values = {
        "BLOGPOD_BIND": "127.0.0.1",
        "BLOGPOD_LOG_FORMAT": "text",
        "BLOGPOD_DATA_DIR": str(layout.data_dir),
        "BLOGPOD_PORT": str(ports.web),
        "BLOGPOD_AGENT_PORT": str(ports.agent),
        "BLOGPOD_SKILLS_PORT": str(ports.skills),
        "BLOGPOD_SITE_DIR": str(layout.site),
        "BLOGPOD_STATE_DIR": str(layout.state),
        "BLOGPOD_SKILLS_SHARED": str(layout.skills_shared),
        "BLOGPOD_SKILLS_SOURCE": str(layout.skills_source),
        "BLOGPOD_NGINX_DIR": str(layout.nginx),
        # The scripted provider as a BYOK OpenAI-compatible endpoint.
        "BLOGPOD_PROVIDER": "openai",
        "BLOGPOD_PROVIDER_BASE_URL": provider_url,
        "BLOGPOD_PROVIDER_API_KEY": "scripted-key",
        "BLOGPOD_MODEL": "scripted-model",
        # Tests and benchmarks post far more often than a person does.
        "BLOGPOD_POST_RATE": "6000r/m",
        "BLOGPOD_POST_BURST": "500",
        "TMPDIR": str(layout.tmp),
    }
    values.update(overrides)
    return blogpod_env(**values)


class LocalPod:
    """The three services of the Pod, each a process group we can stop, kill and restart."""

    def __init__(
        self,
        data_dir: Path,
        provider_url: str,
        *,
        env: Mapping[str, str] | None = None,
        ports: PodPorts | None = None,
    ) -> None:
        self.layout = PodLayout(data_dir)
        self.ports = ports or PodPorts()
        self.env = pod_env(self.layout, self.ports, provider_url, **dict(env or {}))
        self.procs: dict[str, ServiceProcess] = {}
        self.http = httpx.Client(base_url=self.url, timeout=30.0)

    # -- addresses ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The web front end: the only address a user sees."""
        return f"http://127.0.0.1:{self.ports.web}"

    @property
    def agent_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.agent}"

    @property
    def skills_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.skills}"

    def service_url(self, name: str) -> str:
        return {"web": self.url, "agent": self.agent_url, "skills": self.skills_url}[name]

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> None:
        self.layout.make()
        if not any(self.layout.skills_source.iterdir()):
            seed_skills(self.layout.skills_source)
        for name in SERVICES:
            self.start_service(name, timeout=timeout)

    def start_service(self, name: str, timeout: float = 120.0) -> ServiceProcess:
        proc = ServiceProcess([BLOGPOD, "serve", name], env=self.env, cwd=self.layout.data_dir)
        self.procs[name] = proc
        proc.wait_http(self.service_url(name) + self.ready_path(name), timeout=timeout)
        return proc

    @staticmethod
    def ready_path(name: str) -> str:
        return "/healthz" if name == "web" else "/readyz"

    def kill_service(self, name: str) -> None:
        """SIGKILL the service's whole process group (the agent's CLI child included)."""
        proc = self.procs[name]
        proc.kill(signal.SIGKILL)
        with contextlib.suppress(Exception):
            proc.proc.wait(10)

    def restart_service(self, name: str, timeout: float = 120.0) -> ServiceProcess:
        if name in self.procs:
            self.procs[name].stop()
        return self.start_service(name, timeout=timeout)

    def stop(self) -> None:
        for name in reversed(SERVICES):
            if name in self.procs:
                self.procs[name].stop()
        self.http.close()

    def logs(self) -> str:
        return "\n".join(f"===== {n} =====\n{p.logs()}" for n, p in self.procs.items())

    # -- processes ---------------------------------------------------------------------------

    def process_tree(self, name: str) -> list[psutil.Process]:
        """The service's process and all its descendants (the agent's Copilot CLI too)."""
        root = psutil.Process(self.procs[name].pid)
        return [root, *root.children(recursive=True)]

    def rss_bytes(self, name: str) -> int:
        total = 0
        for proc in self.process_tree(name):
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def open_connections(self, name: str, port: int | None = None) -> int:
        """TCP connections of the service's processes (optionally only on local ``port``)."""
        count = 0
        for proc in self.process_tree(name):
            with contextlib.suppress(psutil.Error):
                for conn in proc.net_connections(kind="tcp"):
                    if conn.status == psutil.CONN_LISTEN:
                        continue
                    if port is None or (conn.laddr and conn.laddr.port == port):
                        count += 1
        return count

    # -- the API, through nginx --------------------------------------------------------------

    def write(self, topic: str, **fields: Any) -> dict[str, Any]:
        """``POST /api/v1/posts``: returns the queued job (202)."""
        resp = self.http.post("/api/v1/posts", json={"topic": topic, **fields})
        if resp.status_code != 202:
            raise AssertionError(f"POST /api/v1/posts -> {resp.status_code}: {resp.text}")
        job: dict[str, Any] = resp.json()
        return job

    def job(self, job_id: str) -> dict[str, Any]:
        resp = self.http.get(f"/api/v1/jobs/{job_id}")
        resp.raise_for_status()
        job: dict[str, Any] = resp.json()
        return job

    def wait_job(
        self, job_id: str, timeout: float = 180.0, states: frozenset[str] = FINAL_STATES
    ) -> dict[str, Any]:
        """Poll the job until it reaches one of ``states``; fail with the Pod's logs otherwise."""
        deadline = time.monotonic() + timeout
        job: dict[str, Any] = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                job = self.job(job_id)
                if job.get("status") in states:
                    return job
            time.sleep(0.1)
        raise AssertionError(
            f"job {job_id} not in {sorted(states)} after {timeout}s: {job}\n{self.logs()}"
        )

    def events(self, job_id: str, timeout: float = 180.0) -> list[tuple[str, dict[str, Any]]]:
        """Every SSE event of a job, read through nginx until the stream ends."""
        from httpx_sse import connect_sse

        out: list[tuple[str, dict[str, Any]]] = []
        with (
            httpx.Client(base_url=self.url, timeout=httpx.Timeout(timeout)) as client,
            connect_sse(client, "GET", f"/api/v1/jobs/{job_id}/events") as source,
        ):
            for sse in source.iter_sse():
                out.append((sse.event, json.loads(sse.data) if sse.data else {}))
        return out

    def healthy(self) -> dict[str, int]:
        """Status codes of every readiness probe (nginx, agent, skills) and of the API via nginx."""
        return {
            "web": httpx.get(self.url + "/healthz", timeout=10).status_code,
            "agent": httpx.get(self.agent_url + "/readyz", timeout=10).status_code,
            "skills": httpx.get(self.skills_url + "/readyz", timeout=10).status_code,
            "api": self.http.get("/api/v1/jobs").status_code,
        }

    def metric(self, service: str, name: str) -> float:
        """The sum of a Prometheus sample (all label sets) from a service's /metrics."""
        text = httpx.get(self.service_url(service) + "/metrics", timeout=10).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    # -- the site on disk --------------------------------------------------------------------

    def site_temp_files(self) -> list[Path]:
        """Leftovers of an interrupted write: any temp file or folder anywhere in the site."""
        return sorted(p for p in self.layout.site.rglob(f"{SITE_TEMP_PREFIX}*"))

    def incomplete_posts(self) -> list[str]:
        """Post folders missing a page or a source, or absent from the manifest."""
        posts_dir = self.layout.site / "posts"
        manifest_file = self.layout.site / "posts.json"
        listed: set[str] = set()
        if manifest_file.exists():
            raw = json.loads(manifest_file.read_text())
            entries = raw.get("posts", raw) if isinstance(raw, dict) else raw
            listed = {e["slug"] for e in entries}
        problems = []
        folders = {p.name for p in posts_dir.iterdir()} if posts_dir.is_dir() else set()
        for slug in sorted(folders):
            folder = posts_dir / slug
            for needed in ("index.html", "post.md"):
                if not (folder / needed).is_file() or (folder / needed).stat().st_size == 0:
                    problems.append(f"{slug}: {needed} missing or empty")
            if slug not in listed:
                problems.append(f"{slug}: not in posts.json")
        for slug in sorted(listed - folders):
            problems.append(f"{slug}: in posts.json without a folder")
        return problems

    def site_snapshot(self) -> dict[str, bytes]:
        """Every file of the site with its bytes, to prove a failed publish changed nothing."""
        return {
            str(p.relative_to(self.layout.site)): p.read_bytes()
            for p in sorted(self.layout.site.rglob("*"))
            if p.is_file()
        }


@contextlib.contextmanager
def local_pod(
    data_dir: Path,
    provider_url: str,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> Iterator[LocalPod]:
    """A started :class:`LocalPod`, stopped (every process group) on exit."""
    pod = LocalPod(data_dir, provider_url, env=env)
    try:
        pod.start(timeout=timeout)
        yield pod
    finally:
        pod.stop()


def running_provider_process(
    port: int, first_token_ms: float, tokens_per_s: float, tokens: int
) -> ServiceProcess:
    """The scripted provider as its own process (no GIL shared with the measuring client)."""
    proc = ServiceProcess(
        [
            sys.executable,
            "-m",
            "tests.support.scripted_provider",
            "--port",
            str(port),
            "--first-token-ms",
            str(first_token_ms),
            "--tokens-per-s",
            str(tokens_per_s),
            "--tokens",
            str(tokens),
        ],
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"},
        cwd=REPO,
    )
    proc.wait_http(f"http://127.0.0.1:{port}/_control/health", timeout=60)
    return proc
