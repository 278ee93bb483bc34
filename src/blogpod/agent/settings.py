"""Settings of the agent container (``BLOGPOD_*`` variables).

Provider choice: ``BLOGPOD_PROVIDER`` is one of ``copilot`` (GitHub Copilot, token in
``COPILOT_GITHUB_TOKEN``), ``openai`` (any OpenAI-compatible endpoint: OpenAI, Ollama, vLLM,
llama.cpp), ``azure``, ``anthropic`` or ``local`` (the Pod's embedded model, an
OpenAI-compatible server on ``127.0.0.1:BLOGPOD_LLM_PORT``). When nothing is configured at all
(no provider, no base URL, no key, no Copilot token) the provider is ``local``: a fresh machine
with no account still writes a (draft-quality) post.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator

from blogpod.config import AGENT_PORT, LLM_PORT, CommonSettings

Provider = Literal["copilot", "openai", "azure", "anthropic", "local"]
WireApi = Literal["completions", "responses"]

#: Model served by the embedded local model server (see ``blogpod.llm``).
LOCAL_MODEL = "qwen2.5-coder-1.5b-instruct"


class AgentSettings(CommonSettings):
    """Everything the agent reads from its environment."""

    service_name: ClassVar[str] = "agent"

    agent_port: int = Field(AGENT_PORT, ge=1, le=65535, description="Port of the agent API.")
    state_dir: Path = Field(
        Path("state"),
        description="Agent state volume: the job database and the Copilot home (writable).",
    )
    site_dir: Path = Field(
        Path("site"), description="Folder of the static blog the agent publishes into."
    )
    skills_shared: Path = Field(
        Path("skills-shared"),
        description="Folder where the skill server publishes skill snapshots (read only).",
    )
    site_title: str = Field("blogpod", min_length=1, description="Title of the published blog.")
    provider: Provider | None = Field(
        None,
        description=(
            "Model provider: copilot, openai, azure, anthropic or local. Unset: local when "
            "nothing else is configured."
        ),
    )
    provider_base_url: str | None = Field(
        None,
        description="Base URL of the provider (required for openai and azure), e.g. "
        "`http://127.0.0.1:11434/v1`.",
    )
    provider_api_key: SecretStr | None = Field(
        None, description="API key of the provider (never logged or returned)."
    )
    copilot_github_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("COPILOT_GITHUB_TOKEN", "copilot_github_token"),
        description="GitHub token for provider copilot, read from `COPILOT_GITHUB_TOKEN`.",
    )
    model: str | None = Field(
        None,
        description="Model name; for local it defaults to BLOGPOD_LLM_MODEL_NAME, required "
        "otherwise (except copilot).",
    )
    wire_api: WireApi = Field(
        "completions", description="OpenAI wire API of the provider: completions or responses."
    )
    copilot_cli: Path = Field(
        Path("/opt/copilot/bin/copilot"),
        description="Path of the pinned Copilot CLI binary (never downloaded at run time); "
        "`make setup` puts it under `.cache/`.",
    )
    copilot_pkg_cache: Path | None = Field(
        None,
        description="Pre-extracted payload of the Copilot CLI (`COPILOT_PKG_CACHE_HOME`).",
    )
    max_concurrent_jobs: int = Field(4, ge=1, le=64, description="Jobs written at once.")
    queue_size: int = Field(
        32, ge=1, description="Jobs that may wait; more are refused with 429 and Retry-After."
    )
    job_timeout_s: float = Field(600.0, gt=0, description="Total time a job may take.")
    inactivity_timeout_s: float = Field(
        120.0,
        gt=0,
        description="A turn fails (or is retried) when the provider sends nothing for this long.",
    )
    max_attempts: int = Field(
        3, ge=1, description="Times a job is started at most (agent restarts, dead CLI)."
    )
    provider_retries: int = Field(
        1, ge=0, le=10, description="Extra tries of a turn after a transient provider failure."
    )
    default_skill: str = Field("blog-writer", description="Skill used when a job names none.")
    llm_port: int = Field(
        LLM_PORT, ge=1, le=65535, description="Port of the embedded local model server."
    )
    llm_model_name: str = Field(
        LOCAL_MODEL, min_length=1, description="Model id of the embedded local model server."
    )
    sse_heartbeat_s: float = Field(
        15.0, gt=0, description="Seconds between SSE heartbeat comments."
    )

    @model_validator(mode="after")
    def _check_provider(self) -> AgentSettings:
        if self.provider is None:
            configured = self.provider_base_url or self.provider_api_key or self.model
            if configured:
                raise ValueError(
                    "BLOGPOD_PROVIDER is not set but provider settings are: set "
                    "BLOGPOD_PROVIDER to copilot, openai, azure, anthropic or local"
                )
            object.__setattr__(
                self, "provider", "copilot" if self.copilot_github_token else "local"
            )
        if self.provider == "copilot" and self.copilot_github_token is None:
            raise ValueError("BLOGPOD_PROVIDER=copilot needs COPILOT_GITHUB_TOKEN")
        if self.provider in ("openai", "azure") and not self.provider_base_url:
            raise ValueError(f"BLOGPOD_PROVIDER={self.provider} needs BLOGPOD_PROVIDER_BASE_URL")
        if self.provider in ("azure", "anthropic") and self.provider_api_key is None:
            raise ValueError(f"BLOGPOD_PROVIDER={self.provider} needs BLOGPOD_PROVIDER_API_KEY")
        if self.provider in ("openai", "azure", "anthropic") and not self.model:
            raise ValueError(f"BLOGPOD_PROVIDER={self.provider} needs BLOGPOD_MODEL")
        if self.provider == "local" and self.provider_base_url:
            raise ValueError(
                "BLOGPOD_PROVIDER=local uses 127.0.0.1:BLOGPOD_LLM_PORT: unset "
                "BLOGPOD_PROVIDER_BASE_URL or choose BLOGPOD_PROVIDER=openai"
            )
        if self.provider == "anthropic" and self.wire_api != "completions":
            raise ValueError("BLOGPOD_WIRE_API applies to openai-style providers only")
        return self

    @property
    def effective_base_url(self) -> str | None:
        if self.provider == "local":
            return f"http://127.0.0.1:{self.llm_port}/v1"
        return self.provider_base_url

    @property
    def effective_model(self) -> str:
        if self.model:
            return self.model
        return self.llm_model_name if self.provider == "local" else "default"

    @property
    def provider_name(self) -> str:
        return self.provider or "local"
