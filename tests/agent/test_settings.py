"""AgentSettings: provider combinations fail at start with a message that says what to set."""

from __future__ import annotations

import subprocess
import sys

import pytest

from blogpod.agent.prompts import (
    JobBrief,
    headings_as_bold,
    skill_outline,
    strip_front_matter,
    system_message,
    user_prompt,
)
from blogpod.agent.settings import LOCAL_MODEL, AgentSettings
from blogpod.config import ConfigError, load_settings
from tests.support.processes import blogpod_env


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COPILOT_GITHUB_TOKEN", "BLOGPOD_PROVIDER", "BLOGPOD_MODEL",
                 "BLOGPOD_PROVIDER_BASE_URL", "BLOGPOD_PROVIDER_API_KEY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def test_nothing_configured_means_the_local_model() -> None:
    s = load_settings(AgentSettings)
    assert s.provider == "local"
    assert s.effective_base_url == "http://127.0.0.1:8003/v1"
    assert s.effective_model == LOCAL_MODEL
    assert s.agent_port == 8001 and s.max_concurrent_jobs == 4
    assert s.default_skill == "blog-writer"


def test_a_copilot_token_alone_selects_copilot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPILOT_GITHUB_TOKEN", "ghu_secret")
    s = load_settings(AgentSettings)
    assert s.provider == "copilot"
    assert "ghu_secret" not in repr(s)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BLOGPOD_PROVIDER": "openai"}, "BLOGPOD_PROVIDER_BASE_URL"),
        ({"BLOGPOD_PROVIDER": "openai", "BLOGPOD_PROVIDER_BASE_URL": "http://x/v1"},
         "BLOGPOD_MODEL"),
        ({"BLOGPOD_PROVIDER": "copilot"}, "COPILOT_GITHUB_TOKEN"),
        ({"BLOGPOD_PROVIDER": "anthropic", "BLOGPOD_MODEL": "m"}, "BLOGPOD_PROVIDER_API_KEY"),
        ({"BLOGPOD_PROVIDER": "azure", "BLOGPOD_MODEL": "m", "BLOGPOD_PROVIDER_API_KEY": "k"},
         "BLOGPOD_PROVIDER_BASE_URL"),
        ({"BLOGPOD_MODEL": "gpt-x"}, "set BLOGPOD_PROVIDER"),
        ({"BLOGPOD_PROVIDER": "local", "BLOGPOD_PROVIDER_BASE_URL": "http://x/v1"},
         "unset BLOGPOD_PROVIDER_BASE_URL"),
        ({"BLOGPOD_PROVIDER": "ollama"}, "BLOGPOD_PROVIDER"),
        ({"BLOGPOD_WIRE_API": "soap"}, "BLOGPOD_WIRE_API"),
    ],
)  # fmt: skip
def test_contradictions_say_what_to_set(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_settings(AgentSettings)


def test_the_api_key_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLOGPOD_PROVIDER", "openai")
    monkeypatch.setenv("BLOGPOD_PROVIDER_BASE_URL", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("BLOGPOD_MODEL", "m")
    monkeypatch.setenv("BLOGPOD_PROVIDER_API_KEY", "sk-very-secret")
    s = load_settings(AgentSettings)
    assert "sk-very-secret" not in repr(s) and "sk-very-secret" not in str(s.model_dump())


def test_every_field_is_documented() -> None:
    assert all(f.description for f in AgentSettings.model_fields.values())


def test_serve_agent_with_a_bad_configuration_exits_with_the_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "blogpod", "serve", "agent"],
        env=blogpod_env(BLOGPOD_PROVIDER="openai"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "BLOGPOD_PROVIDER_BASE_URL" in result.stderr


def test_the_system_message_holds_the_skill_body_without_front_matter() -> None:
    skill = "---\nname: s\ndescription: d\n---\n\nBody line.\n"
    assert strip_front_matter(skill) == "Body line."
    message = system_message(skill, "s")
    assert "Body line." in message and "description:" not in message
    assert len(message) < 1000  # short: small local models process prompts slowly
    prompt = user_prompt(JobBrief("Topic X", tone="dry", keywords=["a", "b"]))
    assert prompt.splitlines()[0] == "Topic: Topic X"
    assert "Tone: dry" in prompt and "Keywords: a, b" in prompt and "Audience" not in prompt
    assert prompt.splitlines()[-1] == "Write the post now."


def test_skill_headings_are_fenced_and_bold_so_a_small_model_does_not_copy_them() -> None:
    body = (
        "# Skill\n\n## Rules\n\n````markdown\n# Title\n```py\nx\n```\n## Kept\n````\n### After ##\n"
    )
    assert headings_as_bold(body).splitlines() == [
        "**Skill**",
        "",
        "**Rules**",
        "",
        "````markdown",
        "# Title",  # inside the example fence: the example stays an example
        "```py",
        "x",
        "```",
        "## Kept",
        "````",
        "**After**",
    ]
    message = system_message("---\nname: s\ndescription: d\n---\n## Step\n", "s")
    assert "<skill>\n**Step**\n</skill>" in message


def test_an_outline_names_the_sections_in_order() -> None:
    assert skill_outline({}) == []
    assert skill_outline({"outline": " Why ; How;; Conclusion "}) == ["Why", "How", "Conclusion"]
    prompt = user_prompt(JobBrief("T"), ["Why", "Conclusion"])
    assert prompt.splitlines()[-1].endswith("in this order: `## Why`, `## Conclusion`.")
