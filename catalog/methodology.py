"""The methodology page's figures: the estimator's constants as the code holds them, and its
error against real llama.cpp runs and measured speeds (estimator.validation and
estimator.offload_validation, the data the estimator's tests assert on)."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any

from django.template.loader import render_to_string

from benchmarks import calibration, plausibility
from estimator import estimate, finetune, fit, machine, plan, quality, recommend, throughput
from estimator import finetune_validation as ft_validation
from estimator import offload_validation as offload
from estimator.units import MIB
from estimator.validation import (
    device_from,
    engine_data,
    engine_runs,
    estimate_file,
    estimate_run,
    speed_runs,
    speed_summary,
)

CLASS_NAMES = {
    "nvidia": "NVIDIA (CUDA)",
    "apple": "Apple (Metal)",
    "amd": "AMD (ROCm)",
    "intel": "Intel (SYCL)",
    "cpu": "CPU",
}
TESTS = {"tg": "decode (tg)", "pp": "prefill (pp)"}
HALVES = {"held_out": "held out", "calibration": "calibration", "all": "both halves"}
CATEGORIES = {
    "gpu_ram_moe": "GPU + RAM, MoE",
    "gpu_ram_dense": "GPU + RAM, dense",
    "cpu_only": "CPU only",
    "unified": "unified memory",
    offload.EXPERTS_IN_RAM: "MoE experts in RAM",
    "all": "all",
}


def _diff(ours: float, real: float) -> str:
    if real == 0:
        return "0 %" if ours == 0 else "—"
    return f"{100 * (ours / real - 1):+.1f} %"


@lru_cache(maxsize=1)
def content() -> str:
    """The page's content, rendered once per process: like its figures, it changes only with
    the code (so it is not kept in the shared cache, which outlives a deploy)."""
    data = figures()
    return render_to_string("catalog/methodology.html#content", {**data, "c": data["constants"]})


@lru_cache(maxsize=1)
def figures() -> dict[str, Any]:
    """Everything the page shows; computed once per process (the data ship with the code)."""
    data = engine_data()
    memory = []
    for case, run in engine_runs():
        est = estimate_run(case, run)
        memory.append(
            {
                "model": case["name"],
                "quant": case["file_type"],
                "ctx": run["n_ctx"],
                "kv": run["kv"],
                "fa": "on" if run["flash_attn"] else "off",
                "cells": [
                    (f"{ours / MIB:,.2f}", f"{real:,.2f}", _diff(ours / MIB, real))
                    for ours, real in (
                        (est.weights_bytes, run["model_mib"]),
                        (est.kv.bytes, run["kv_mib"]),
                        (est.output_buffer_bytes, run["output_mib"]),
                        (est.compute_buffer_bytes, run["compute_mib"]),
                    )
                ],
            }
        )
    files = []
    for case in data["cases"]:
        ours = estimate_file(case)
        files.append(
            {
                "model": case["name"],
                "quant": case["file_type"],
                "ours": f"{ours:,}",
                "real": f"{case['file_bytes']:,}",
                "diff": _diff(ours, case["file_bytes"]),
            }
        )
    speed = [
        {
            "backend": s.backend,
            "kind": s.kind,
            "rows": s.rows,
            "ratio": f"{s.median_ratio:.2f}",
            "median": f"{100 * s.median_error:.1f} %",
            "p80": f"{100 * s.p80_error:.0f} %",
            "p90": f"{100 * s.p90_error:.0f} %",
            "within": f"{100 * s.within_15:.0f} %",
        }
        for s in speed_summary()
    ]
    profiles = [
        {
            "name": name,
            "eta": p.eta,
            "kv_eta": p.cache_eta,
            "layer_us": round(p.layer_s * 1e6),
            "step_us": round(p.step_s * 1e6),
            "mm_eff": p.mm_eff,
            "n_half": p.n_half,
            "tile": p.tile,
            "vec_eff": p.vec_eff,
            "vec1_eff": p.vec1_eff,
            "blas_eff": p.blas_eff,
            "attn_eff": p.attn_eff,
            "q_tile": p.q_tile,
            "moe_eff": p.moe_eff,
        }
        for name, p in throughput.PROFILES.items()
    ]
    return {
        "offload": _offload(),
        "quality": _quality(),
        "finetune": _finetune(),
        "engine": {k: v for k, v in data.items() if k != "cases"},
        "memory": memory,
        "files": files,
        "speed": speed,
        "speed_runs": len(speed_runs()),
        "profiles": profiles,
        "runs": len(memory),
        "cases": len(files),
        "constants": {
            "cpu_eta": throughput.PROFILES["CPU"].eta,
            "vec_max": throughput.VEC_MAX,
            "dc_layer_us": round(throughput.PROFILES["CUDA"].dc_layer_s * 1e6),
            "watts_per_tflops": throughput.PROFILES["CUDA"].watts_per_tflops,
            "power": [
                {"name": name, "tdp": d.tdp_watts, "share": round(100 * d.quantized_power_share())}
                for name, d in (
                    ("RTX 6000 Ada", device_from("rtx-6000-ada", "CUDA")),
                    ("RTX 4090", device_from("rtx-4090", "CUDA")),
                )
                if d is not None
            ],
            "uncalibrated_band": round(100 * throughput.UNCALIBRATED_BAND),
            "grades": (fit.GRADE_A, fit.GRADE_B, fit.GRADE_C, fit.OFFLOAD_D),
            "cpu_reserve_gib": fit.CPU_OS_RESERVE >> 30,
            "fit_margin_mib": machine.FIT_MARGIN // MIB,
            "reserved_mib": {k: v // MIB for k, v in machine.RESERVED_BY_SEGMENT.items()},
            "default_ram_gib": machine.DEFAULT_RAM_BYTES >> 30,
            "default_ram": machine.RAM_PRESETS[machine.DEFAULT_RAM_PRESET][0],
            "default_ram_gbps": machine.RAM_PRESETS[machine.DEFAULT_RAM_PRESET][1],
            "pcie_gbps": machine.PCIE_GBPS[machine.DEFAULT_PCIE],
            "hop_us": round(plan.HOP_S * 1e6),
            "vllm_utilization": estimate.VLLM_GPU_MEMORY_UTILIZATION,
            "vllm_block": estimate.VLLM_BLOCK,
            "gen_margin": plausibility.GEN_MARGIN,
            "low_ratio": plausibility.LOW_RATIO,
            "prompt_factor": throughput.PREFILL_ROOFLINE_FACTOR,
            "min_runs": calibration.MIN_RUNS,
            "min_submitters": calibration.MIN_SUBMITTERS,
            "clamp": calibration.CLAMP,
        },
    }


def _quality() -> dict[str, Any]:
    """The recommendation's rules (estimator.quality, estimator.recommend) and their data."""
    return {
        "ladder": ", ".join(recommend.QUANT_LADDER),
        "same_kld": f"{quality.SAME_QUALITY_KLD:.4f}",
        "f16_kld": f"{quality.QUALITY['F16'].kld:.4f}",
        "q8_kld": f"{quality.QUALITY['Q8_0'].kld:.4f}",
        "cliff": f"{quality.CLIFF_BPW:g}",
        "usable": f"{recommend.USABLE_TPS:g}",
        "model": quality.MEASURED_ON,
        "source": quality.SOURCE,
        "below": [
            (q.quant, q.ppl_text, f"{q.kld:.3f}")
            for q in quality.QUALITY.values()
            if q.quant in ("Q3_K_M", "IQ3_XXS", "Q2_K", "IQ2_M", "IQ2_XXS", "IQ1_S")
        ],
    }


def _finetune() -> dict[str, Any]:
    """Fine-tuning memory against published measurements (estimator.finetune_validation)."""
    rows = []
    for c in ft_validation.comparisons():
        r, rec = c.row, c.recipe
        rows.append(
            {
                "model": r["model"],
                "framework": r["framework"],
                "method": r["method"],
                "settings": ", ".join(
                    x
                    for x in (
                        f"r{rec.lora_rank} {rec.targets}" if rec.method != "full" else "",
                        f"{rec.seq_len} x {rec.micro_batch}",
                        "checkpointing" if rec.grad_checkpointing else "",
                        f"{rec.n_gpus} GPUs {rec.sharding}" if rec.n_gpus > 1 else "",
                        "CPU offload" if rec.cpu_offload else "",
                        f"{rec.precision}, {rec.optimizer}",
                    )
                    if x
                ),
                "what": r["what"],
                "measured": f"{float(r['measured']):g} {r['unit']}",
                "ours": f"{c.estimate_bytes / ft_validation.UNITS[r['unit']]:.2f} {r['unit']}",
                "ratio": f"{c.ratio:.2f}",
                "url": r["url"],
            }
        )
    skipped = Counter(
        ft_validation.not_modelled(r) or ("the source's own estimate" if r["what"] == "estimate"
                                          else "settings not stated, or a model we lack")
        for r in ft_validation.rows()
        if ft_validation.recipe_of(r) is None
    )  # fmt: skip
    return {
        "summary": [
            {
                "framework": s.framework,
                "rows": s.rows,
                "ratio": f"{s.median_ratio:.2f}",
                "median": _percent(s.median_error),
                "within": f"{100 * s.within_15:.0f} %",
            }
            for s in ft_validation.summary()
        ],
        "rows": rows,
        "total": len(ft_validation.rows()),
        "skipped": sorted(skipped.items(), key=lambda kv: -kv[1]),
        "stacks": [(s.name, s.loss_bytes) for s in finetune.STACKS.values()],
        "nf4_bits": f"{finetune.NF4_BITS:.3f}",
    }


def _percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def _placement(row: offload.Row) -> str:
    flags = []
    if row.ngl is not None:
        flags.append(f"-ngl {row.ngl}")
    if row.n_cpu_moe is not None:
        flags.append(f"--n-cpu-moe {row.n_cpu_moe}")
    return " ".join(flags) or "llama.cpp's fit"


def _offload() -> dict[str, Any]:
    """The plan's speed beside measured runs with weights in RAM (estimator.offload_validation)."""
    summary = [
        {
            "test": TESTS[s.test],
            "category": CATEGORIES[s.category],
            "half": HALVES[split],
            "n": s.n,
            "median": _percent(s.median_error),
            "worst": f"{s.max_ratio:.2f}x",
        }
        for split in HALVES
        for s in offload.summary(split)
    ]
    targets = [
        {
            "name": t.name,
            "n": t.n,
            "value": f"{t.value:.2f}x" if "ratio" in t.name else _percent(t.value),
            "limit": f"{t.limit:.0f}x" if "ratio" in t.name else f"{100 * t.limit:.0f} %",
            "met": "yes" if t.met else "no",
        }
        for t in offload.targets("held_out")
    ]
    compared = [
        {
            "index": c.row.index,
            "model": c.row.model,
            "quant": c.row.quant,
            "machine": c.row.gpu or c.row.cpu,
            "ram": offload.ram_bandwidth(c.row),
            "placement": _placement(c.row),
            "test": c.test,
            "measured": c.measured,
            "ours": c.predicted,
            "diff": _diff(c.predicted or 0.0, c.measured),
            "half": HALVES[c.split],
            "source": c.row.source,
            "publisher": c.row.publisher,
        }
        for c in offload.checks()
        if c.compared
    ]
    excluded = offload.exclusions()
    reasons = Counter(c.excluded for c in excluded)
    exclusions = [
        {
            "reason": reason,
            "n": n,
            "rows": ", ".join(f"{c.row.index} {c.test}" for c in excluded if c.excluded == reason),
        }
        for reason, n in sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    ]
    split = offload.facts()["split"]
    return {
        "rows": len(offload.rows()),
        "values": len(offload.checks()),
        "compared": compared,
        "excluded": len(excluded),
        "exclusions": exclusions,
        "summary": summary,
        "targets": targets,
        "calibration": ", ".join(split["calibration"]),
        "held_out": ", ".join(split["held_out"]),
    }
