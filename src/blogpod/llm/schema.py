"""The OpenAI chat-completions request, normalised for a plain-text chat template.

OpenAI clients (the Copilot CLI among them) send a message's ``content`` as an array of typed
parts, or ``null`` on an assistant turn that only called tools. The model's chat template wants
one string per message, so both shapes are turned into text here, at the edge, instead of
failing deep inside the template with an HTTP 500.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Part types that carry plain text (chat-completions and responses API spellings).
TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text"})


def content_to_text(content: Any) -> str:
    """One string from a message content: a string, ``None``, or a list of parts.

    Raises ValueError for parts the local model cannot read (images, audio, files).
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for index, part in enumerate(content):
            if isinstance(part, str):
                texts.append(part)
                continue
            if not isinstance(part, dict):
                raise ValueError(f"content part {index} is not an object")
            kind = part.get("type", "text")
            if kind not in TEXT_PART_TYPES:
                raise ValueError(
                    f"content part {index} has type {kind!r}: the local model reads text only"
                )
            text = part.get("text", "")
            if not isinstance(text, str):
                raise ValueError(f"content part {index} has a non-string `text`")
            texts.append(text)
        return "".join(texts)
    raise ValueError("content must be a string, an array of parts or null")


class ChatMessage(BaseModel):
    """One message; ``content`` is always a string after validation."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str = ""

    @field_validator("content", mode="before")
    @classmethod
    def _flatten(cls, value: Any) -> str:
        return content_to_text(value)

    @field_validator("role", mode="after")
    @classmethod
    def _developer_is_system(cls, value: str) -> str:
        # Newer clients say "developer" where chat templates only know "system".
        return "system" if value == "developer" else value

    def for_template(self) -> dict[str, Any]:
        """The message as the chat template expects it (role, text, tool fields if any)."""
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        extra = self.model_extra or {}
        for key in ("name", "tool_calls", "tool_call_id"):
            if extra.get(key) is not None:
                message[key] = extra[key]
        return message


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatRequest(BaseModel):
    """The subset of `POST /v1/chat/completions` the local model honours; the rest is ignored.

    ``tools`` are accepted and ignored: a 1.5B model cannot drive them (it writes the call as
    text), so callers must put what the model needs into the prompt.
    """

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    tools: list[dict[str, Any]] | None = None

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @property
    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)
