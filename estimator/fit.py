"""Does it fit, how well, and how fast: per device, with CPU offload, multi-GPU and a grade.

Usable memory is what llama.cpp's --fit fills before it moves anything to system RAM: per GPU,
its memory minus what is already in use (display, desktop, CUDA context: by device class, see
machine.py) minus the 1024 MiB margin --fit leaves free; Apple unified memory: the share macOS
lets the GPU wire (about 2/3 of RAM up to 36 GB and 3/4 above: Metal's
recommendedMaxWorkingSetSize) minus the same margin; a CPU: RAM minus 4 GiB for the system.
Multi-GPU splits layers (llama.cpp's default `--split-mode layer`): memory adds up, decode runs
the GPUs one after another, so speed follows one GPU's bandwidth.
When the model does not fit, the plan (estimator/plan.py) places it as llama.cpp's own --fit
does on the machine (GPU(s) + system RAM): MoE experts or whole layers stay in system memory,
and the speed follows that placement.
"""

from __future__ import annotations

from dataclasses import dataclass

from estimator import units
from estimator.inventory import Inventory
from estimator.machine import FIT_MARGIN, OS_RESERVE, Machine, machine_for
from estimator.memory import MemoryEstimate
from estimator.plan import Plan, make_plan
from estimator.plan import model as plan_model
from estimator.throughput import Device, decode_step_s
from estimator.units import GIB

CPU_OS_RESERVE = OS_RESERVE
# Decode tokens/s a grade needs when it fits with headroom (a tight fit is at best C); with CPU
# offload D needs OFFLOAD_D and E is slower.
GRADE_A, GRADE_B, GRADE_C = 30.0, 12.0, 5.0
OFFLOAD_D = 3.0


def usable_bytes(device: Device, machine: Machine | None = None) -> int:
    """Memory a model may fill whole on `device` (in `machine`, default: machine_for)."""
    if device.device_class == "cpu" and machine is None:
        return max(device.memory_bytes - CPU_OS_RESERVE, 0)
    m = machine or machine_for(device, device.count)
    if m.cpu_only:
        return m.host_free()
    return max(m.gpu_free() - FIT_MARGIN, 0) * m.gpu_count


@dataclass(frozen=True)
class Fit:
    status: str  # "fits", "tight", "offload", "no"
    headroom_bytes: int
    gpu_layers: int
    n_layers: int
    decode_tokens_per_s: float | None
    grade: str
    reason: str
    plan: Plan | None = None  # llama.cpp's placement when the model does not fit whole


def fit(
    inv: Inventory,
    est: MemoryEstimate,
    device: Device,
    depth: int = 0,
    batch: int = 1,
    machine: Machine | None = None,
    ngl: int | None = None,
    n_cpu_moe: int | None = None,
) -> Fit:
    """Status, headroom, layers on the GPU, decode speed and an A-F grade with a reason.

    `ngl` / `n_cpu_moe` force a placement instead of llama.cpp's own fit."""
    machine = machine or machine_for(device, device.count)
    usable = usable_bytes(device, machine)
    need = est.total_bytes
    if device.device_class != "cpu" and est.key and est.opts:
        # llama.cpp keeps the input embedding and the logits buffer in system memory.
        need -= plan_model(est.key, est.opts.file_type).input_bytes + est.output_buffer_bytes
    headroom = usable - need
    n = inv.n_layers
    forced = ngl is not None or n_cpu_moe is not None
    if headroom >= 0 and not forced:
        tps = batch / decode_step_s(inv, est.weights, est.kv, device, depth, batch)
        status = "fits" if headroom >= max(GIB, usable // 10) else "tight"
        return _graded(status, headroom, n, n, tps / batch)
    if device.device_class == "cpu" or est.opts is None or not est.key:
        return _graded("no", headroom, 0, n, None)
    plan = make_plan(est.key, est.opts, machine, ngl=ngl, n_cpu_moe=n_cpu_moe, depth=depth)
    if plan.fits and plan.on_gpu and plan.decode_tokens_per_s:
        tps = plan.decode_tokens_per_s
        reason = f"fits with llama.cpp's placement; ~{units.tps(tps)} tokens/s"
        return Fit("tight", headroom, n, n, tps, "C" if tps >= GRADE_C else "D", reason, plan)
    if not plan.fits or plan.decode_tokens_per_s is None:
        return _no_room(plan, headroom, n)
    gpu_layers = sum(u.layers for u in plan.layout.devices)
    tps = plan.decode_tokens_per_s
    speed = f"~{units.tps(tps)} tokens/s"
    grade = "B" if tps >= GRADE_B else "C" if tps >= GRADE_C else "D" if tps >= OFFLOAD_D else "E"
    ram = units.gib(plan.host_bytes)
    if plan.expert_layers_on_cpu and gpu_layers == n:
        n = plan.expert_layers_on_cpu
        where = f"the experts of {n} layer{'s' * (n != 1)} in RAM (needs {ram} of RAM)"
    else:
        where = f"{gpu_layers} of {n} layers on the GPU, the rest in RAM (needs {ram} of RAM)"
    return Fit("offload", headroom, gpu_layers, n, tps, grade, f"{speed} with {where}", plan)


def _no_room(plan: Plan, headroom: int, n: int) -> Fit:
    """Does not run: say what is missing, VRAM, RAM or both."""
    parts = []
    if plan.missing_vram:
        parts.append(f"{units.gib(plan.missing_vram)} more GPU memory")
    if plan.missing_ram:
        parts.append(f"{units.gib(plan.missing_ram)} more system RAM")
    reason = "needs " + (" and ".join(parts) if parts else f"{units.gib(-headroom)} more memory")
    gpu_layers = sum(u.layers for u in plan.layout.devices)
    return Fit("no", headroom, gpu_layers, n, None, "F", reason, plan)


def _graded(status: str, headroom: int, gpu_layers: int, n: int, tps: float | None) -> Fit:
    if status == "no":
        reason = f"needs {units.gib(-headroom)} more than this device can use"
        return Fit(status, headroom, gpu_layers, n, None, "F", reason)
    assert tps is not None
    speed = f"~{units.tps(tps)} tokens/s"
    room = f"{units.gib(headroom)} free"
    if status == "tight":
        grade = "C" if tps >= GRADE_C else "D"
        return Fit(status, headroom, gpu_layers, n, tps, grade, f"fits tightly ({room}); {speed}")
    grade = "A" if tps >= GRADE_A else "B" if tps >= GRADE_B else "C" if tps >= GRADE_C else "D"
    return Fit(status, headroom, gpu_layers, n, tps, grade, f"fits with {room}; {speed}")
