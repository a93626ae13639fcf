"""A real local HTTP server that plays a provider's API from scripted replies, for client tests.

    from tests.cloudprices import httpserver

    provider_server = httpserver.provider_server  # the fixture (an import would trip ruff F811)

    def test_something(provider_server):
        provider_server.reply("/graphql", json={"data": {"gpuTypes": []}})
        runpod.fetch(base_url=provider_server.url + "/graphql")
        assert provider_server.requests[0].json == {"query": runpod.QUERY}

`from tests.cloudprices.httpserver import provider_server  # noqa: F401` works as well, but ruff
then reports F811 at every test that takes the fixture as a parameter.

Replies queue per path and are used once each, in order; a request with no reply left gets 404.
"""

from __future__ import annotations

import json as jsonlib
import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass(frozen=True)
class Reply:
    """One scripted response."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering, to make clients time out


@dataclass(frozen=True)
class Request:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]  # decoded: "?%24skip=100" is {"$skip": ["100"]}
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def json(self) -> Any:
        """The body decoded as JSON, or None when it is empty."""
        return jsonlib.loads(self.body) if self.body else None


class ProviderServer:
    """A ThreadingHTTPServer on 127.0.0.1 with an ephemeral port, answering from a script."""

    def __init__(self) -> None:
        self._replies: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[Request] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        # A short poll interval keeps shutdown (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        """The server's base URL, e.g. http://127.0.0.1:54321 (no trailing slash)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def reply(
        self,
        path: str,
        *,
        status: int = 200,
        json: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        """Queue a response for `path` (no query string), `times` times over."""
        all_headers = dict(headers or {})
        if body is None:
            body = jsonlib.dumps(json).encode() if json is not None else b""
            all_headers.setdefault("Content-Type", "application/json")
        with self._lock:
            for _ in range(times):
                self._replies[path].append(Reply(status, body, all_headers, delay))

    def requests_to(self, path: str) -> list[Request]:
        """The requests received for `path`, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Wake any delayed replies, stop serving and close the socket."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _next_reply(self, request: Request) -> Reply:
        """Record `request` and take its path's next scripted reply (404 when none is left)."""
        with self._lock:
            self.requests.append(request)
            queue = self._replies.get(request.path)
            if queue:
                return queue.popleft()
        body = jsonlib.dumps({"error": f"no reply scripted for {request.path}"}).encode()
        return Reply(404, body, {"Content-Type": "application/json"})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        """A request handler class bound to this server's script."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                reply = server._next_reply(request)
                if reply.delay and server._stopping.wait(reply.delay):
                    return  # the server is stopping; the client has long given up
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # a client that timed out closed the connection first

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler


@pytest.fixture
def provider_server() -> Iterator[ProviderServer]:
    """A running ProviderServer, stopped after the test."""
    server = ProviderServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
