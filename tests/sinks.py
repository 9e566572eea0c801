"""Loopback HTTP servers for tests: any handler (:func:`serving`), and a sink that records what it
is sent and answers from a script (:func:`recording_sink`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Sink:
    url: str
    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # statuses to answer in turn; then 200
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout):
                raise TimeoutError(f"expected {count} requests, got {len(self.received)}")
            return list(self.received)


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """``handler`` served on a free loopback port from a background thread, until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def recording_sink() -> Iterator[Sink]:
    sink = Sink(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with sink.arrived:
                sink.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                status = sink.answers.pop(0) if sink.answers else 200
                sink.arrived.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as server:
        sink.url = f"http://127.0.0.1:{server.server_address[1]}/"
        yield sink
