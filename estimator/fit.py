"""Does it fit, how well, and how fast: per device, with CPU offload, multi-GPU and a grade.

Usable memory:
- discrete GPUs: memory x count minus a driver/runtime reserve per GPU (CUDA context, cuBLAS
  workspace: 512 MiB; llama.cpp does not count it but it is not available to it);
- Apple unified memory: macOS lets the GPU wire about 2/3 of RAM up to 36 GB and 3/4 above
  (Metal's recommendedMaxWorkingSetSize), counted once for weights, cache and buffers;
- CPU: RAM minus 4 GiB for the operating system.
Multi-GPU splits layers (llama.cpp's default `--split-mode layer`): memory adds up, decode runs
the GPUs one after another, so speed follows one GPU's bandwidth.
When the weights do not fit, llama.cpp offloads `gpu_layers` repeating layers and runs the rest
on the CPU from system RAM; decode time is then the sum of both parts at their bandwidths.
"""

from __future__ import annotations

from dataclasses import dataclass

from estimator import units
from estimator.inventory import Inventory
from estimator.memory import MemoryEstimate
from estimator.throughput import Device, decode_step_s
from estimator.units import GIB

GPU_RESERVE = 512 << 20
CPU_OS_RESERVE = 4 * GIB
HOST_BANDWIDTH_GBPS = 80.0  # dual-channel DDR5 desktop, ~90 GB/s theoretical
HOST_MEMORY = 64 * GIB  # system RAM assumed for CPU offload
# Decode tokens/s a grade needs when it fits with headroom (a tight fit is at best C); with CPU
# offload D needs OFFLOAD_D and E is slower.
GRADE_A, GRADE_B, GRADE_C = 30.0, 12.0, 5.0
OFFLOAD_D = 3.0


def usable_bytes(device: Device) -> int:
    if device.device_class == "apple":
        share = 0.75 if device.memory_bytes > 36 * 10**9 else 2 / 3
        return int(device.memory_bytes * share)
    if device.device_class == "cpu":
        return max(device.memory_bytes - CPU_OS_RESERVE, 0)
    return (device.memory_bytes - GPU_RESERVE) * device.count


@dataclass(frozen=True)
class Fit:
    status: str  # "fits", "tight", "offload", "no"
    headroom_bytes: int
    gpu_layers: int
    n_layers: int
    decode_tokens_per_s: float | None
    grade: str
    reason: str


def _layer_bytes(est: MemoryEstimate, n_layers: int) -> tuple[int, int]:
    """Bytes of the repeating layers (weights + their cache) and of everything else."""
    per_layer = (est.weights.layer_bytes + est.kv.bytes) // max(n_layers, 1)
    rest = est.total_bytes - per_layer * n_layers
    return per_layer, rest


def fit(inv: Inventory, est: MemoryEstimate, device: Device, depth: int = 0, batch: int = 1) -> Fit:
    """Status, headroom, layers on the GPU, decode speed and an A-F grade with a reason."""
    usable = usable_bytes(device)
    need = est.total_bytes
    headroom = usable - need
    n = inv.n_layers
    if headroom >= 0:
        tps = batch / decode_step_s(inv, est.weights, est.kv, device, depth, batch)
        status = "fits" if headroom >= max(GIB, usable // 10) else "tight"
        return _graded(status, headroom, n, n, tps / batch)
    if device.device_class in ("apple", "cpu"):
        return _graded("no", headroom, 0, n, None)
    per_layer, rest = _layer_bytes(est, n)
    gpu_layers = max(0, min(n, (usable - rest) // max(per_layer, 1)))
    cpu_part = per_layer * (n - gpu_layers)
    if gpu_layers == 0 or cpu_part > HOST_MEMORY - CPU_OS_RESERVE:
        return _graded("no", headroom, gpu_layers, n, None)
    gpu_time = decode_step_s(inv, est.weights, est.kv, device, depth, 1) * gpu_layers / n
    cpu_time = cpu_part / (HOST_BANDWIDTH_GBPS * 1e9 * 0.7)
    return _graded("offload", headroom, gpu_layers, n, 1 / (gpu_time + cpu_time))


def _graded(status: str, headroom: int, gpu_layers: int, n: int, tps: float | None) -> Fit:
    if status == "no":
        reason = f"needs {units.gib(-headroom)} more than this device can use"
        return Fit(status, headroom, gpu_layers, n, None, "F", reason)
    assert tps is not None
    speed = f"~{units.tps(tps)} tokens/s"
    if status == "offload":
        grade = "D" if tps >= OFFLOAD_D else "E"
        reason = f"only {gpu_layers} of {n} layers fit on the GPU; {speed} with CPU offload"
        return Fit(status, headroom, gpu_layers, n, tps, grade, reason)
    room = f"{units.gib(headroom)} free"
    if status == "tight":
        grade = "C" if tps >= GRADE_C else "D"
        return Fit(status, headroom, gpu_layers, n, tps, grade, f"fits tightly ({room}); {speed}")
    grade = "A" if tps >= GRADE_A else "B" if tps >= GRADE_B else "C" if tps >= GRADE_C else "D"
    return Fit(status, headroom, gpu_layers, n, tps, grade, f"fits with {room}; {speed}")
