"""A Server-Sent Events response that always closes its event stream when it ends.

FastAPI's generator endpoints for SSE pull events in a producer task; when a client hangs up
while a send is pending, the generator stays suspended at its ``yield`` and its ``finally``
(our stream gauge, the job subscription) waits for the garbage collector, which may never
come. This response owns its iterator and closes it as soon as the response is over, however
it ended: finished, client gone, or server shutting down.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from fastapi.sse import format_sse_event
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


@dataclass(frozen=True)
class Event:
    """One event on the wire: a named JSON event with an id, or a comment (heartbeat)."""

    event: str | None = None
    data: dict[str, Any] | None = None
    id: str | None = None
    comment: str | None = None

    def encode(self) -> bytes:
        data = None if self.data is None else json.dumps(self.data)
        return format_sse_event(data_str=data, event=self.event, id=self.id, comment=self.comment)


async def _encoded(events: AsyncGenerator[Event, None]) -> AsyncGenerator[bytes, None]:
    async with aclosing(events):
        async for event in events:
            yield event.encode()


class EventStream(StreamingResponse):
    """``text/event-stream``, unbuffered through proxies, closed deterministically."""

    media_type = "text/event-stream"

    def __init__(self, events: AsyncGenerator[Event, None]) -> None:
        self._stream = _encoded(events)
        super().__init__(
            self._stream, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._stream.aclose()
