"""A scripted OpenAI-compatible chat server for tests and benchmarks.

Real HTTP, real SSE: the Copilot CLI (BYOK ``type=openai``, ``wire_api=completions``) talks
to it exactly as it would talk to OpenAI, Ollama or vLLM, so tests exercise the real SDK and
the real CLI without any network.

Endpoints
---------
``POST /v1/chat/completions``
    Streaming (``"stream": true``: SSE ``data:`` chunks carrying ``choices[0].delta.content``,
    a final chunk with ``finish_reason: "stop"``, a usage chunk when
    ``stream_options.include_usage`` is true, then ``data: [DONE]``) or not (one
    ``chat.completion`` object). The reply is a well-formed Markdown blog post about the topic
    found in the last user message (a ``Topic: ...`` line, else its first line), so posts of
    different jobs can be told apart: the ``# `` title contains the topic.
``GET /v1/models``
    One model, for clients that list models.

Pace (defaults are fast, for tests; the benchmark uses 300 ms / 50 tok/s / 600 tokens):
``first_token_ms`` (delay before the first chunk), ``tokens_per_s`` (0 = as fast as possible),
``tokens`` (number of content chunks in a reply).

Script: a queue of behaviours consumed one per chat request (when empty, ``ok``). Each is a
dict ``{"kind": ..., "times": 1, ...}``:

- ``ok``: a normal reply; optional ``reply`` (exact Markdown to send instead of the generated
  post), ``tokens``.
- ``http500`` / ``http400``: an OpenAI-style JSON error with that status (``status`` overrides).
- ``hang``: never answers (no headers, no bytes) until the client goes away.
- ``drop``: streams ``after`` content chunks (default: half), then closes the stream without a
  ``finish_reason`` or ``[DONE]``.
- ``slow``: like ``ok`` with its own ``first_token_ms`` / ``tokens_per_s``.

``times`` repeats a behaviour for that many requests (e.g. the CLI retries a 500 five times).
A refused connection needs no script: point the client at a ``free_port()`` nobody listens on.

Every chat request is recorded (path, JSON body, whether an API key was sent, the behaviour
used) and can be read back.

Use in-process (uvicorn in a thread on 127.0.0.1, free port)::

    with ScriptedProvider.running(tokens=40) as provider:
        provider.script({"kind": "http500", "times": 6}, {"kind": "ok"})
        ...  # point the client at provider.base_url  (http://127.0.0.1:PORT/v1)
        provider.requests()

or as a process, scripted over its control API (used by the Pod under Podman and the
benchmark)::

    python -m tests.support.scripted_provider --port N [--first-token-ms 300]
        [--tokens-per-s 50] [--tokens 600] [--model NAME]

    POST /_control/script   {"script": [{"kind": "drop"}, ...]}   append behaviours
    POST /_control/pace     {"first_token_ms": .., "tokens_per_s": .., "tokens": ..}
    GET  /_control/requests recorded chat requests
    POST /_control/reset    clear script and records (pace back to the start values)
    GET  /_control/health   {"status": "ok"}

:class:`ProviderControl` is a small httpx client of that control API.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

KINDS = frozenset({"ok", "http500", "http400", "hang", "drop", "slow"})
#: Upper bound of a ``hang`` so no test can leave a request behind forever.
MAX_HANG_S = 3600.0
DEFAULT_MODEL = "scripted-model"


@dataclass
class Pace:
    first_token_ms: float = 0.0
    tokens_per_s: float = 0.0  # 0 = as fast as possible
    tokens: int = 80


@dataclass
class RecordedRequest:
    path: str
    body: dict[str, Any]
    has_api_key: bool
    behaviour: dict[str, Any]
    received_at: float = field(default_factory=time.time)


def _check_behaviour(raw: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, dict) or raw.get("kind") not in KINDS:
        raise ValueError(f"a behaviour needs 'kind' in {sorted(KINDS)}, got {raw!r}")
    times = raw.get("times", 1)
    if not isinstance(times, int) or times < 1:
        raise ValueError(f"'times' must be a positive integer, got {times!r}")
    return dict(raw)


class ScriptState:
    """Thread-safe queue of behaviours, pace and records shared by the server and its owner."""

    def __init__(self, pace: Pace, model: str = DEFAULT_MODEL) -> None:
        self._lock = threading.Lock()
        self._initial_pace = copy.copy(pace)
        self.pace = copy.copy(pace)
        self.model = model
        self._queue: deque[dict[str, Any]] = deque()
        self._records: list[RecordedRequest] = []

    def push(self, *behaviours: dict[str, Any]) -> None:
        checked = [_check_behaviour(b) for b in behaviours]
        with self._lock:
            self._queue.extend(checked)

    def next_behaviour(self) -> dict[str, Any]:
        with self._lock:
            if not self._queue:
                return {"kind": "ok"}
            head = self._queue[0]
            left = int(head.get("times", 1)) - 1
            if left <= 0:
                self._queue.popleft()
            else:
                head["times"] = left
            return {k: v for k, v in head.items() if k != "times"}

    def record(self, rec: RecordedRequest) -> None:
        with self._lock:
            self._records.append(rec)

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self._records]

    def set_pace(self, **values: Any) -> None:
        with self._lock:
            for key in ("first_token_ms", "tokens_per_s", "tokens"):
                if values.get(key) is not None:
                    setattr(self.pace, key, type(getattr(self.pace, key))(values[key]))

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._records.clear()
            self.pace = copy.copy(self._initial_pace)


# --- the reply -------------------------------------------------------------------------------

_DATETIME = re.compile(r"<current_datetime>.*?</current_datetime>", re.DOTALL)
_TOPIC_LINE = re.compile(r"^\s*topic\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_PROSE = (
    "practical notes on building systems that stay simple while they grow, with small "
    "steps, honest measurements and clear names for every moving part of the design"
)
_WORDS = _PROSE.split(" ")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def topic_of(body: dict[str, Any]) -> str:
    """The topic of a chat request: the ``Topic:`` line of the last user message."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    text = _DATETIME.sub("", _text_of(users[-1].get("content")) if users else "").strip()
    match = _TOPIC_LINE.search(text)
    line = match.group(1) if match else (text.splitlines() or ["an untitled topic"])[0]
    return line.strip()[:120] or "an untitled topic"


def post_tokens(topic: str, count: int) -> list[str]:
    """A Markdown post split into ``count`` chunks (at least the title and a paragraph)."""
    head = [f"# {topic}: a field guide\n\n", f"A short look at {topic}, ", "in plain words.\n\n"]
    tokens = list(head)
    section = 0
    while len(tokens) < count:
        if (len(tokens) - len(head)) % 40 == 0:
            section += 1
            tokens.append(f"\n\n## Part {section}\n\n")
            continue
        word = _WORDS[len(tokens) % len(_WORDS)]
        tokens.append(word + ("." if len(tokens) % 12 == 0 else "") + " ")
    tokens.append("\n")
    return tokens


def split_reply(reply: str, count: int) -> list[str]:
    """Split an exact reply into about ``count`` chunks without changing its text."""
    if not reply:
        return [""]
    size = max(1, -(-len(reply) // max(1, count)))
    return [reply[i : i + size] for i in range(0, len(reply), size)]


def _prompt_tokens(body: dict[str, Any]) -> int:
    return sum(len(_text_of(m.get("content")).split()) for m in body.get("messages", []))


# --- the server ------------------------------------------------------------------------------


def _error(status: int, message: str) -> JSONResponse:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": None, "param": None}},
        status_code=status,
    )


async def _wait_for_disconnect(request: Request, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.05)


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    obj = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


class _Reply:
    """One planned answer: chunks and the pace to send them at."""

    def __init__(self, state: ScriptState, body: dict[str, Any], behaviour: dict[str, Any]):
        pace = state.pace
        self.first_token_s = float(behaviour.get("first_token_ms", pace.first_token_ms)) / 1000
        tps = float(behaviour.get("tokens_per_s", pace.tokens_per_s))
        self.gap_s = 1.0 / tps if tps > 0 else 0.0
        count = int(behaviour.get("tokens", pace.tokens))
        if isinstance(behaviour.get("reply"), str):
            self.tokens = split_reply(behaviour["reply"], count)
        else:
            self.tokens = post_tokens(topic_of(body), count)
        self.model = str(body.get("model") or state.model)
        self.usage = {
            "prompt_tokens": _prompt_tokens(body),
            "completion_tokens": len(self.tokens),
            "total_tokens": _prompt_tokens(body) + len(self.tokens),
        }

    @property
    def text(self) -> str:
        return "".join(self.tokens)


async def _stream(
    reply: _Reply, include_usage: bool, drop_after: int | None
) -> AsyncIterator[bytes]:
    cid = "chatcmpl-" + uuid.uuid4().hex[:12]
    await asyncio.sleep(reply.first_token_s)
    yield _chunk(cid, reply.model, {"role": "assistant", "content": ""})
    for i, token in enumerate(reply.tokens):
        if drop_after is not None and i >= drop_after:
            return  # the connection ends without finish_reason or [DONE]
        if i and reply.gap_s:
            await asyncio.sleep(reply.gap_s)
        yield _chunk(cid, reply.model, {"content": token})
    yield _chunk(cid, reply.model, {}, "stop")
    if include_usage:
        usage = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": reply.model,
            "choices": [],
            "usage": reply.usage,
        }
        yield b"data: " + json.dumps(usage).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


def build_app(state: ScriptState) -> Starlette:
    """The Starlette app serving ``state``; exposed for callers that host it themselves."""

    async def chat(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the request body is not JSON")
        behaviour = state.next_behaviour()
        auth = request.headers.get("authorization", "") or request.headers.get("api-key", "")
        state.record(RecordedRequest(request.url.path, body, bool(auth.strip()), behaviour))
        kind = behaviour["kind"]
        if kind == "http500":
            return _error(int(behaviour.get("status", 500)), "scripted internal error")
        if kind == "http400":
            return _error(int(behaviour.get("status", 400)), "scripted bad request")
        if kind == "hang":
            await _wait_for_disconnect(request, float(behaviour.get("limit_s", MAX_HANG_S)))
            return Response(status_code=499)
        reply = _Reply(state, body, behaviour)
        if body.get("stream"):
            drop_after = None
            if kind == "drop":
                drop_after = int(behaviour.get("after", max(1, len(reply.tokens) // 2)))
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                _stream(reply, include_usage, drop_after), media_type="text/event-stream"
            )
        if kind == "drop":
            return Response(b'{"id": "chatcmpl-cut", "choi', media_type="application/json")
        await asyncio.sleep(reply.first_token_s + reply.gap_s * len(reply.tokens))
        return JSONResponse(
            {
                "id": "chatcmpl-" + uuid.uuid4().hex[:12],
                "object": "chat.completion",
                "created": int(time.time()),
                "model": reply.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": reply.usage,
            }
        )

    async def models(request: Request) -> Response:
        return JSONResponse(
            {"object": "list", "data": [{"id": state.model, "object": "model", "owned_by": "t"}]}
        )

    async def control_script(request: Request) -> Response:
        try:
            payload = await request.json()
            items = payload["script"] if isinstance(payload, dict) else payload
            state.push(*items)
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, f"bad script: {exc}")
        return JSONResponse({"queued": len(items)})

    async def control_pace(request: Request) -> Response:
        try:
            state.set_pace(**(await request.json()))
        except (ValueError, TypeError) as exc:
            return _error(400, f"bad pace: {exc}")
        return JSONResponse(asdict(state.pace))

    async def control_requests(request: Request) -> Response:
        return JSONResponse(state.records())

    async def control_reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"status": "reset"})

    async def control_health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "pace": asdict(state.pace)})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/chat/completions", chat, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/_control/script", control_script, methods=["POST"]),
            Route("/_control/pace", control_pace, methods=["POST"]),
            Route("/_control/requests", control_requests, methods=["GET"]),
            Route("/_control/reset", control_reset, methods=["POST"]),
            Route("/_control/health", control_health, methods=["GET"]),
        ]
    )


class ScriptedProvider:
    """The server running in a background thread of this process."""

    def __init__(self, state: ScriptState, server: uvicorn.Server, port: int) -> None:
        self.state = state
        self.server = server
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as base URL (``.../v1``)."""
        return self.url + "/v1"

    def script(self, *behaviours: dict[str, Any]) -> None:
        self.state.push(*behaviours)

    def set_pace(self, **values: Any) -> None:
        self.state.set_pace(**values)

    def requests(self) -> list[dict[str, Any]]:
        return self.state.records()

    def reset(self) -> None:
        self.state.reset()

    @classmethod
    @contextlib.contextmanager
    def running(
        cls,
        first_token_ms: float = 0.0,
        tokens_per_s: float = 0.0,
        tokens: int = 80,
        model: str = DEFAULT_MODEL,
    ) -> Iterator[ScriptedProvider]:
        state = ScriptState(Pace(first_token_ms, tokens_per_s, tokens), model)
        config = uvicorn.Config(
            build_app(state),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="scripted-provider", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the scripted provider did not start")
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield cls(state, server, int(port))
        finally:
            server.should_exit = True
            thread.join(10)


class ProviderControl:
    """Client of the control API of a scripted provider running as another process."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/").removesuffix("/v1")

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def script(self, *behaviours: dict[str, Any]) -> None:
        resp = httpx.post(self.url + "/_control/script", json={"script": list(behaviours)})
        resp.raise_for_status()

    def set_pace(self, **values: Any) -> None:
        httpx.post(self.url + "/_control/pace", json=values).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        resp = httpx.get(self.url + "/_control/requests")
        resp.raise_for_status()
        result: list[dict[str, Any]] = resp.json()
        return result

    def reset(self) -> None:
        httpx.post(self.url + "/_control/reset").raise_for_status()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scripted OpenAI-compatible chat server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--first-token-ms", type=float, default=0.0)
    parser.add_argument("--tokens-per-s", type=float, default=0.0)
    parser.add_argument("--tokens", type=int, default=80)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args(argv)
    state = ScriptState(Pace(args.first_token_ms, args.tokens_per_s, args.tokens), args.model)
    uvicorn.run(
        build_app(state),
        host=args.host,
        port=args.port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
