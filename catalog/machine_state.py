"""The machine around the GPU, as pages read it from the query string.

Every page that shows a fit (model page, home page, hardware pages, compare) takes the same
parameters, read leniently (clamped and noted, never refused):

    ram=64           system RAM, GiB
    ram_type=ddr5-6000-2ch | ... | custom     a preset (estimator.machine.RAM_PRESETS)
    ram_gbps=96      bandwidth, GB/s, with ram_type=custom
    reserved=1.5     GPU memory already in use per GPU, GiB (blank: by device class)
    wired=96         Apple: GPU wired limit, GiB (blank: macOS's default share)
    ngl=, ncmoe=     force llama.cpp's -ngl / --n-cpu-moe (blank: llama.cpp's own --fit)
    ub=512           llama.cpp's -ub (prompt speed with experts in RAM rises with it)

Only values that differ from the defaults are written back into URLs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms

from catalog.forms import LenientForm
from estimator import limits
from estimator.machine import (
    DEFAULT_RAM_BYTES,
    DEFAULT_RAM_PRESET,
    RAM_PRESETS,
    Machine,
    machine_for,
)
from estimator.throughput import Device
from estimator.units import GIB

RAM_STOPS = (8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048)
UBATCH_STOPS = (128, 256, 512, 1024, 2048, 4096, 8192)
CUSTOM = "custom"
RAM_TYPES = (*RAM_PRESETS, CUSTOM)
DEFAULT_RAM_GIB = DEFAULT_RAM_BYTES // GIB
DEFAULT_UBATCH = limits.UBATCH.default


@dataclass(frozen=True)
class MachineState:
    ram: int = DEFAULT_RAM_GIB
    ram_type: str = DEFAULT_RAM_PRESET
    ram_gbps: float | None = None
    reserved: float | None = None
    wired: float | None = None
    ngl: int | None = None
    ncmoe: int | None = None
    ub: int = DEFAULT_UBATCH
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def bandwidth_gbps(self) -> float:
        if self.ram_type == CUSTOM and self.ram_gbps:
            return self.ram_gbps
        return RAM_PRESETS.get(self.ram_type, RAM_PRESETS[DEFAULT_RAM_PRESET])[1]

    @property
    def ram_label(self) -> str:
        if self.ram_type == CUSTOM:
            return f"{self.bandwidth_gbps:g} GB/s"
        return RAM_PRESETS.get(self.ram_type, RAM_PRESETS[DEFAULT_RAM_PRESET])[0]

    @property
    def forced(self) -> bool:
        return self.ngl is not None or self.ncmoe is not None

    def machine(self, device: Device | None, count: int = 1) -> Machine:
        """This machine around `device` (count GPUs). An Apple chip or a unified-memory PC is its
        own RAM; a CPU-class device takes this RAM's size but keeps its own bandwidth."""
        own_ram = device is not None and (device.device_class == "apple" or device.unified)
        cpu = device is not None and device.device_class == "cpu"
        return machine_for(
            device,
            count,
            ram_bytes=None if own_ram else self.ram * GIB,
            ram_bandwidth_gbps=None if own_ram or cpu else self.bandwidth_gbps,
            reserved_bytes=None if self.reserved is None else int(self.reserved * GIB),
            gpu_limit_bytes=None if self.wired is None else int(self.wired * GIB),
        )

    def query_items(self) -> dict[str, Any]:
        """The parameters that differ from the defaults, for URLs."""
        out: dict[str, Any] = {}
        if self.ram != DEFAULT_RAM_GIB:
            out["ram"] = self.ram
        if self.ram_type != DEFAULT_RAM_PRESET:
            out["ram_type"] = self.ram_type
        if self.ram_type == CUSTOM and self.ram_gbps is not None:
            out["ram_gbps"] = f"{self.ram_gbps:g}"
        for name in ("reserved", "wired"):
            value = getattr(self, name)
            if value is not None:
                out[name] = f"{value:g}"
        for name in ("ngl", "ncmoe"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.ub != DEFAULT_UBATCH:
            out["ub"] = self.ub
        return out


class MachineForm(LenientForm):
    """The machine's query parameters (see the module docstring); bounds from estimator.limits."""

    ram = forms.IntegerField(
        label="System RAM (GiB)", min_value=limits.RAM_GB.low, max_value=limits.RAM_GB.high,
        initial=DEFAULT_RAM_GIB,
    )  # fmt: skip
    ram_type = forms.ChoiceField(
        label="RAM type",
        choices=[(k, RAM_PRESETS[k][0] if k in RAM_PRESETS else "Custom") for k in RAM_TYPES],
        initial=DEFAULT_RAM_PRESET,
    )
    ram_gbps = forms.FloatField(
        label="RAM bandwidth (GB/s)", min_value=limits.RAM_BANDWIDTH.low,
        max_value=limits.RAM_BANDWIDTH.high, initial=None, required=False,
    )  # fmt: skip
    reserved = forms.FloatField(
        label="GPU memory in use (GiB)", min_value=limits.RESERVED_GB.low,
        max_value=limits.RESERVED_GB.high, initial=None, required=False,
    )  # fmt: skip
    wired = forms.FloatField(
        label="GPU wired limit (GiB)", min_value=limits.GPU_LIMIT_GB.low,
        max_value=limits.GPU_LIMIT_GB.high, initial=None, required=False,
    )  # fmt: skip
    ngl = forms.IntegerField(
        label="GPU layers (-ngl)", min_value=limits.NGL.low, max_value=limits.NGL.high,
        initial=None, required=False,
    )  # fmt: skip
    ncmoe = forms.IntegerField(
        label="Expert layers in RAM (--n-cpu-moe)", min_value=limits.N_CPU_MOE.low,
        max_value=limits.N_CPU_MOE.high, initial=None, required=False,
    )  # fmt: skip
    ub = forms.TypedChoiceField(
        label="Batch size (-ub)", choices=[(u, u) for u in UBATCH_STOPS], coerce=int,
        initial=DEFAULT_UBATCH,
    )  # fmt: skip

    def machine_state(self) -> MachineState:
        values = self.read()
        if values["ram_type"] == CUSTOM and values["ram_gbps"] is None:
            self.notes.append("Custom RAM needs a bandwidth (ram_gbps); using the default RAM.")
            values["ram_type"] = DEFAULT_RAM_PRESET
        if values["ram_type"] != CUSTOM:
            if values["ram_gbps"] is not None:
                self.notes.append(
                    "RAM bandwidth (GB/s) applies to the custom RAM type only; ignored."
                )
            values["ram_gbps"] = None
        return MachineState(**values, notes=tuple(self.notes))


def read_machine(params: Mapping[str, str]) -> MachineState:
    """The machine a query string describes; every correction is in `notes`."""
    return MachineForm(params).machine_state()
