"""`blogpod serve llm`: an OpenAI-compatible chat endpoint around the embedded model.

A thin FastAPI app of our own rather than `llama_cpp.server`: it answers `/healthz` at once
and `/readyz` only once the weights are verified and loaded, it normalises the request shapes
the stock server rejects with a 500 (see :mod:`blogpod.llm.schema`), it reports token usage
in streams, and a client that hangs up stops the generation.

Endpoints: `POST /v1/chat/completions` (JSON or SSE), `GET /v1/models`, `/healthz`, `/readyz`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse

from blogpod.config import load_settings
from blogpod.llm.engine import ChatEngine, EngineError, Finish
from blogpod.llm.schema import ChatRequest
from blogpod.llm.settings import LlmSettings
from blogpod.logs import configure_logging
from blogpod.problems import Problem, install_problem_handlers

log = logging.getLogger("blogpod.llm")

_DONE = object()


class ModelHost:
    """Owns the engine's life: prepare weights and load in the background, then serve.

    ``loader`` is called once in a thread; a failure is fatal (``on_fatal`` stops the server)
    because waiting cannot fix refused weights or a missing runtime.
    """

    def __init__(
        self,
        model_name: str,
        loader: Callable[[Callable[[str], None]], ChatEngine],
        on_fatal: Callable[[], None] = lambda: None,
    ) -> None:
        self.model_name = model_name
        self.state = "starting"
        self.error: str | None = None
        self.engine: ChatEngine | None = None
        self._loader = loader
        self._on_fatal = on_fatal

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._load, name="llm-loader", daemon=True)
        thread.start()
        return thread

    def _set_state(self, state: str) -> None:
        self.state = state
        log.info("local model: %s", state)

    def _load(self) -> None:
        started = time.monotonic()
        try:
            self.engine = self._loader(self._set_state)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            self.state = "failed"
            log.error("local model failed to start: %s", self.error)
            self._on_fatal()
            return
        self._set_state("ready")
        log.info("local model ready in %.1f s", time.monotonic() - started)

    def require_engine(self) -> ChatEngine:
        if self.engine is None:
            raise Problem(
                503,
                "Model Not Ready",
                f"the local model is {self.state}" + (f": {self.error}" if self.error else ""),
                kind="model-not-ready",
                headers={"Retry-After": "2"},
                error={"message": f"local model {self.state}", "type": "server_error"},
            )
        return self.engine


async def _engine_events(engine: ChatEngine, request: ChatRequest) -> AsyncIterator[str | Finish]:
    """Run one generation in its own thread and hand its events to the event loop.

    When the consumer stops (the client hung up, the task was cancelled), the thread is told
    to stop at the next token and closes the model's iterator itself, on its own thread.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def produce() -> None:
        item: Any = _DONE
        try:
            with closing(engine.stream(request)) as events:
                for event in events:
                    if stop.is_set():
                        return
                    loop.call_soon_threadsafe(queue.put_nowait, event)
        except BaseException as exc:
            item = exc
        finally:
            if not stop.is_set():
                loop.call_soon_threadsafe(queue.put_nowait, item)

    threading.Thread(target=produce, name="llm-generate", daemon=True).start()
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _chunk(completion_id: str, created: int, model: str, **fields: Any) -> str:
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        **fields,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _usage(finish: Finish) -> dict[str, int]:
    return {
        "prompt_tokens": finish.prompt_tokens,
        "completion_tokens": finish.completion_tokens,
        "total_tokens": finish.prompt_tokens + finish.completion_tokens,
    }


def _engine_problem(exc: EngineError) -> Problem:
    return Problem(
        400,
        "Request Too Large",
        str(exc),
        kind="context-too-long",
        error={"message": str(exc), "type": "invalid_request_error"},
    )


async def _sse(
    events: AsyncIterator[str | Finish], first: str | Finish, request: ChatRequest, model: str
) -> AsyncIterator[str]:
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    role = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
    yield _chunk(completion_id, created, model, choices=[role])

    async def all_events() -> AsyncIterator[str | Finish]:
        yield first
        async for event in events:
            yield event

    try:
        async for event in all_events():
            if isinstance(event, Finish):
                done = {"index": 0, "delta": {}, "finish_reason": event.reason}
                yield _chunk(completion_id, created, model, choices=[done])
                if request.include_usage:
                    yield _chunk(completion_id, created, model, choices=[], usage=_usage(event))
            else:
                delta = {"index": 0, "delta": {"content": event}, "finish_reason": None}
                yield _chunk(completion_id, created, model, choices=[delta])
    except Exception as exc:
        # Headers are gone: say it in the stream and end it without [DONE] so the client retries.
        log.exception("generation failed mid-stream")
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'server_error'}})}\n\n"
        return
    yield "data: [DONE]\n\n"


async def _complete(events: AsyncIterator[str | Finish], model: str) -> dict[str, Any]:
    text: list[str] = []
    finish = Finish("stop", 0, 0)
    async for event in events:
        if isinstance(event, Finish):
            finish = event
        else:
            text.append(event)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(text)},
                "finish_reason": finish.reason,
            }
        ],
        "usage": _usage(finish),
    }


def create_app(host: ModelHost) -> FastAPI:
    """The HTTP app around ``host``; the lifespan starts loading the model."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        host.start()
        yield

    app = FastAPI(title="blogpod local model", version="1", lifespan=lifespan)
    install_problem_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "model_state": host.state}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        host.require_engine()
        return {"status": "ready", "model": host.model_name}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        card = {"id": host.model_name, "object": "model", "created": 0, "owned_by": "blogpod"}
        return {"object": "list", "data": [card]}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(body: ChatRequest) -> JSONResponse | StreamingResponse:
        engine = host.require_engine()
        events = _engine_events(engine, body)
        try:
            # The first event comes after the prompt is read: errors still get a status code.
            first = await anext(events)
        except EngineError as exc:
            raise _engine_problem(exc) from exc
        log.debug(
            "request: %d tool(s) ignored, messages %s",
            len(body.tools or []),
            [(m.role, len(m.content)) for m in body.messages],
        )
        if body.stream:
            return StreamingResponse(
                _sse(events, first, body, engine.model_name),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )

        async def replay() -> AsyncIterator[str | Finish]:
            yield first
            async for event in events:
                yield event

        return JSONResponse(await _complete(replay(), engine.model_name))

    return app


def _real_loader(settings: LlmSettings) -> Callable[[Callable[[str], None]], ChatEngine]:
    def load(report: Callable[[str], None]) -> ChatEngine:
        from blogpod.llm.engine import load_engine
        from blogpod.llm.weights import ensure_model

        report("checking weights")
        model_path = ensure_model(settings.model_path, settings.parts_dir, progress=report)
        report(f"loading {model_path.name} ({settings.n_threads} threads)")
        return load_engine(
            model_path,
            model_name=settings.llm_model_name,
            n_ctx=settings.llm_n_ctx,
            n_threads=settings.n_threads,
            max_tokens=settings.llm_max_tokens,
        )

    return load


def run() -> int:
    """Serve until stopped; exit 1 if the model cannot be prepared or loaded."""
    settings = load_settings(LlmSettings)
    configure_logging("llm", settings.log_level, settings.log_format)
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        log.error(
            "the local model runtime is not installed: run `make setup` (it compiles "
            "llama-cpp-python, the `local` extra), or use a remote provider instead: "
            "BLOGPOD_PROVIDER=copilot with COPILOT_GITHUB_TOKEN, or BLOGPOD_PROVIDER=openai "
            "with BLOGPOD_PROVIDER_BASE_URL, BLOGPOD_PROVIDER_API_KEY and BLOGPOD_MODEL"
        )
        return 1

    def stop() -> None:
        server.should_exit = True

    host = ModelHost(settings.llm_model_name, _real_loader(settings), on_fatal=stop)
    config = uvicorn.Config(
        create_app(host),
        host=settings.bind,
        port=settings.llm_port,
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    server.run()
    return 1 if host.state == "failed" else 0
