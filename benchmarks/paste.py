"""From parsed llama-bench rows to the submission form's initial values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.llamabench import BenchRow
from benchmarks.models import KV_TYPES, Backend
from estimator.quant import FILE_TYPES

# llama-bench prints the ggml backends it was built with, e.g. "CUDA", "Metal,BLAS", "RPC,CUDA".
BACKENDS = {"cuda": Backend.CUDA, "metal": Backend.METAL, "rocm": Backend.ROCM,
            "hip": Backend.ROCM, "vulkan": Backend.VULKAN, "sycl": Backend.SYCL,
            "cpu": Backend.CPU, "blas": Backend.CPU}  # fmt: skip


def backend(printed: str) -> str:
    """The form's backend for llama-bench's list: the first GPU backend, else CPU."""
    names = [part.strip().lower() for part in printed.split(",")]
    for name in names:
        if name in BACKENDS and BACKENDS[name] != Backend.CPU:
            return str(BACKENDS[name])
    return str(Backend.CPU) if any(n in BACKENDS for n in names) else str(Backend.OTHER)


def initial_rows(rows: Sequence[BenchRow]) -> tuple[list[dict[str, Any]], list[str]]:
    """One form row per pp or tg test, and notes on what was left out (pp+tg tests report a
    combined rate that is neither speed)."""
    initial, skipped = [], []
    for r in rows:
        if r.n_prompt and r.n_gen:
            skipped.append(f"line {r.line}: {r.test} mixes prompt and generation; left out")
            continue
        kv = r.type_k if r.type_k in KV_TYPES else "f16"
        flash = "unknown" if r.flash_attn is None else "true" if r.flash_attn else "false"
        known = r.quant in FILE_TYPES
        initial.append(
            {
                "quant": r.quant if known else "",
                "quant_text": r.model_filename or ("" if known else r.model_type),
                "context": r.n_prompt + r.n_gen + r.n_depth,
                "depth": r.n_depth,
                "batch": 1,
                "flash_attn": flash,
                "kv_type": kv,
                "prompt_tokens_per_s": r.tokens_per_s if r.n_prompt else None,
                "gen_tokens_per_s": r.tokens_per_s if r.n_gen else None,
                "test": r.test,
            }
        )
    return initial, skipped


def initial_setup(rows: Sequence[BenchRow]) -> dict[str, str]:
    """Backend and build, from the first row that says them."""
    setup: dict[str, str] = {"runtime": "llama.cpp"}
    for r in rows:
        if r.backend and "backend" not in setup:
            setup["backend"] = backend(r.backend)
        if r.build and "runtime_version" not in setup:
            setup["runtime_version"] = f"build {r.build}"
    return setup
