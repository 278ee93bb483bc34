"""The real model behind the real server: the request shapes OpenAI clients send, streaming."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.llm.conftest import LlmServer

pytestmark = [pytest.mark.localmodel, pytest.mark.slow]

COPILOT_SHAPED = {
    "model": "qwen2.5-coder-1.5b-instruct",
    "temperature": 0,
    "top_p": 0.95,
    "max_tokens": 24,
    "messages": [
        {"role": "system", "content": [{"type": "text", "text": "Answer in one short line."}]},
        {"role": "user", "content": [{"type": "text", "text": "Name a primary colour."}]},
        {"role": "assistant", "content": None},
        {"role": "user", "content": "Answer now."},
    ],
    "tools": [{"type": "function", "function": {"name": "bash", "parameters": {}}}],
}


def test_it_is_ready_and_lists_its_model(llm_server: LlmServer) -> None:
    assert httpx.get(llm_server.root + "/readyz").json()["status"] == "ready"
    models = httpx.get(llm_server.base_url + "/models").json()
    assert [m["id"] for m in models["data"]] == ["qwen2.5-coder-1.5b-instruct"]


def test_a_streamed_answer_to_array_and_null_content(llm_server: LlmServer) -> None:
    body = {**COPILOT_SHAPED, "stream": True, "stream_options": {"include_usage": True}}
    chunks = []
    with httpx.stream(
        "POST", llm_server.base_url + "/chat/completions", json=body, timeout=300
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in resp.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text.strip()
    usage = chunks[-1]["usage"]
    assert 0 < usage["completion_tokens"] <= 24 + 2  # re-tokenised count: may differ by one
    assert usage["prompt_tokens"] > 10
    assert chunks[-2]["choices"][0]["finish_reason"] in ("stop", "length")


def test_a_non_streamed_answer(llm_server: LlmServer) -> None:
    resp = httpx.post(llm_server.base_url + "/chat/completions", json=COPILOT_SHAPED, timeout=300)
    assert resp.status_code == 200
    body = resp.json()
    assert body["choices"][0]["message"]["content"].strip()
    assert body["usage"]["total_tokens"] == (
        body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )


def test_a_prompt_longer_than_the_context_window_is_refused(llm_server: LlmServer) -> None:
    long_text = "lorem ipsum dolor sit amet " * 1500  # > 4096 tokens
    body = {"messages": [{"role": "user", "content": long_text}], "stream": True}
    resp = httpx.post(llm_server.base_url + "/chat/completions", json=body, timeout=300)
    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/problem+json"
    assert "context window" in resp.json()["detail"]
