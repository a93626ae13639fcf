"""What runs on a machine (catalog.machines.Chosen): per catalog model, the most precise quant
that runs on it at a context and how — whole in the device's memory, or with MoE experts or
layers left in system RAM as llama.cpp's own --fit places them (estimator/plan.py) — with its
decode speed. The home page and the hardware pages list it; `table` computes every model once
per catalog revision, machine and context and keeps the result in the shared cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from catalog import parts
from catalog.machines import Chosen
from catalog.models import Model
from catalog.snapshot import Snapshot
from estimator.fit import GRADE_C, Fit, fit, usable_bytes
from estimator.machine import Machine
from estimator.memory import (
    KeyedConfig,
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
CACHE_SECONDS = 3600


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


def best_run(config: Mapping[str, Any], ctx: int, device: Device, machine: Machine) -> Run:
    """The most precise quant that fits whole (with headroom, else tightly); else the most
    precise that runs at a usable speed with llama.cpp's placement (experts or layers in system
    RAM); else the fastest that runs; else the smallest, which does not run (its fit says what
    is missing). Placements are planned only when nothing fits whole."""
    inv = inventory(config)
    quants = ladder(config)
    first = estimate_memory(config, MemoryOptions(file_type=quants[0], n_ctx=ctx))
    ests: dict[str, MemoryEstimate] = {quants[0]: first}

    def est(quant: str) -> MemoryEstimate:
        if quant not in ests:  # as needed: most models stop at the first quant
            ests[quant] = with_file_type(config, first, quant)
        return ests[quant]

    def run(quant: str) -> Run:
        return Run(quant, est(quant), fit(inv, est(quant), device, machine=machine))

    room = usable_bytes(device, machine)
    tight = None
    for quant in quants:
        if est(quant).total_bytes <= room:  # whole: fit() plans nothing
            whole = run(quant)
            if whole.fit.status == "fits":
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
class Cell:
    """What a list shows of one model on one machine (small: kept in the shared cache)."""

    quant: str
    status: str  # fits, tight, offload, no (estimator.fit)
    grade: str
    reason: str
    tps: float | None  # decode tokens/s of one user
    total_bytes: int  # the model at this quant and context, with its cache and buffers
    ctx: int  # the context it is for (the asked one, or the model's maximum if smaller)

    @property
    def runs(self) -> bool:
        return self.status != "no"


def cell(run: Run, ctx: int) -> Cell:
    f = run.fit
    return Cell(run.quant, f.status, f.grade, f.reason, f.decode_tokens_per_s,
                run.est.total_bytes, ctx)  # fmt: skip


def table(chosen: Chosen, ctx: int, snap: Snapshot) -> dict[str, Cell]:
    """Model slug -> its best run on the machine at `ctx` (capped at each model's maximum), for
    every catalog model: once per catalog revision (and calibration), machine and context, in
    the shared cache (a page reads it only to render a part it has not kept)."""
    key = parts.key("machine-runs", snap.revision, chosen.key(), ctx)
    found: dict[str, Cell] | None = cache.get(key)
    if found is None:
        found = _compute(chosen, ctx, snap)
        cache.set(key, found, CACHE_SECONDS)
    return found


def _compute(chosen: Chosen, ctx: int, snap: Snapshot) -> dict[str, Cell]:
    device, machine = chosen.estimator(snap)
    out = {}
    for slug, config, context_length in configs(snap):
        n_ctx = min(ctx, context_length)
        out[slug] = cell(best_run(config, n_ctx, device, machine), n_ctx)
    return out


def configs(snap: Snapshot) -> list[tuple[str, KeyedConfig, int]]:
    """Every model's slug, config (keyed for the estimator) and maximum context: read once per
    catalog revision."""
    return snap.remember(
        "keyed-configs",
        lambda: [
            (slug, KeyedConfig(config), context_length)
            for slug, config, context_length in Model.objects.values_list(
                "slug", "config", "context_length"
            )
        ],
    )


def warm(snap: Snapshot) -> None:
    """Compute what a machine's table needs that is the same for every machine (each model's
    weights and placement sizes at each quant of the ladder, per process): so the first visitor
    to pick a machine in a new web process waits ~0.1 s, not ~3 s. A CPU alone with a little
    RAM walks every model down the whole ladder."""
    from catalog.machines import pick

    chosen = pick({"gpu": "cpu", "ram": "8"}, snap).chosen
    if chosen is not None:
        _compute(chosen, 8192, snap)
