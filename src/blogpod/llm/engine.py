"""The model itself: llama.cpp (through llama-cpp-python) behind a small, thread-safe surface.

The HTTP layer only sees :class:`ChatEngine`: a stream of text deltas ending with a
:class:`Finish`. That keeps llama_cpp out of the request handling (and out of its unit tests).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from blogpod.llm.schema import ChatRequest

log = logging.getLogger("blogpod.llm")

#: Sampling defaults when a request says nothing (llama-cpp-python's own defaults).
DEFAULT_TEMPERATURE = 0.2
DEFAULT_TOP_P = 0.95


class EngineError(Exception):
    """A request the model cannot serve (e.g. a prompt longer than the context window)."""


@dataclass(frozen=True)
class Finish:
    """The end of one answer: why it stopped and how many tokens it used."""

    reason: str
    prompt_tokens: int
    completion_tokens: int


class ChatEngine(Protocol):
    model_name: str

    def stream(self, request: ChatRequest) -> Generator[str | Finish, None, None]:
        """Text deltas, then exactly one Finish. Closing the iterator stops generation."""
        ...


class LlamaEngine:
    """One llama.cpp model; one generation at a time (a lock), the model's own chat template."""

    def __init__(
        self,
        model_path: Path,
        *,
        model_name: str,
        n_ctx: int,
        n_threads: int,
        max_tokens: int,
    ) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.model_name = model_name
        self.max_tokens = max_tokens
        self._lock = threading.Lock()
        self._llama = Llama(
            model_path=str(model_path),
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            verbose=False,
        )
        eos_id = self._llama.token_eos()
        bos_id = self._llama.token_bos()
        self._formatter = Jinja2ChatFormatter(
            template=self._llama.metadata["tokenizer.chat_template"],
            eos_token=self._token_text(eos_id),
            bos_token=self._token_text(bos_id),
            stop_token_ids=[eos_id],
        )

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        raw: bytes = self._llama.detokenize([token], special=True)
        return raw.decode("utf-8", errors="ignore")

    def render(self, request: ChatRequest) -> tuple[list[int], list[str]]:
        """The messages rendered by the model's own chat template: prompt tokens, stop strings."""
        messages: list[Any] = [m.for_template() for m in request.messages]
        formatted = self._formatter(messages=messages)
        tokens: list[int] = self._llama.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )
        template_stop = formatted.stop or []
        stops = [template_stop] if isinstance(template_stop, str) else list(template_stop)
        return tokens, request.stop_list + stops

    def _budget(self, prompt_len: int, requested: int | None) -> int:
        n_ctx: int = self._llama.n_ctx()
        room = n_ctx - prompt_len
        if room < 16:
            raise EngineError(
                f"the prompt has {prompt_len} tokens; the local model's context window is "
                f"{n_ctx} (BLOGPOD_LLM_N_CTX): shorten the prompt"
            )
        return min(requested or self.max_tokens, self.max_tokens, room)

    def stream(self, request: ChatRequest) -> Generator[str | Finish, None, None]:
        with self._lock:
            started = time.monotonic()
            first_token_at: float | None = None
            prompt, stop = self.render(request)
            max_tokens = self._budget(len(prompt), request.requested_max_tokens)
            chunks = cast(
                "Iterator[Any]",
                self._llama.create_completion(
                    prompt,
                    stream=True,
                    max_tokens=max_tokens,
                    temperature=(
                        DEFAULT_TEMPERATURE if request.temperature is None else request.temperature
                    ),
                    top_p=DEFAULT_TOP_P if request.top_p is None else request.top_p,
                    stop=stop,
                    seed=request.seed,
                ),
            )
            text: list[str] = []
            reason = "stop"
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    if choice["text"]:
                        if first_token_at is None:
                            first_token_at = time.monotonic()
                        text.append(choice["text"])
                        yield choice["text"]
                    if choice.get("finish_reason"):
                        reason = choice["finish_reason"]
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            # The stream does not report its token count: count the answer's tokens again.
            completion = self._llama.tokenize(
                "".join(text).encode("utf-8"), add_bos=False, special=True
            )
            finish = Finish(reason, len(prompt), len(completion))
            _log_timings(finish, started, first_token_at)
            yield finish


def _log_timings(finish: Finish, started: float, first_token_at: float | None) -> None:
    """One line per answer: what a slow post spent its time on (reading vs writing)."""
    ended = time.monotonic()
    first = first_token_at or ended
    decode_s = ended - first
    log.info(
        "answered: %d prompt tokens read in %.1f s, %d tokens written at %.1f tokens/s (%s)",
        finish.prompt_tokens,
        first - started,
        finish.completion_tokens,
        (finish.completion_tokens - 1) / decode_s if decode_s > 0 else 0.0,
        finish.reason,
        extra={
            "prompt_tokens": finish.prompt_tokens,
            "completion_tokens": finish.completion_tokens,
            "first_token_s": round(first - started, 3),
            "decode_s": round(decode_s, 3),
            "finish_reason": finish.reason,
        },
    )


def load_engine(
    model_path: Path, *, model_name: str, n_ctx: int, n_threads: int, max_tokens: int
) -> LlamaEngine:
    """Load the model (seconds: mmap of ~1.1 GB plus warm-up of the context)."""
    return LlamaEngine(
        model_path, model_name=model_name, n_ctx=n_ctx, n_threads=n_threads, max_tokens=max_tokens
    )
