"""A local HTTP server that answers as the Hugging Face Hub does, for the importer's tests.

It serves the three things `catalog.hub` asks for, in the Hub's own formats (as huggingface_hub
parses them): `GET /api/models/<repo>[/revision/<rev>]` (model info with safetensors counts,
card data, tags and file sizes), `GET /api/models?author=&search=` (a listing), and
`HEAD`/`GET /<repo>/resolve/<rev>/config.json` (with the X-Repo-Commit and ETag headers
`hf_hub_download` needs). Unknown repositories get the Hub's 404 with `X-Error-Code:
RepoNotFound`, gated ones 403 with `GatedRepo`; `failures` makes a path answer 503 first.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


class HubServer:
    def __init__(self) -> None:
        self.models: dict[str, dict[str, Any]] = {}  # repo id -> model info
        self.configs: dict[str, dict[str, Any]] = {}  # repo id -> config.json
        self.gated: set[str] = set()
        self.failures: dict[str, int] = {}  # path -> 503 answers before a good one
        self.paths: list[str] = []
        self.headers_seen: list[dict[str, str]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, repo: str, info: dict[str, Any], config: dict[str, Any] | None = None) -> None:
        self.models[repo] = {"id": repo, "sha": hashlib.sha1(repo.encode()).hexdigest(), **info}
        if config is not None:
            self.configs[repo] = config

    def _answer(self, method: str, raw: str) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(raw)
        path, query = parts.path, parse_qs(parts.query)
        if self.failures.get(path, 0) > 0:
            self.failures[path] -= 1
            return 503, {}, b"busy"
        if path == "/api/models":
            author, search = query.get("author", [""])[0], query.get("search", [""])[0].lower()
            found = [
                {"id": r, "modelId": r}
                for r in self.models
                if r.split("/")[0] == author and search in r.lower()
            ]
            return 200, {"Content-Type": "application/json"}, json.dumps(found).encode()
        if path.startswith("/api/models/"):
            repo = path.removeprefix("/api/models/").split("/revision/")[0]
            if repo in self.gated:
                return 403, {"X-Error-Code": "GatedRepo"}, b'{"error": "gated"}'
            if repo not in self.models:
                return 404, {"X-Error-Code": "RepoNotFound"}, b'{"error": "not found"}'
            body = json.dumps(self.models[repo]).encode()
            return 200, {"Content-Type": "application/json"}, body
        if "/resolve/" in path:
            repo, rest = path.lstrip("/").split("/resolve/", 1)
            if repo not in self.configs or not rest.endswith("/config.json"):
                return 404, {"X-Error-Code": "EntryNotFound"}, b"not found"
            body = json.dumps(self.configs[repo]).encode()
            etag = hashlib.sha1(body).hexdigest()
            headers = {
                "Content-Type": "application/json",
                "ETag": f'"{etag}"',
                "X-Repo-Commit": self.models[repo]["sha"],
                "Content-Length": str(len(body)),
            }
            return 200, headers, body
        return 404, {}, b"no such path"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                server.paths.append(f"{method} {self.path}")
                server.headers_seen.append({k.lower(): v for k, v in self.headers.items()})
                status, headers, body = server._answer(method, self.path)
                self.send_response(status)
                headers.setdefault("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_HEAD(self) -> None:
                self._serve("HEAD")

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def hub_server(settings: Any) -> Iterator[HubServer]:
    with HubServer() as server:
        settings.HF_ENDPOINT = server.url
        settings.HF_TOKEN = ""
        yield server
