"""The Hugging Face Hub's answers for `catalog.hub`, served by pytest-httpserver.

Three things are asked for, in the Hub's own formats (as huggingface_hub parses them):
`GET /api/models/<repo>[/revision/<rev>]` (model info with safetensors counts, card data, tags
and file sizes), `GET /api/models?author=&search=` (a listing), and `HEAD`/`GET
/<repo>/resolve/<rev>/config.json` (with the X-Repo-Commit and ETag headers `hf_hub_download`
needs). A repository no test added gets the Hub's 404 with `X-Error-Code: RepoNotFound`, a gated
one 403 with `GatedRepo`; `busy` makes a path answer 503 first.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


class FakeHub:
    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.models: dict[str, dict[str, Any]] = {}  # repo id -> model info
        self.configs: dict[str, bytes] = {}  # repo id -> config.json
        self.gated: set[str] = set()
        server.expect_request("/api/models").respond_with_handler(self._listing)
        server.expect_request(re.compile("/api/models/.+")).respond_with_handler(self._info)
        server.expect_request(re.compile("/.+/resolve/.+")).respond_with_handler(self._file)

    @property
    def url(self) -> str:
        return self.server.url_for("/").removesuffix("/")

    @property
    def requests(self) -> list[Request]:
        """What the Hub was asked, oldest first."""
        return [request for request, _ in self.server.log]

    def add(self, repo: str, info: dict[str, Any], config: Any = None) -> None:
        self.models[repo] = {"id": repo, "sha": hashlib.sha1(repo.encode()).hexdigest(), **info}
        if config is not None:
            self.configs[repo] = json.dumps(config).encode()

    def busy(self, path: str, times: int) -> None:
        """`path` answers 503 `times` times before the Hub's usual answer."""
        for _ in range(times):
            self.server.expect_oneshot_request(path).respond_with_data("busy", status=503)

    def _listing(self, request: Request) -> Response:
        author, search = request.args.get("author", ""), request.args.get("search", "").lower()
        found = [
            {"id": repo, "modelId": repo}
            for repo in self.models
            if repo.split("/")[0] == author and search in repo.lower()
        ]
        return Response(json.dumps(found), content_type="application/json")

    def _info(self, request: Request) -> Response:
        repo = request.path.removeprefix("/api/models/").split("/revision/")[0]
        if repo in self.gated:
            return Response('{"error": "gated"}', 403, {"X-Error-Code": "GatedRepo"})
        if repo not in self.models:
            return Response('{"error": "not found"}', 404, {"X-Error-Code": "RepoNotFound"})
        return Response(json.dumps(self.models[repo]), content_type="application/json")

    def _file(self, request: Request) -> Response:
        repo, rest = request.path.lstrip("/").split("/resolve/", 1)
        if repo not in self.configs or not rest.endswith("/config.json"):
            return Response("not found", 404, {"X-Error-Code": "EntryNotFound"})
        body = self.configs[repo]
        headers = {
            "ETag": f'"{hashlib.sha1(body).hexdigest()}"',
            "X-Repo-Commit": self.models[repo]["sha"],
        }
        return Response(body, headers=headers, content_type="application/json")
