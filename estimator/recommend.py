"""The quant to use on a machine and what it trades: walk a ladder of quants, most precise
first, and take the first that runs with headroom, by the quality rules of estimator.quality
(never F32; F16/BF16 never where Q8_0 runs, which measures the same; below 3 bits only when
nothing above runs, and then with a warning). The model page's quants panel and FAQ, the
hardware pages' lists (catalog.runs), the API and `manage.py estimate` all answer from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from estimator import quality
from estimator.fit import GRADE_C, Fit, fit, usable_bytes
from estimator.machine import Machine, machine_for
from estimator.memory import (
    MemoryEstimate,
    MemoryOptions,
    estimate_memory,
    inventory,
    with_file_type,
)
from estimator.throughput import Device

# Most precise first: the first that runs is the one to download.
QUANT_LADDER = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "IQ4_XS", "Q3_K_M", "Q2_K", "IQ2_XXS")
# A model whose weights are published in MXFP4 (gpt-oss) has nothing more precise than them.
NATIVE_MXFP4 = "MXFP4_MOE"
# With part of the model in system RAM the most precise quant is worth it only at a usable
# speed: grade C or better (estimator.fit), else the fastest plan.
USABLE_TPS = GRADE_C


def ladder(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The quants to try, most precise first."""
    quantization = config.get("quantization_config")
    if isinstance(quantization, Mapping) and quantization.get("quant_method") == "mxfp4":
        return (NATIVE_MXFP4, *QUANT_LADDER)
    return QUANT_LADDER


@dataclass(frozen=True)
class Run:
    """One model on one machine: the quant chosen, its memory and its fit."""

    quant: str
    est: MemoryEstimate
    fit: Fit

    @property
    def runs(self) -> bool:
        return self.fit.status != "no"

    @property
    def whole(self) -> bool:
        """Everything in the device's memory (GPU, unified memory, or RAM on a CPU alone)."""
        return self.fit.status in ("fits", "tight")


def best_run(
    config: Mapping[str, Any],
    ctx: int,
    device: Device,
    machine: Machine,
    opts: MemoryOptions | None = None,
) -> Run:
    """The recommended quant (estimator/quality.py says why the ladder is what it is): the most
    precise that fits whole (with headroom, else tightly); else the most precise that runs at a
    usable speed with llama.cpp's placement (experts or layers in system RAM); else the fastest
    that runs; else the smallest, which does not run (its fit says what is missing). Placements
    are planned only when nothing fits whole. `opts`: llama.cpp's options other than the quant
    (default: one user at `ctx`)."""
    inv = inventory(config)
    quants = ladder(config)
    opts = replace(opts or MemoryOptions(n_ctx=ctx), file_type=quants[0], n_ctx=ctx)
    first = estimate_memory(config, opts)
    ests: dict[str, MemoryEstimate] = {quants[0]: first}

    def est(quant: str) -> MemoryEstimate:
        if quant not in ests:  # as needed: most models stop at the first quant
            ests[quant] = with_file_type(config, first, quant)
        return ests[quant]

    def run(quant: str) -> Run:
        return Run(quant, est(quant), fit(inv, est(quant), device, machine=machine))

    room = usable_bytes(device, machine)
    tight = None
    for at, quant in enumerate(quants):
        if est(quant).total_bytes <= room:  # whole: fit() plans nothing
            whole = run(quant)
            if whole.fit.status == "fits":
                if est(quant).weights.bits_per_weight >= quality.CLIFF_BPW:
                    return whole
                # Below the cliff whole, the first quant above it, with part in system RAM, is
                # the better answer when it runs at a usable speed (an MoE with a few experts
                # out): the smallest step that leaves the cliff.
                for better in reversed(quants[:at]):
                    if est(better).weights.bits_per_weight < quality.CLIFF_BPW:
                        continue
                    placed = run(better)
                    if placed.runs and (placed.fit.decode_tokens_per_s or 0) >= USABLE_TPS:
                        return placed
                    break
                return whole
            tight = tight or whole
    if tight:
        return tight
    fastest = None
    for quant in quants:
        placed = run(quant)
        tps = placed.fit.decode_tokens_per_s
        if not placed.runs or tps is None:
            continue
        if tps >= USABLE_TPS:
            return placed
        if fastest is None or tps > (fastest.fit.decode_tokens_per_s or 0):
            fastest = placed
    if fastest:
        return fastest
    return run(min(quants, key=lambda q: est(q).total_bytes))


@dataclass(frozen=True)
class Advice:
    """The recommended quant on one machine and what it trades, in words from the data."""

    run: Run
    summary: str  # "Q5_K_M: +0.9 % perplexity (KLD 0.0108), 18 % faster than Q8_0."
    gives_up: str  # the next more precise quant and why it is not the one ("" at the top)
    cliff: str  # the warning below 3 bits per weight ("" above)

    @property
    def quant(self) -> str:
        return self.run.quant

    @property
    def text(self) -> str:
        return " ".join(t for t in (self.summary, self.gives_up, self.cliff) if t)


def advise(
    config: Mapping[str, Any],
    ctx: int,
    device: Device,
    machine: Machine,
    opts: MemoryOptions | None = None,
) -> Advice:
    """`best_run` with its trade-off: its measured quality loss (estimator.quality), its speed
    against the ladder's top, and why the quant above it is not the one."""
    run = best_run(config, ctx, device, machine, opts)
    quants = ladder(config)
    at = quants.index(run.quant)
    top = quants[0]
    inv = inventory(config)

    def fit_of(quant: str) -> Fit:
        return fit(inv, with_file_type(config, run.est, quant), device, machine=machine)

    if run.quant == NATIVE_MXFP4:
        told = "the weights as released (MXFP4): nothing lost to quantization"
    elif q := quality.of(run.quant):
        told = f"{q.ppl_text} (KLD {q.kld:.4f})"
    else:
        told = "quality not measured"
    speed = ""
    mine = run.fit.decode_tokens_per_s
    if run.quant != top and mine:
        f = fit_of(top)
        if f.status in ("fits", "tight") and f.decode_tokens_per_s:
            speed = f", {_faster(mine / f.decode_tokens_per_s)} {top}"
    elif run.quant == "Q8_0" and mine:
        f16 = with_file_type(config, run.est, "F16")
        speed = (
            f": as good as F16 (KLD within the measurement's floor), at "
            f"{100 * run.est.file_bytes / f16.file_bytes:.0f} % of its file size and faster"
        )
    summary = f"Recommended: {run.quant}, {told}{speed}. Here: {run.fit.reason}."
    gives_up = ""
    if at > 0:
        better = quants[at - 1]
        q = quality.of(better)
        loss = f" ({q.ppl_text})" if q else ""
        f = fit_of(better)
        why = f.reason if f.status != "no" else f"does not run here: {f.reason}"
        gives_up = f"The next more precise, {better}{loss}: {why}."
    return Advice(run, summary, gives_up, quality.cliff(run.quant, run.est.weights.bits_per_weight))


def _faster(ratio: float) -> str:
    """1.18 -> "18 % faster than"; 3.4 -> "3.4 times as fast as"."""
    if ratio >= 2:
        return f"{ratio:.1f} times as fast as"
    change = ratio - 1
    return f"{100 * abs(change):.0f} % {'faster' if change >= 0 else 'slower'} than"


def recommended(
    config: Mapping[str, Any], opts: MemoryOptions, device: Device | None, machine: Machine | None
) -> dict[str, str]:
    """What an estimate for a device (or a CPU-only machine) adds: `recommended_quant` for the
    same context, users and cache types, and `recommendation`, the trade-off in words. Empty
    without a device."""
    if machine is not None and machine.cpu_only:
        device = machine.cpu
    if device is None:
        return {}
    machine = machine or machine_for(device, device.count)
    advice = advise(config, opts.n_ctx, device, machine, opts)
    return {"recommended_quant": advice.quant, "recommendation": advice.text}
