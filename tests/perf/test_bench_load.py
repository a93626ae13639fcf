"""Server benchmarks against gunicorn with 2 workers (DEBUG off, the full catalog):

- server time of the model page and its fragments, read from the Server-Timing header the
  app sets (time inside Django, without the client): states never seen before ("cold") and
  states rendered before (served from the page cache);
- wrk (16 connections) on /healthz and on the context-slider fragment in the same run: the
  fragment's requests/s as a ratio to /healthz, its p99 latency and errors. The wrk script
  moves the slider over the model's context stops, as a drag does.

Prints figures; asserts nothing about time (issue 4 targets: page p50 <= 25 ms, slider
fragment p50 <= 5 ms, ratio >= 0.5, p99 <= 50 ms).
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
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
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


def test_bench_slider_fragment_under_load(server: str, tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        if os.environ.get("CI"):
            pytest.fail("wrk is not installed (Debian package wrk)")
        pytest.skip("wrk is not installed (apt-get install wrk)")
    script = tmp_path / "slider.lua"
    script.write_text(WRK_SCRIPT % (",".join(map(str, STOPS)), MODEL))
    subprocess.run(["wrk", "-t1", "-c2", "-d2s", "-s", str(script), server],
                   capture_output=True, timeout=30)  # fmt: skip  # one drag per worker first
    health = wrk(server + "/healthz")
    fragment = wrk(server, "-s", str(script))
    print(
        f"\nwrk 16 connections, gunicorn 2 workers: /healthz {health['rps']:.0f} req/s "
        f"(p99 {health['p99_ms']:.1f} ms); context-slider fragment over {len(STOPS)} stops "
        f"{fragment['rps']:.0f} req/s (p99 {fragment['p99_ms']:.1f} ms, errors "
        f"{fragment['errors']:.0f}); ratio {fragment['rps'] / health['rps']:.2f}"
    )
