"""The delta coalescer: first words at once, then batches, order kept (unit test)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from blogpod.agent.jobs import JobManager, _DeltaStream


class _Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def emit(self, job_id: str, type_: str, data: dict[str, Any]) -> None:
        self.events.append((type_, data))


async def _settle() -> None:
    for _ in range(5):  # let the scheduled emit steps run; no clock involved
        await asyncio.sleep(0)


async def test_the_first_delta_is_sent_at_once_and_the_rest_is_batched() -> None:
    recorder = _Recorder()
    stream = _DeltaStream(cast(JobManager, recorder), "job")
    callbacks = stream.callbacks()
    callbacks.on_delta("Hello")
    await _settle()
    assert recorder.events == [("delta", {"text": "Hello"})]  # before any batching period
    callbacks.on_delta(", ")
    callbacks.on_delta("world")
    await stream.close()  # what came within the period is joined into one event
    assert recorder.events == [("delta", {"text": "Hello"}), ("delta", {"text": ", world"})]


async def test_nothing_written_sends_nothing() -> None:
    recorder = _Recorder()
    stream = _DeltaStream(cast(JobManager, recorder), "job")
    await stream.close()
    assert recorder.events == []
