"""The estimator against what real llama.cpp wrote and allocated (tests/engine/generate.py).

Each recorded case is a GGUF in a real model's shapes quantized by llama.cpp's own quantizer and
loaded on its CPU backend. Thresholds: every tensor type equal, weights within 0.1 %, file size
within 0.5 %, KV cache within 0.5 %, output buffer equal, compute buffer within 15 %.
"""

from __future__ import annotations

from typing import Any

import pytest

from estimator.inventory import tensor_inventory
from estimator.quant import quantize
from estimator.validation import engine_data, engine_runs, estimate_file, estimate_run

CASES = engine_data()["cases"]
RUNS = engine_runs()
# Runs whose compute buffer the formula does not explain yet (strict xfail: fixing one fails
# the test until it is removed from here).
COMPUTE_GAPS = {
    # DeepSeek-V3.2 without flash attention: the lightning indexer's scores over the cache are
    # not in the formula (934 MiB measured, 593 ours); with flash attention it is within 9 %.
    "deepseek-v3.2-2-layers-16-experts-Q4_K_M-8192-f16-nofa",
}
MIB = 1 << 20
ROUNDING = 0.005 * MIB + 1  # llama.cpp logs MiB with two decimals (+1: float rounding)


def case_id(case: dict[str, Any]) -> str:
    return f"{case['name']}-{case['file_type']}"


def run_id(item: tuple[dict[str, Any], dict[str, Any]]) -> str:
    case, run = item
    fa = "fa" if run["flash_attn"] else "nofa"
    return f"{case_id(case)}-{run['n_ctx']}-{run['kv']}-{fa}"


def test_the_recorded_cases_cover_at_least_20_engine_runs() -> None:
    assert len(RUNS) >= 20


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_every_tensor_type_matches_llama_quantize(case: dict[str, Any]) -> None:
    weights = quantize(tensor_inventory(case["config"]), case["file_type"])
    ours = {t.tensor.name: t.type for t in weights.in_file}
    assert ours == case["tensor_types"]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_file_size_within_half_a_percent(case: dict[str, Any]) -> None:
    assert estimate_file(case) == pytest.approx(case["file_bytes"], rel=0.005)


@pytest.mark.parametrize(("case", "run"), RUNS, ids=[run_id(r) for r in RUNS])
def test_buffers_match_what_llama_cpp_allocates(case: dict[str, Any], run: dict[str, Any]) -> None:
    est = estimate_run(case, run)
    assert abs(est.weights_bytes - run["model_mib"] * MIB) <= max(
        ROUNDING, 0.001 * est.weights_bytes
    )
    assert abs(est.kv.bytes - run["kv_mib"] * MIB) <= max(ROUNDING, 0.005 * est.kv.bytes)
    assert abs(est.output_buffer_bytes - run["output_mib"] * MIB) <= ROUNDING


@pytest.mark.parametrize(("case", "run"), RUNS, ids=[run_id(r) for r in RUNS])
def test_compute_buffer_within_15_percent(
    case: dict[str, Any], run: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    if run_id((case, run)) in COMPUTE_GAPS:
        request.applymarker(pytest.mark.xfail(strict=True, reason="known compute-buffer gap"))
    assert estimate_run(case, run).compute_buffer_bytes == pytest.approx(
        run["compute_mib"] * MIB, rel=0.15
    )
