"""Settings of ``blogpod up``: the whole Pod as local processes.

The Pod's volumes become folders under ``data_dir``; each service still reads its own
settings class, from the same ``BLOGPOD_*`` variables the Kubernetes manifests set.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from blogpod.config import AGENT_PORT, LLM_PORT, SKILLS_PORT, WEB_PORT, CommonSettings


class PodSettings(CommonSettings):
    """Where the local Pod keeps its volumes, its ports, and how it supervises its processes."""

    service_name: ClassVar[str] = "pod"

    data_dir: Path = Field(
        Path("var"),
        description="`blogpod up`: folder holding one sub-folder per Pod volume (site/, state/, "
        "skills-shared/, skills-source/, tmp/); relative to the current directory.",
    )
    port: int = Field(WEB_PORT, ge=1, le=65535, description="Port of the web (nginx) front end.")
    agent_port: int = Field(AGENT_PORT, ge=1, le=65535, description="Port of the agent API.")
    skills_port: int = Field(
        SKILLS_PORT, ge=1, le=65535, description="Port of the skill server's HTTP API."
    )
    llm_port: int = Field(
        LLM_PORT, ge=1, le=65535, description="Port of the embedded local model server."
    )
    skills_source: Path = Field(
        Path("skills"),
        description="Folder the skill server reads skills from. `blogpod up` when unset: the "
        "repository's skills/ in a checkout, else DATA_DIR/skills-source.",
    )
    ready_timeout: float = Field(
        300.0,
        gt=0,
        description="`blogpod up`: seconds each process may take to become ready (the local "
        "model loads its weights first).",
    )
    restart_backoff_max: float = Field(
        30.0,
        ge=1,
        description="`blogpod up`: longest wait before restarting a crashed process "
        "(the wait doubles from 1 s, like the kubelet's back-off).",
    )
    stop_timeout: float = Field(
        15.0,
        gt=0,
        description="`blogpod up`: seconds a process has to exit after SIGTERM before SIGKILL.",
    )
