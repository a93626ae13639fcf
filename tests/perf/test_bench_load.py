"""Server benchmarks against gunicorn with 2 workers (DEBUG off, the full catalog):

- server time of the model page and its fragments, read from the Server-Timing header the
  app sets (time inside Django, without the client): states never seen before ("cold") and
  states rendered before (served from the page cache);
- wrk (2 threads, 16 connections, 5 s each) on /healthz and then, in the same run, on every
  HTML page (after one warm-up request) and on the context-slider fragment: requests/s, the
  ratio to /healthz, p99 latency and errors, as one table. The wrk script moves the slider
  over the model's context stops, as a drag does.

Prints figures; asserts nothing about time, only that no request failed (issue 12 targets:
every page's ratio >= 0.20 and p99 <= 100 ms; issue 4: model page p50 <= 25 ms, slider
fragment p50 <= 5 ms).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL = "/models/llama-3-1-8b-instruct/"
STOPS = (512, 1024, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152, 65536,
         98304, 131072)  # fmt: skip
SLIDER = {"HX-Request": "true", "HX-Trigger-Name": "ctx", "HX-Target": "live-summary"}
USERS = {"HX-Request": "true", "HX-Trigger-Name": "users", "HX-Target": "live-summary"}
# Every HTML page under the same load (issue 12: ratio to /healthz >= 0.20, p99 <= 100 ms).
PAGES = (
    "/",
    "/?q=qwen&modality=image",
    "/?params_max=10&license=commercial&sort=-context_length",
    "/providers/qwen/",
    "/families/qwen/",
    "/hardware/",
    "/hardware/rtx-4090/",
    "/compare/?models=llama-3-1-8b-instruct,qwen3-8b",
    "/gpus/prices/",
    "/methodology/",
    "/estimate/",
    MODEL,
)  # fmt: skip
TARGET_RATIO = 0.20
TARGET_P99_MS = 100.0
WRK_SCRIPT = """
local stops = {%s}
local i = 0
request = function()
  i = i + 1
  local path = "%s?users=4&ctx=" .. stops[(i %% #stops) + 1]
  return wrk.format("GET", path, {["HX-Request"]="true", ["HX-Trigger-Name"]="ctx"})
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    env = dict(os.environ, DEBUG="0", SECRET_KEY="bench-only-" + "x" * 50,
               ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="0")  # fmt: skip
    python = sys.executable
    for command in (["migrate", "--noinput", "-v0"], ["load_catalog", "-v0"],
                    ["refresh_prices", "--from-snapshot", "-v0"],
                    ["collectstatic", "--noinput", "-v0"]):  # fmt: skip
        subprocess.run([python, "manage.py", *command], cwd=ROOT, env=env, check=True)
    port = free_port()
    process = subprocess.Popen(
        [python, "-m", "gunicorn", "config.wsgi:application", "-w", "2", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):  # until a worker answers: the socket is bound before they boot
            try:
                warm(url + "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def server_ms(url: str, headers: dict[str, str]) -> float:
    """The app's own time for one request (Server-Timing: app;dur=...)."""
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
        timing = response.headers["Server-Timing"]
    return float(re.search(r"app;dur=([\d.]+)", timing).group(1))  # type: ignore[union-attr]


def report(label: str, times: list[float]) -> None:
    times = sorted(times)
    p95 = times[max(int(len(times) * 0.95) - 1, 0)]
    print(f"\n{label}: n={len(times)} p50 {statistics.median(times):.2f} ms, p95 {p95:.2f} ms")


def test_bench_server_time_of_the_model_page_and_its_fragments(server: str) -> None:
    page = server + MODEL
    server_ms(page, {})  # this worker reads the device list once per catalog revision
    server_ms(page, {})  # and so does the other
    report(
        "model page, new state each time (cold)",
        [server_ms(f"{page}?ctx={9000 + 7 * i}", {}) for i in range(40)],
    )
    report("model page, state seen before", [server_ms(f"{page}?ctx=9000", {}) for _ in range(40)])
    report(
        "context slider fragment, typed contexts never seen before (cold)",
        [server_ms(f"{page}?ctx={20000 + 7 * i}", SLIDER) for i in range(40)],
    )
    drag = [f"{page}?users=2&ctx={ctx}" for ctx in STOPS]
    report("context slider over the stops, first drag (cold)", [server_ms(u, SLIDER) for u in drag])
    for url in drag:  # reach both workers' caches
        server_ms(url, SLIDER)
        server_ms(url, SLIDER)
    report(
        "context slider over the stops, later drags (cached)",
        [server_ms(u, SLIDER) for _ in range(4) for u in drag],
    )
    report(
        "users slider fragment, new state each time (cold)",
        [server_ms(f"{page}?ctx=9000&users={u}", USERS) for u in range(1, 41)],
    )
    prices = server + "/gpus/prices/"
    report("GPU prices page, first view of each filter", [
        server_ms(f"{prices}?min_memory_gb={gb}", {}) for gb in (0, 8, 12, 16, 24, 32, 48, 80)
    ])  # fmt: skip
    report("GPU prices page, later views", [server_ms(prices, {}) for _ in range(40)])


def wrk(url: str, *args: str) -> dict[str, float]:
    command = ["wrk", "-t2", "-c16", "-d5s", "--latency", *args, url]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    n_errors = int(errors.group(1)) if errors else 0
    if socket_errors:
        n_errors += sum(int(x) for x in socket_errors.groups())
    return {
        "rps": rps,
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
        "errors": n_errors,
    }


def warm(url: str, headers: dict[str, str] | None = None) -> None:
    """One request before the load: a 2xx, so wrk measures the page and not an error page."""
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert 200 <= response.status < 300, url
        response.read()


def test_bench_every_page_under_load(server: str, tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        if os.environ.get("CI"):
            pytest.fail("wrk is not installed (Debian package wrk)")
        pytest.skip("wrk is not installed (apt-get install wrk)")
    script = tmp_path / "slider.lua"
    script.write_text(WRK_SCRIPT % (",".join(map(str, STOPS)), MODEL))
    health = wrk(server + "/healthz")
    figures = []
    for path in PAGES:
        warm(server + path)
        figures.append((path, wrk(server + path)))
    subprocess.run(["wrk", "-t1", "-c2", "-d2s", "-s", str(script), server],
                   capture_output=True, timeout=30)  # fmt: skip  # one drag per worker first
    figures.append((f"context-slider fragment, {len(STOPS)} stops", wrk(server, "-s", str(script))))
    print(
        f"\nwrk -t2 -c16 -d5s, gunicorn 2 workers, same run: /healthz {health['rps']:.0f} req/s "
        f"(p99 {health['p99_ms']:.1f} ms). Targets per page: ratio >= {TARGET_RATIO:.2f}, "
        f"p99 <= {TARGET_P99_MS:.0f} ms."
    )
    print(f"{'page':<56} {'req/s':>7} {'ratio':>6} {'p99 ms':>7} {'errors':>6}  targets")
    for label, f in figures:
        ratio = f["rps"] / health["rps"]
        met = ratio >= TARGET_RATIO and f["p99_ms"] <= TARGET_P99_MS
        print(
            f"{label:<56} {f['rps']:>7.0f} {ratio:>6.2f} {f['p99_ms']:>7.1f} "
            f"{f['errors']:>6.0f}  {'met' if met else 'MISSED'}"
        )
    assert health["errors"] == 0
    assert {label: f["errors"] for label, f in figures if f["errors"]} == {}
