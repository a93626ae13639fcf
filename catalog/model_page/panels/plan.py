"""The plan on the user's machine: where llama.cpp puts the model on the chosen GPUs and the
system RAM (its own --fit, or the -ngl / --n-cpu-moe the user forces), as llama.cpp's memory
breakdown shows it per device, whether it fits or what is missing, decode and prompt speed
under that placement, and the arguments that reproduce it (estimator.plan)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from catalog.model_page.panels import DEVICE, EVERY_CHANGE, MACHINE, Panel
from estimator.machine import FIT_MARGIN, OS_RESERVE
from estimator.placement import Use
from estimator.throughput import CPU_TFLOPS, band
from estimator.units import gib, tps

if TYPE_CHECKING:
    from catalog.model_page.page import Page

# The prompt-speed row: llama.cpp's default -ub and a large one (each ubatch copies the weights
# held in system RAM to the GPU once, so a larger one amortises the copy), and the user's own.
# Each is a --fit of its own (~0.5 ms): two sizes keep the slider fragment within its budget.
UBATCH_ROW = (512, 4096)


def build(page: Page) -> dict[str, Any]:
    plan, machine, c = page.plan, page.machine, page.state.computer
    layout = plan.layout
    experts = plan.expert_layers_on_cpu if page.inv.n_experts else 0
    gpus = [
        _row(name, u, free, f"{u.layers} layers")
        for name, u, free in zip(machine.device_names(), layout.devices, plan.free, strict=True)
    ]
    ram_free = machine.host_free() - (
        sum(u.total for u in layout.devices) if machine.unified else 0
    )
    held = [f"{layout.host.layers} layers"] if layout.host.layers else []
    held += [f"experts of {experts} layers"] if experts else []
    host = _row("System RAM", layout.host, ram_free, ", ".join(held))
    missing = []
    if plan.missing_vram:
        missing.append(f"{gib(plan.missing_vram)} more GPU memory")
    if plan.missing_ram:
        missing.append(f"{gib(plan.missing_ram)} more system RAM")
    n_layers = page.inv.n_layers
    gpu_layers = sum(u.layers for u in layout.devices)
    offloaded = plan.fits and bool(layout.devices) and not plan.on_gpu
    args = layout.args(machine.backend or "CUDA")
    backend = machine.gpu.engine_backend if machine.gpu is not None else "CPU"
    return {
        "fit": page.plan_fit,
        # The plan has the last word: a fit in GPU memory with too little RAM does not run.
        "grade": page.plan_fit.grade if plan.fits else "F",
        "rows": [*gpus, host],
        "fits": plan.fits,
        "fits_text": "Fits in system RAM" if machine.gpu is None else
        "Fits in unified memory" if machine.unified else "Fits in GPU memory and system RAM",
        "missing": " and ".join(missing),
        "decode": tps(plan.decode_tokens_per_s),
        "prefill": tps(plan.prefill_tokens_per_s) if plan.prefill_tokens_per_s else "",
        # Error bands from the measured runs of this backend (/methodology/#residuals).
        "backend": backend,
        "cpu_tflops": CPU_TFLOPS,
        "decode_band": round(100 * band(backend, "decode")),
        "prefill_band": round(100 * band(backend, "prefill")),
        "ub": c.ub,
        "ub_row": _ubatch_row(page) if offloaded and plan.prefill_tokens_per_s else [],
        "experts": experts,
        "n_layers": n_layers,
        "gpu_layers": gpu_layers,
        "layers_note": "" if gpu_layers == n_layers or not layout.devices else
        f"{gpu_layers} of {n_layers} layers on the GPU{'s' if machine.gpu_count > 1 else ''}",
        "args": args if machine.gpu is not None else "",
        "args_short": args.partition(" -ot ")[0],
        "overrides": len(layout.overrides),
        "notes": plan.notes,
        "forced": plan.forced,
        "forced_flags": ", ".join(
            f for f in (
                "" if c.ngl is None else f"-ngl {c.ngl}",
                "" if c.ncmoe is None else f"--n-cpu-moe {c.ncmoe}",
            ) if f
        ),
        "ncmoe_ignored": c.ncmoe is not None and not page.inv.n_experts,
        "assumptions": _assumptions(page),
    }  # fmt: skip


def _row(name: str, use: Use, free: int, layers: str) -> dict[str, Any]:
    left = free - use.total
    return {
        "name": name,
        "layers": layers,
        "model": gib(use.model),
        "context": gib(use.context),
        "compute": gib(use.compute),
        "total": gib(use.total),
        "free": gib(free),
        "left": gib(left) if left >= 0 else "-" + gib(-left),
        "short": left < 0,
    }


def _ubatch_row(page: Page) -> list[dict[str, Any]]:
    """Prompt speed at a few -ub sizes, each with the placement llama.cpp picks at that size."""
    ub, ctx = page.state.computer.ub, page.state.ctx
    sizes = sorted({*(u for u in UBATCH_ROW if u <= max(ctx, UBATCH_ROW[0])), ub})
    row = []
    for size in sizes:
        plan = page.plan_at(size)
        speed = plan.prefill_tokens_per_s
        row.append(
            {
                "ub": size,
                "tps": tps(speed) if plan.fits and speed else "does not fit",
                "current": size == ub,
            }
        )
    return row


def _assumptions(page: Page) -> str:
    """What the plan takes the machine to be, every default named as one."""
    m, c, hw = page.machine, page.state.computer, page.hardware
    system = f"{gib(OS_RESERVE)} of it stays with the system"
    if m.gpu is None:
        return f"CPU only: {gib(m.ram_bytes)} of RAM at {m.ram_bandwidth_gbps:g} GB/s, {system}."
    margin = f"llama.cpp's --fit leaves {gib(FIT_MARGIN)} free on each GPU"
    if m.unified:
        limit = gib(m.gpu_limit_bytes or m.ram_bytes)
        default = " (macOS's default share)" if c.wired is None and hw.kind == "apple" else ""
        return (
            f"{hw.name}: {gib(m.ram_bytes)} of unified memory at {m.gpu.bandwidth_gbps:g} GB/s, "
            f"{system}; the GPU may use {limit}{default}; {margin}."
        )
    reserved = "" if c.reserved is not None else f" (the default for {hw.segment} cards)"
    return (
        f"{page.device_label}: {gib(m.gpu.memory_bytes)} each, {gib(m.reserved_bytes)} already "
        f"in use{reserved}; {margin}. System RAM: {gib(m.ram_bytes)} of {c.ram_label} "
        f"({m.ram_bandwidth_gbps:g} GB/s), {system}. Weights in RAM are copied to the GPU for "
        f"every prompt batch over PCIe at {m.pcie_gbps:g} GB/s (PCIe 4.0 x16)."
    )


PANEL = Panel("plan", 15, EVERY_CHANGE | DEVICE | MACHINE, build)
