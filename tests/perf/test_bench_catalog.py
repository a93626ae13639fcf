"""Benchmarks (make bench): print figures, assert nothing about time."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
from django.test import Client

from catalog.loader import DATA_DIR, parse_provider_file
from estimator.inventory import tensor_inventory

CONFIGS = [
    m["config"]
    for p in sorted((DATA_DIR / "providers").glob("*.toml"))
    for m in __import__("tomllib").loads(p.read_text())["models"]
]


def measure(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and 95th percentile in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def test_bench_tensor_inventory_of_every_catalog_model() -> None:
    median, p95 = measure(lambda: [tensor_inventory(c) for c in CONFIGS], repeat=20)
    print(
        f"\ntensor inventory, {len(CONFIGS)} models: median {median:.1f} ms, p95 {p95:.1f} ms "
        f"({median / len(CONFIGS) * 1000:.0f} µs per model)"
    )


def test_bench_parsing_the_catalog_files() -> None:
    files = sorted((DATA_DIR / "providers").glob("*.toml"))
    median, p95 = measure(lambda: [parse_provider_file(f) for f in files], repeat=5)
    print(
        f"\nparse + validate {len(files)} provider files: median {median:.0f} ms, p95 {p95:.0f} ms"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/?q=qwen&sort=-params_total",
        "/models/deepseek-v3/",
        "/hardware/",
        "/api/v1/models/?limit=1000",
    ],
)
def test_bench_page_render(client: Client, url: str) -> None:
    """Through Django's test client (DEBUG on, instrumented templates): an upper bound.
    Server times under gunicorn are in test_bench_load.py."""
    client.get(url)  # warm up
    median, p95 = measure(lambda: client.get(url), repeat=30)
    print(f"\nGET {url} (test client): median {median:.1f} ms, p95 {p95:.1f} ms")
