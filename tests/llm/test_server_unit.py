"""The HTTP layer of the local model server, with a scripted engine in place of llama.cpp."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Generator

import httpx
import pytest

from blogpod.llm.engine import EngineError, Finish
from blogpod.llm.schema import ChatRequest
from blogpod.llm.server import ModelHost, _engine_events, create_app

POST = ["# Tea\n\n", "Intro.\n\n", "## Growing\n\nText.\n"]


class ScriptedEngine:
    """Yields a fixed answer; records what it was asked and whether it was closed early."""

    model_name = "scripted"

    def __init__(self, answer: list[str] = POST, fail_at: int | None = None) -> None:
        self.answer = answer
        self.fail_at = fail_at
        self.requests: list[ChatRequest] = []
        self.closed_early = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def stream(self, request: ChatRequest) -> Generator[str | Finish, None, None]:
        self.requests.append(request)
        if request.messages[-1].content == "too long":
            raise EngineError("the prompt has 5000 tokens; the context window is 4096")
        done = False
        try:
            for index, text in enumerate(self.answer):
                if index == self.fail_at:
                    raise RuntimeError("the model crashed")
                yield text
                assert self.release.wait(10)
            done = True
            yield Finish("stop", 12, len(self.answer))
        finally:
            if not done:
                self.closed_early.set()


def ready_host(engine: ScriptedEngine) -> ModelHost:
    host = ModelHost("scripted", lambda report: engine)
    host.start().join(10)
    assert host.state == "ready"
    return host


def client_for(host: ModelHost) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(host)), base_url="http://llm"
    )


def sse_payloads(text: str) -> list[str]:
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


ARRAY_REQUEST = {
    "model": "anything",
    "messages": [
        {"role": "system", "content": [{"type": "text", "text": "Write Markdown."}]},
        {"role": "user", "content": [{"type": "text", "text": "Topic: tea"}]},
        {"role": "assistant", "content": None},
        {"role": "user", "content": "Go."},
    ],
}


async def test_streaming_sends_role_deltas_finish_usage_and_done() -> None:
    engine = ScriptedEngine()
    async with client_for(ready_host(engine)) as client:
        body = {**ARRAY_REQUEST, "stream": True, "stream_options": {"include_usage": True}}
        resp = await client.post("/v1/chat/completions", json=body)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    payloads = sse_payloads(resp.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    texts = [c["choices"][0]["delta"].get("content") for c in chunks[1:-2]]
    assert texts == POST
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {c["model"] for c in chunks} == {"scripted"}
    assert len({c["id"] for c in chunks}) == 1
    # The engine saw plain strings: arrays joined, null turned into "".
    assert [m.content for m in engine.requests[0].messages] == [
        "Write Markdown.",
        "Topic: tea",
        "",
        "Go.",
    ]


async def test_without_include_usage_the_stream_has_no_usage_chunk() -> None:
    async with client_for(ready_host(ScriptedEngine())) as client:
        resp = await client.post("/v1/chat/completions", json={**ARRAY_REQUEST, "stream": True})
    chunks = [json.loads(p) for p in sse_payloads(resp.text)[:-1]]
    assert all("usage" not in c for c in chunks)


async def test_a_non_streaming_answer_is_one_chat_completion() -> None:
    async with client_for(ready_host(ScriptedEngine())) as client:
        resp = await client.post("/v1/chat/completions", json=ARRAY_REQUEST)
    assert resp.status_code == 200
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "".join(POST)}
    assert body["usage"]["total_tokens"] == 15


async def test_before_the_model_is_loaded_it_answers_503_and_is_not_ready() -> None:
    gate = threading.Event()
    engine = ScriptedEngine()

    def slow_loader(report: object) -> ScriptedEngine:
        assert gate.wait(10)
        return engine

    host = ModelHost("scripted", slow_loader)
    host.start()
    try:
        async with client_for(host) as client:
            assert (await client.get("/healthz")).status_code == 200
            ready = await client.get("/readyz")
            chat = await client.post("/v1/chat/completions", json=ARRAY_REQUEST)
            models = await client.get("/v1/models")
    finally:
        gate.set()
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    assert chat.status_code == 503
    assert chat.headers["retry-after"] == "2"
    assert chat.json()["error"]["message"] == "local model starting"
    assert models.json()["data"][0]["id"] == "scripted"


async def test_a_failed_load_is_reported_and_stops_the_server() -> None:
    stopped = threading.Event()

    def broken(report: object) -> ScriptedEngine:
        raise RuntimeError("sha256 mismatch")

    host = ModelHost("scripted", broken, on_fatal=stopped.set)
    host.start().join(10)
    assert stopped.is_set()
    async with client_for(host) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert "failed: RuntimeError: sha256 mismatch" in ready.json()["detail"]


async def test_a_prompt_longer_than_the_context_is_a_400_problem() -> None:
    body = {"messages": [{"role": "user", "content": "too long"}], "stream": True}
    async with client_for(ready_host(ScriptedEngine())) as client:
        resp = await client.post("/v1/chat/completions", json=body)
    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/problem+json"
    assert "context window" in resp.json()["error"]["message"]


async def test_image_content_is_a_422_problem_naming_the_part() -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}
    async with client_for(ready_host(ScriptedEngine())) as client:
        resp = await client.post("/v1/chat/completions", json=body)
    assert resp.status_code == 422
    assert "reads text only" in resp.text


async def test_a_crash_mid_stream_ends_the_stream_with_an_error_and_no_done() -> None:
    async with client_for(ready_host(ScriptedEngine(fail_at=2))) as client:
        resp = await client.post("/v1/chat/completions", json={**ARRAY_REQUEST, "stream": True})
    payloads = sse_payloads(resp.text)
    assert "[DONE]" not in payloads
    assert json.loads(payloads[-1])["error"]["message"] == "the model crashed"


async def test_a_consumer_that_goes_away_stops_the_generation() -> None:
    engine = ScriptedEngine()
    engine.release.clear()  # hold the engine after its first delta
    request = ChatRequest.model_validate(ARRAY_REQUEST)
    events = _engine_events(engine, request)
    assert await anext(events) == POST[0]
    await events.aclose()
    engine.release.set()
    assert await asyncio.to_thread(engine.closed_early.wait, 10)


@pytest.mark.parametrize("path", ["/healthz", "/v1/models"])
async def test_health_and_models_answer_while_loading(path: str) -> None:
    host = ModelHost("scripted", lambda report: ScriptedEngine())
    async with client_for(host) as client:
        assert (await client.get(path)).status_code == 200
