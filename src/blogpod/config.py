"""Settings shared by every container.

Each service has its own typed settings class (``blogpod.skills.settings``,
``blogpod.agent.settings``, ...) that inherits from :class:`CommonSettings`, so every
container reads only the ``BLOGPOD_*`` variables it needs and a bad value fails at start.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "BLOGPOD_"

#: Default ports of the Pod's containers, all on the Pod's loopback.
AGENT_PORT = 8001
SKILLS_PORT = 8002
LLM_PORT = 8003
WEB_PORT = 8080


class ConfigError(Exception):
    """A setting is missing or invalid; the message says what to set."""


class CommonSettings(BaseSettings):
    """Settings every service shares."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    #: Registry of concrete settings classes, used to document every variable in one table.
    registry: ClassVar[list[type[CommonSettings]]] = []

    bind: str = Field("127.0.0.1", description="Address every service listens on.")
    log_level: str = Field(
        "INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", description="Log level of each service."
    )
    log_format: str = Field(
        "json", pattern=r"^(json|text)$", description="`json` (one object a line) or `text`."
    )
    api_token: str | None = Field(
        None,
        repr=False,
        description="When set, write endpoints require `Authorization: Bearer <token>`.",
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        CommonSettings.registry.append(cls)


S = TypeVar("S", bound="CommonSettings")


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build settings from the environment, turning validation errors into a ConfigError."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "?"
            lines.append(f"{ENV_PREFIX}{field.upper()}: {err['msg']}")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(lines)) from exc
