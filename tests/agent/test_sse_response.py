"""EventStream closes its events generator however the response ends (unit test, plain ASGI)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import pytest

from blogpod.agent.app import create_app
from blogpod.agent.settings import AgentSettings
from blogpod.agent.sse import Event, EventStream

SCOPE = {"type": "http", "asgi": {"spec_version": "2.3"}}


def _events(closed: list[str]) -> AsyncGenerator[Event, None]:
    async def gen() -> AsyncGenerator[Event, None]:
        try:
            n = 0
            while True:
                n += 1
                yield Event(event="delta", data={"text": "x"}, id=str(n))
        finally:
            closed.append("closed")

    return gen()


async def test_a_client_gone_while_a_send_is_pending_closes_the_generator() -> None:
    """The case FastAPI's own SSE leaves to the garbage collector: the generator is suspended
    at ``yield`` because the send of its last event never completes."""
    closed: list[str] = []
    sent: list[dict[str, Any]] = []
    stuck = asyncio.Event()
    gone = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message.get("body"):
            stuck.set()
            await asyncio.Event().wait()  # a client that stopped reading

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {"type": "http.disconnect"}

    task = asyncio.create_task(EventStream(_events(closed))(SCOPE, receive, send))
    await asyncio.wait_for(stuck.wait(), 5)
    assert closed == []
    gone.set()
    await asyncio.wait_for(task, 5)
    assert closed == ["closed"]
    assert sent[0]["type"] == "http.response.start"
    headers = dict(sent[0]["headers"])
    assert headers[b"content-type"].startswith(b"text/event-stream")
    assert headers[b"x-accel-buffering"] == b"no"


async def test_a_finished_stream_is_encoded_as_sse() -> None:
    async def two() -> AsyncGenerator[Event, None]:
        yield Event(event="status", data={"status": "running"}, id="1")
        yield Event(comment="heartbeat")

    body: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            body.append(message["body"])

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}

    await asyncio.wait_for(EventStream(two())(SCOPE, receive, send), 5)
    assert b"".join(body) == (
        b'event: status\ndata: {"status": "running"}\nid: 1\n\n: heartbeat\n\n'
    )


def test_the_events_route_is_documented_as_an_event_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, folder in [("STATE_DIR", "state"), ("SITE_DIR", "site"), ("SKILLS_SHARED", "sk")]:
        monkeypatch.setenv(f"BLOGPOD_{name}", str(tmp_path / folder))
    monkeypatch.setenv("BLOGPOD_PROVIDER", "local")
    spec = create_app(AgentSettings()).openapi()
    answer = spec["paths"]["/api/v1/jobs/{job_id}/events"]["get"]["responses"]["200"]
    assert list(answer["content"]) == ["text/event-stream"]
