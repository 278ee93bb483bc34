"""A tiny HTTP server standing in for the agent or the skill server behind nginx.

It records every request it sees (so a test can prove nginx answered something itself) and
streams a large event stream in two halves, the second only after the test says the client
has the first: a proxy that buffers the stream would make the client wait for the end.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Padding of each event: the stream is large (~200 KB), its first part small (one event,
#: well under a proxy buffer), so a buffering proxy would hold that part back.
EVENT_PAD = "x" * 1000


@dataclass
class StreamGate:
    """Hands-off between the upstream's two halves of the stream and the client."""

    client_saw_first: threading.Event = field(default_factory=threading.Event)
    last_part_sent: threading.Event = field(default_factory=threading.Event)
    #: True when the upstream went on because the client had the first part (not a timeout).
    released_by_client: bool | None = None
    wait_seconds: float = 30.0


class FakeUpstream:
    """A threaded HTTP server on 127.0.0.1 that answers JSON and records requests."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests: list[tuple[str, str]] = []
        self.gate = StreamGate()
        self.first_events = 1
        self.last_events = 200
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _record(self) -> None:
                upstream.requests.append((self.command, self.path))

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._record()
                if self.path.endswith("/events"):
                    self._stream()
                    return
                self._json(200, {"upstream": upstream.name, "path": self.path})

            def do_POST(self) -> None:
                self._record()
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self._json(202, {"upstream": upstream.name, "path": self.path})

            def do_DELETE(self) -> None:
                self._record()
                self._json(200, {"upstream": upstream.name, "path": self.path})

            def _send_events(self, start: int, count: int) -> None:
                for i in range(start, start + count):
                    payload = json.dumps({"text": f"{i} {EVENT_PAD}"})
                    self.wfile.write(f"id: {i}\nevent: delta\ndata: {payload}\n\n".encode())
                self.wfile.flush()

            def _stream(self) -> None:
                gate = upstream.gate
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                self._send_events(0, upstream.first_events)
                gate.released_by_client = gate.client_saw_first.wait(gate.wait_seconds)
                self._send_events(upstream.first_events, upstream.last_events)
                self.wfile.write(b'id: 100000\nevent: end\ndata: {"done": true}\n\n')
                self.wfile.flush()
                gate.last_part_sent.set()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeUpstream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.client_saw_first.set()
        self.server.shutdown()
        self.server.server_close()
