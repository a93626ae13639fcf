"""Degrade, don't die: the site under gunicorn (2 workers, DEBUG off) on its own PostgreSQL and
Redis, which the tests stop and start for real.

Redis down: every page, a benchmark submission and a pasted estimate answer normally and fast
(the cache is an optimisation; limits are counted per process), /readyz is 200 "degraded";
Redis back: the cache is used again without a restart. PostgreSQL down: the styled 503 page
(JSON under /api/) with Retry-After, /healthz 200, /readyz 503 naming no host; PostgreSQL back
or restarted: pages are 200 again by themselves.

The tests run in file order on one stack (module fixture) and print each request's time.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from config.errors import DATABASE_DOWN
from tests.config.services import (
    PostgresCluster,
    RedisServer,
    free_port,
    have_postgres,
    have_redis,
    wait_for_port,
)
from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    "/",
    "/models/llama-3-1-8b-instruct/",
    "/models/llama-3-1-8b-instruct/?ctx=16384&gpu=rtx-4090",
    "/hardware/rtx-4090/",
    "/gpus/prices/",
    "/estimate/",
    "/api/v1/models/llama-3-1-8b-instruct/",
]
SUBMISSION = {
    "model": "llama-3-1-8b-instruct", "quant": "Q4_K_M", "hardware": "rtx-4090",
    "hardware_count": 1, "runtime": "llama.cpp", "runtime_version": "b6123", "backend": "cuda",
    "context": 128, "depth": 0, "batch": 1, "flash_attn": True, "kv_type": "f16",
    "prompt_tokens_per_s": None, "gen_tokens_per_s": 130.0, "notes": "", "name": "outage test",
}  # fmt: skip
CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048,
    "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
    "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 128256,
    "max_position_embeddings": 131072, "rope_theta": 500000.0, "rms_norm_eps": 1e-05,
    "tie_word_embeddings": True, "torch_dtype": "bfloat16",
}  # fmt: skip
# Seconds any request may take during an outage (the slowest page takes ~0.05 s once warm, a
# hung Redis costs a worker one 0.5 s read timeout): not a wait on a dead Redis with redis-py's
# defaults (5 s timeouts) or on a database's connect_timeout (3 s).
FAST = 2.0


@dataclass
class Stack:
    url: str
    postgres: PostgresCluster
    redis: RedisServer
    log: Path
    http: requests.Session = field(default_factory=requests.Session)
    times: list[tuple[str, str, int, float]] = field(default_factory=list)

    def request(self, method: str, path: str, label: str, **kwargs: Any) -> requests.Response:
        start = time.perf_counter()
        response = self.http.request(
            method, self.url + path, timeout=30, allow_redirects=False, **kwargs
        )
        self.times.append(
            (label, f"{method} {path}", response.status_code, time.perf_counter() - start)
        )
        return response

    def get(self, path: str, label: str = "") -> requests.Response:
        return self.request("GET", path, label)

    def warm_both_workers(self, paths: list[str]) -> None:
        """Each page twice at once, so each worker has computed it (a sync worker takes one
        request at a time): a first computation in a worker is no outage's cost."""
        with ThreadPoolExecutor(2) as pool:
            for path in paths:
                urls = [self.url + path] * 2
                statuses = [r.status_code for r in pool.map(requests.get, urls)]
                assert statuses == [200, 200], path

    def slowest(self, label: str) -> float:
        return max(seconds for label_, _, _, seconds in self.times if label_ == label)

    def report(self, label: str) -> None:
        rows = [t for t in self.times if t[0] == label]
        print(f"\n{label}:")
        for _, what, status, seconds in rows:
            print(f"  {status} {seconds * 1000:7.1f} ms  {what}")

    def log_lines(self, text: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if text in line]


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    require_service(have_redis(), "redis-server")
    require_service(have_postgres(), "PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
    redis = RedisServer()
    redis.start()
    postgres = PostgresCluster()
    log = Path(tempfile.mkstemp(prefix="modelfit-gunicorn-", suffix=".log")[1])
    gunicorn = None
    try:
        postgres.init()
        postgres.start()
        postgres.create_database("modelfit")
        env = dict(
            os.environ,
            DEBUG="0",
            SECRET_KEY="outage-tests-only-" + "x" * 50,
            ALLOWED_HOSTS="127.0.0.1",
            SECURE_SSL_REDIRECT="0",
            DATABASE_URL=postgres.url("modelfit"),
            REDIS_URL=redis.url,
            LOG_LEVEL="INFO",
        )
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "load_catalog", "-v0")
        manage(env, "refresh_prices", "--from-snapshot", "-v0")
        manage(env, "collectstatic", "--noinput", "-v0")
        port = free_port()
        with log.open("wb") as out:
            gunicorn = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "config.wsgi:application", "-w", "2",
                 "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
                cwd=ROOT, env=env, stderr=out, stdout=out,
            )  # fmt: skip
        wait_for_port(port, 30)
        yield Stack(f"http://127.0.0.1:{port}", postgres, redis, log)
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(timeout=15)
        if postgres.data.joinpath("postmaster.pid").exists():
            postgres.stop()
        postgres.remove()
        log.unlink()
        redis.stop()


_counter = iter(range(20_000, 40_000, 7))


def unseen() -> int:
    """A context no earlier request of this module asked for (within Qwen3 8B's 128K)."""
    return next(_counter)


def wait_until(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_a_database_that_never_answers_holds_a_connection_attempt_3_seconds() -> None:
    """A blackholed server (here: a port whose connections are never served) gives up after
    connect_timeout, not the operating system's minutes."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", DEBUG="1",
                   DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/x")  # fmt: skip
        script = (
            "import time, django; django.setup(); from django.db import connection\n"
            "start = time.perf_counter()\n"
            "try: connection.ensure_connection()\n"
            "except Exception as e: print(type(e).__name__, round(time.perf_counter() - start, 1))"
        )
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=30,
        )  # fmt: skip
    name, seconds = result.stdout.split()
    assert name == "OperationalError"
    assert 2.9 <= float(seconds) <= 3.5


def test_every_page_answers_normally_and_fast_while_redis_is_down(stack: Stack) -> None:
    stack.warm_both_workers(PAGES)
    stack.redis.stop()
    for path in [*PAGES, "/models/qwen3-8b/?ctx=9000"]:  # seen before, and never seen
        for _ in range(2):
            assert stack.get(path, "Redis down").status_code == 200, path
    submitted = stack.request("POST", "/api/v1/benchmarks/", "Redis down", json=SUBMISSION)
    assert submitted.status_code == 201, submitted.text
    form = stack.get("/estimate/", "Redis down")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    pasted = stack.request(
        "POST", "/estimate/", "Redis down",
        data={"csrfmiddlewaretoken": token, "config": json.dumps(CONFIG), "name": "Outage 1B"},
        # the CSRF cookie is Secure with DEBUG off: requests keeps it from plain HTTP
        headers={"Referer": stack.url + "/estimate/",
                 "Cookie": f"csrftoken={form.cookies['csrftoken']}"},
    )  # fmt: skip
    assert pasted.status_code == 302, pasted.text
    assert stack.get(pasted.headers["Location"], "Redis down").status_code == 200
    ready = stack.get("/readyz", "Redis down")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "cache": "failing", "broker": "failing"},
    }
    stack.report("Redis down")
    assert stack.slowest("Redis down") < FAST
    assert 1 <= len(stack.log_lines("Cache unavailable")) <= 2  # once per worker
    assert len(stack.log_lines("rate limits are counted in this process")) >= 1


def test_the_cache_is_used_again_when_redis_is_back_without_a_restart(stack: Stack) -> None:
    stack.redis.start()  # empty
    assert stack.redis.cli("dbsize") == "0"
    assert stack.get("/readyz").json()["status"] == "ok"
    # States never seen: a worker serves a part it rendered before from its own memory, without
    # asking Redis. Until a worker that saw the outage has used Redis again (and logged it).
    stored = wait_until(
        lambda: (
            stack.get(f"/models/qwen3-8b/?ctx={unseen()}")
            and stack.redis.cli("dbsize") != "0"
            and stack.log_lines("Cache available again")
        ),
        seconds=20,  # the breaker skips Redis for 5 s; a loaded 2-core CI machine is slow
    )
    assert stored, "no key stored in Redis after it came back"


def test_a_hung_redis_costs_each_worker_one_short_timeout(stack: Stack) -> None:
    stack.redis.process.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
    try:
        # States never seen: each asks the (hung) cache before it is rendered.
        times = []
        for _ in range(10):
            response = stack.get(f"/models/qwen3-8b/?ctx={unseen()}", "Redis hung")
            assert response.status_code == 200
            times.append(stack.times[-1][3])
    finally:
        stack.redis.process.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
    stack.report("Redis hung")
    assert max(times) < FAST
    assert len([t for t in times if t > 0.4]) <= 2  # one socket timeout per worker, then skipped


def test_pages_are_the_styled_503_and_the_api_a_json_503_while_postgresql_is_down(
    stack: Stack,
) -> None:
    stack.postgres.stop()
    time.sleep(1.1)  # REVISION_CHECK_MS: the processes' tokens are no longer trusted
    for path in ["/models/llama-3-1-8b-instruct/", "/", "/hardware/rtx-4090/"]:
        page = stack.get(path, "PostgreSQL down")
        assert page.status_code == 503, path
        assert page.headers["Retry-After"] == "30"
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "<h1>Temporarily unavailable</h1>" in page.text
    api = stack.get("/api/v1/models/llama-3-1-8b-instruct/", "PostgreSQL down")
    assert api.status_code == 503
    assert api.headers["Retry-After"] == "30"
    assert api.json() == {"error": DATABASE_DOWN, "detail": []}
    submitted = stack.request("POST", "/api/v1/benchmarks/", "PostgreSQL down", json=SUBMISSION)
    assert (submitted.status_code, submitted.json()["error"]) == (503, DATABASE_DOWN)
    health = stack.get("/healthz", "PostgreSQL down")
    assert (health.status_code, health.text) == (200, "ok")
    ready = stack.get("/readyz", "PostgreSQL down")
    assert ready.status_code == 503
    assert ready.content == (
        b'{"status": "unavailable", "checks": '
        b'{"database": "failing", "cache": "ok", "broker": "ok"}}'
    )  # no host, port or exception text: those are in the log
    assert str(stack.postgres.port) in "\n".join(stack.log_lines("127.0.0.1"))
    stack.report("PostgreSQL down")
    assert stack.slowest("PostgreSQL down") < FAST


def test_pages_are_200_again_by_themselves_when_postgresql_is_back(stack: Stack) -> None:
    stack.postgres.start()
    statuses = [stack.get(path, "PostgreSQL back").status_code for path in PAGES * 2]
    assert statuses == [200] * len(PAGES) * 2
    stack.report("PostgreSQL back")


def test_a_postgresql_restart_between_requests_costs_no_error(stack: Stack) -> None:
    for _ in range(4):  # both workers hold a connection
        assert stack.get("/hardware/rtx-4090/").status_code == 200
    stack.postgres.stop()
    stack.postgres.start()
    time.sleep(1.1)  # past REVISION_CHECK_MS: every request queries
    statuses = [stack.get("/hardware/rtx-4090/", "after a restart").status_code for _ in range(6)]
    assert statuses == [200] * 6
