"""The request normaliser: the shapes OpenAI clients send, turned into one string a message."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from blogpod.llm.schema import ChatRequest, content_to_text


def test_an_array_of_text_parts_becomes_one_string() -> None:
    parts = [{"type": "text", "text": "Write about "}, {"type": "text", "text": "tea."}]
    assert content_to_text(parts) == "Write about tea."


def test_null_content_becomes_empty_text() -> None:
    assert content_to_text(None) == ""


def test_plain_strings_and_responses_api_parts_are_text_too() -> None:
    assert content_to_text("as is") == "as is"
    assert content_to_text(["a", {"type": "input_text", "text": "b"}, {"text": "c"}]) == "abc"


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([{"type": "image_url", "image_url": {"url": "x"}}], "type 'image_url'"),
        ([42], "part 0 is not an object"),
        ([{"type": "text", "text": 7}], "non-string `text`"),
        ({"type": "text"}, "string, an array of parts or null"),
    ],
)
def test_content_the_model_cannot_read_is_refused_by_name(parts: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        content_to_text(parts)


def test_a_copilot_cli_shaped_request_is_normalised() -> None:
    request = ChatRequest.model_validate(
        {
            "model": "qwen2.5-coder-1.5b-instruct",
            "temperature": 0,
            "top_p": 0.95,
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [
                {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
                {"role": "user", "content": [{"type": "text", "text": "Topic: tea"}]},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f"}}],
                },
                {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "ok"}]},
            ],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
            "parallel_tool_calls": False,
        }
    )
    assert [m.for_template() for m in request.messages] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Topic: tea"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f"}}],
        },
        {"role": "tool", "content": "ok", "tool_call_id": "c1"},
    ]
    assert request.include_usage
    assert request.temperature == 0


def test_limits_and_stops_are_read_from_either_spelling() -> None:
    request = ChatRequest.model_validate(
        {"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 50, "stop": "##"}
    )
    assert request.requested_max_tokens == 50
    assert request.stop_list == ["##"]
    assert not request.include_usage


@pytest.mark.parametrize(
    "body",
    [
        {"messages": []},
        {"messages": [{"role": "robot", "content": "x"}]},
        {"messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
        {"messages": [{"role": "user", "content": "x"}], "temperature": 3},
    ],
)
def test_invalid_requests_fail_validation(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ChatRequest.model_validate(body)
