"""A real `blogpod serve skills` process for the API tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.processes import REPO, VENV_BIN, ServiceProcess, blogpod_env, free_port

TOKEN = "s3cret-token"
UPLOAD_LIMIT = 200_000


@dataclass
class Server:
    url: str
    source: Path
    shared: Path
    process: ServiceProcess

    def get(self, path: str, **kw: object) -> httpx.Response:
        return httpx.get(self.url + path, timeout=30, **kw)  # type: ignore[arg-type]

    def post(self, path: str, **kw: object) -> httpx.Response:
        return httpx.post(self.url + path, timeout=30, **kw)  # type: ignore[arg-type]

    def upload(self, name: str, data: bytes) -> httpx.Response:
        return self.post("/api/v1/skills:validate", files={"file": (name, data)})

    def shared_tree(self) -> list[str]:
        return sorted(str(p.relative_to(self.shared)) for p in self.shared.rglob("*"))


def start(tmp: Path, source: Path, **env: str) -> Server:
    port = free_port()
    shared = tmp / "shared"
    process = ServiceProcess(
        [str(VENV_BIN / "blogpod"), "serve", "skills"],
        env=blogpod_env(
            BLOGPOD_SKILLS_SOURCE=str(source),
            BLOGPOD_SKILLS_SHARED=str(shared),
            BLOGPOD_SKILLS_PORT=str(port),
            BLOGPOD_API_TOKEN=TOKEN,
            BLOGPOD_SKILLS_MAX_UPLOAD_BYTES=str(UPLOAD_LIMIT),
            BLOGPOD_SKILLS_MAX_SKILL_BYTES="1000000",
            **env,
        ),
        cwd=REPO,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_http(url + "/healthz")
    except BaseException:
        process.stop()
        raise
    return Server(url, source, shared, process)
