"""Settings of the embedded local model (`blogpod serve llm`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from blogpod.config import LLM_PORT, CommonSettings

#: The file name the joined weights get in the models folder.
DEFAULT_MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
#: The name the server answers to and reports in every response.
DEFAULT_MODEL_NAME = "qwen2.5-coder-1.5b-instruct"


def user_cache_dir() -> Path:
    """Where weights live by default: shared by every checkout of this user (XDG cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "blogpod"


class LlmSettings(CommonSettings):
    """The local OpenAI-compatible model server; the agent reaches it with provider `local`."""

    service_name: ClassVar[str] = "llm"

    llm_port: int = Field(
        LLM_PORT, ge=1, le=65535, description="Port of the local model server (`/v1`)."
    )
    llm_models_dir: Path | None = Field(
        None,
        description="Folder of the joined model file (unset: `$XDG_CACHE_HOME/blogpod/models`).",
    )
    llm_parts_dir: Path | None = Field(
        None,
        description=(
            "Folder where the weight chunk packages are installed (`pip --target`); unset: "
            "`$XDG_CACHE_HOME/blogpod/model-parts`, then the Python path."
        ),
    )
    llm_model_file: str = Field(
        DEFAULT_MODEL_FILE,
        pattern=r"^[A-Za-z0-9._-]+\.gguf$",
        description="File name of the joined GGUF model inside the models folder.",
    )
    llm_model_name: str = Field(
        DEFAULT_MODEL_NAME,
        min_length=1,
        description="Model id the local server reports (`/v1/models`, every response).",
    )
    llm_n_ctx: int = Field(
        4096, ge=512, le=32768, description="Context window of the local model in tokens."
    )
    llm_n_threads: int | None = Field(
        None, ge=1, le=256, description="CPU threads for the local model (unset: every core)."
    )
    llm_max_tokens: int = Field(
        1024,
        ge=16,
        le=32768,
        description="Most tokens one local answer may have (a request may ask for fewer).",
    )

    @property
    def models_dir(self) -> Path:
        return self.llm_models_dir or user_cache_dir() / "models"

    @property
    def parts_dir(self) -> Path:
        return self.llm_parts_dir or user_cache_dir() / "model-parts"

    @property
    def model_path(self) -> Path:
        return self.models_dir / self.llm_model_file

    @property
    def n_threads(self) -> int:
        return self.llm_n_threads or len(os.sched_getaffinity(0))
