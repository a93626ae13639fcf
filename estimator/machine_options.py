"""The machine a caller describes (the `estimate` command, /api/v1/estimate, later the pages),
checked and turned into an `estimator.machine.Machine`.

One set of rules for every caller, so that an option means the same everywhere and one that
cannot apply is refused rather than ignored:
- no device and `gpu_count` >= 1: no machine (a memory estimate only), and no machine option;
- `gpu_count` 0, or a CPU-class device: a CPU-only machine; the GPU options (`reserved_gb`,
  `gpu_limit_gb`, `unified`, `ngl`, `n_cpu_moe`) are refused. It has `ram_gb` of RAM at
  `ram_bandwidth_gbps` (default: a CPU-class, Apple or unified device's own, else machine.py's);
- an Apple device: unified memory whose RAM is `ram_gb` (default: the chip's memory) at the
  chip's bandwidth, so `ram_bandwidth_gbps` / `ram_preset` are refused;
- a unified-memory device (DGX Spark, Strix Halo), or `unified` with another: one GPU using
  system memory, `ram_gb` of it (default: the device's memory), the CPU reading it at
  `ram_bandwidth_gbps` (default: the device's bandwidth);
- otherwise discrete GPUs beside system RAM; `gpu_limit_gb` is for unified memory only.
Every figure left out takes machine.py's default. Sizes are GiB (2^30 bytes), bandwidth GB/s.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from estimator import limits
from estimator.machine import RAM_PRESETS, Machine, machine_for
from estimator.throughput import Device
from estimator.units import GIB

# The bounds of the options, named as the API's fields (the command's flags add dashes).
RANGES: dict[str, limits.Range | limits.FloatRange] = {
    "gpu_count": limits.GPU_COUNT,
    "ram_gb": limits.RAM_GB,
    "ram_bandwidth_gbps": limits.RAM_BANDWIDTH,
    "reserved_gb": limits.RESERVED_GB,
    "gpu_limit_gb": limits.GPU_LIMIT_GB,
    "ngl": limits.NGL,
    "n_cpu_moe": limits.N_CPU_MOE,
}
GPU_ONLY = ("reserved_gb", "gpu_limit_gb", "unified", "ngl", "n_cpu_moe")


class MachineOptionError(ValueError):
    """An option out of range or one that cannot apply to the machine: `field` names it (as the
    API does), `reason` says why; str() is "<name as the caller spells it>: <reason>"."""

    def __init__(self, field: str, reason: str, spell: Callable[[str], str] = str) -> None:
        super().__init__(f"{spell(field)}: {reason}")
        self.field = field
        self.reason = reason


def machine_from_options(
    device: Device | None,
    gpu_count: int,
    *,
    ram_gb: int | None = None,
    ram_bandwidth_gbps: float | None = None,
    ram_preset: str | None = None,
    reserved_gb: float | None = None,
    gpu_limit_gb: float | None = None,
    unified: bool = False,
    ngl: int | None = None,
    n_cpu_moe: int | None = None,
    spell: Callable[[str], str] = str,
) -> Machine | None:
    """The machine around `device` (None: no machine), or MachineOptionError; `spell` writes an
    option's name as the caller knows it (`--ram-gb` for the command)."""
    given = {
        name: value
        for name, value in (
            ("ram_gb", ram_gb),
            ("ram_bandwidth_gbps", ram_bandwidth_gbps),
            ("ram_preset", ram_preset),
            ("reserved_gb", reserved_gb),
            ("gpu_limit_gb", gpu_limit_gb),
            ("unified", unified or None),
            ("ngl", ngl),
            ("n_cpu_moe", n_cpu_moe),
        )
        if value is not None
    }

    def refuse(field: str, reason: str) -> MachineOptionError:
        return MachineOptionError(field, reason, spell)

    for name, value in {"gpu_count": gpu_count, **given}.items():
        reason = _out_of_range(name, value)
        if reason:
            raise refuse(name, reason)
    if ram_preset is not None and ram_bandwidth_gbps is not None:
        raise refuse(
            "ram_preset", f"give {spell('ram_preset')} or {spell('ram_bandwidth_gbps')}, not both"
        )
    bandwidth = RAM_PRESETS[ram_preset][1] if ram_preset is not None else ram_bandwidth_gbps
    ram = None if ram_gb is None else ram_gb * GIB
    if device is None and gpu_count >= 1:
        if given:
            name = next(iter(given))
            raise refuse(name, f"needs a GPU, or {spell('gpu_count')} 0 for a CPU-only machine")
        return None
    if device is None or gpu_count == 0 or device.device_class == "cpu":
        gpu_option = next((n for n in GPU_ONLY if n in given), None)
        if gpu_option:
            raise refuse(gpu_option, "needs a GPU; this machine is CPU-only")
        if device is not None and (device.device_class in ("apple", "cpu") or device.unified):
            # The CPU reads the device's own memory (a Mac's, a unified PC's, a CPU platform's).
            ram = device.memory_bytes if ram is None else ram
            bandwidth = device.bandwidth_gbps if bandwidth is None else bandwidth
        return machine_for(None, 0, ram_bytes=ram, ram_bandwidth_gbps=bandwidth)
    apple = device.device_class == "apple"
    if apple and bandwidth is not None:
        name = "ram_preset" if ram_preset is not None else "ram_bandwidth_gbps"
        raise refuse(
            name, f"Apple silicon's memory bandwidth is the chip's ({device.bandwidth_gbps:g} GB/s)"
        )
    if (unified or device.unified) and not apple and gpu_count != 1:
        name = "unified" if unified else "gpu_count"
        raise refuse(name, f"a unified-memory machine has one GPU, not {gpu_count}")
    if gpu_limit_gb is not None and not (apple or unified or device.unified):
        raise refuse(
            "gpu_limit_gb",
            f"only for unified memory (Apple silicon, a unified-memory device, or "
            f"{spell('unified')})",
        )
    return machine_for(
        device,
        gpu_count,
        ram_bytes=ram,
        ram_bandwidth_gbps=bandwidth,
        reserved_bytes=None if reserved_gb is None else int(reserved_gb * GIB),
        gpu_limit_bytes=None if gpu_limit_gb is None else int(gpu_limit_gb * GIB),
        unified=unified,
    )


def _out_of_range(name: str, value: object) -> str:
    """Why `value` is no valid `name` ("" when it is)."""
    if name == "ram_preset":
        return "" if value in RAM_PRESETS else f"must be one of {', '.join(RAM_PRESETS)}"
    bounds = RANGES.get(name)
    if bounds is None:
        return ""
    whole = isinstance(bounds, limits.Range)
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        return f"must be a {'whole ' if whole else ''}number, not {value!r}"
    if not (math.isfinite(value) and bounds.low <= value <= bounds.high):
        return f"must be between {bounds.low:g} and {bounds.high:g}, not {value}"
    return ""
