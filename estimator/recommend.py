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


class _Ladder:
    """A model's quants on one machine, each estimated and fitted once, when first asked:
    what the choice and the words about it share."""

    def __init__(
        self, config: Mapping[str, Any], opts: MemoryOptions, device: Device, machine: Machine
    ) -> None:
        self.config, self.device, self.machine = config, device, machine
        self.inv = inventory(config)
        self.quants = ladder(config)
        first = estimate_memory(config, replace(opts, file_type=self.quants[0]))
        self.ests: dict[str, MemoryEstimate] = {self.quants[0]: first}
        self.runs: dict[str, Run] = {}

    def est(self, quant: str) -> MemoryEstimate:
        if quant not in self.ests:  # as needed: most models stop at the first quant
            self.ests[quant] = with_file_type(self.config, self.ests[self.quants[0]], quant)
        return self.ests[quant]

    def run(self, quant: str) -> Run:
        if quant not in self.runs:
            est = self.est(quant)
            self.runs[quant] = Run(quant, est, fit(self.inv, est, self.device,
                                                   machine=self.machine))  # fmt: skip
        return self.runs[quant]

    def best(self) -> Run:
        """See best_run."""
        quants, est, run = self.quants, self.est, self.run
        room = usable_bytes(self.device, self.machine)
        tight = None
        for at, quant in enumerate(quants):
            if est(quant).total_bytes <= room:  # whole: fit() plans nothing
                whole = run(quant)
                if whole.fit.status == "fits":
                    if est(quant).weights.bits_per_weight >= quality.CLIFF_BPW:
                        return whole
                    return self._above_the_cliff(quants[:at]) or whole
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
        return fastest or run(min(quants, key=lambda q: est(q).total_bytes))

    def _above_the_cliff(self, better: tuple[str, ...]) -> Run | None:
        """Below the cliff whole, the first quant above it, with part in system RAM, is the
        better answer when it runs at a usable speed (an MoE with a few experts out): the
        smallest step that leaves the cliff."""
        above = [q for q in better if self.est(q).weights.bits_per_weight >= quality.CLIFF_BPW]
        if not above:
            return None
        placed = self.run(above[-1])
        usable = placed.runs and (placed.fit.decode_tokens_per_s or 0) >= USABLE_TPS
        return placed if usable else None


def best_run(
    config: Mapping[str, Any],
    ctx: int,
    device: Device,
    machine: Machine,
    opts: MemoryOptions | None = None,
) -> Run:
    """The recommended quant (estimator/quality.py says why the ladder is what it is): the most
    precise that fits whole (with headroom, else tightly; below 3 bits, the first quant above
    them when it runs at a usable speed with part in system RAM); else the most precise that
    runs at a usable speed with llama.cpp's placement (experts or layers in system RAM); else
    the fastest that runs; else the smallest, which does not run (its fit says what is
    missing). Placements are planned only when nothing fits whole. `opts`: llama.cpp's options
    other than the quant (default: one user at `ctx`)."""
    opts = replace(opts or MemoryOptions(), n_ctx=ctx)
    return _Ladder(config, opts, device, machine).best()


@dataclass(frozen=True)
class Advice:
    """The recommended quant on one machine and what it trades, in words from the data."""

    run: Run
    summary: str  # "Recommended: Q6_K, +0.3 % perplexity (KLD 0.0055), 25 % faster than Q8_0."
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
    lad = _Ladder(config, replace(opts or MemoryOptions(), n_ctx=ctx), device, machine)
    run = lad.best()
    at = lad.quants.index(run.quant)
    top = lad.quants[0]
    if run.quant == NATIVE_MXFP4:
        told = "the weights as released (MXFP4): nothing lost to quantization"
    elif q := quality.of(run.quant):
        told = f"{q.ppl_text} (KLD {q.kld:.4f})"
    else:
        told = "quality not measured"
    speed = ""
    mine = run.fit.decode_tokens_per_s

    def whole_speed(quant: str) -> float | None:
        """Its decode speed when it too fits whole."""
        f = lad.run(quant).fit
        return f.decode_tokens_per_s if f.status in ("fits", "tight") else None

    if run.quant != top and mine and (theirs := whole_speed(top)):
        speed = f", {_faster(mine / theirs)} {top}"
    elif run.quant == "Q8_0" and quality.same_quality("Q8_0", "F16"):
        speed = (
            f": as good as F16 (KLD within the measurement's floor), at "
            f"{100 * run.est.file_bytes / lad.est('F16').file_bytes:.0f} % of its file size"
        )
        if mine and (f16 := whole_speed("F16")):
            speed += f" and {_faster(mine / f16)} it"
    summary = f"Recommended: {run.quant}, {told}{speed}. Here: {run.fit.reason}."
    gives_up = ""
    if at > 0:
        better = lad.quants[at - 1]
        q = quality.of(better)
        loss = f" ({q.ppl_text})" if q else ""
        f = lad.run(better).fit
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
