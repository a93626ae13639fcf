"""The machine as list pages read it (home, hardware pages, compare): a catalog device — or
none, the CPU alone — how many of it, the memory size of a chip that comes in several, and the
machine's query parameters (catalog.machine_state: RAM size and type, GPU memory in use, the
GPU's limit on unified memory), turned into the estimator's device and machine.

What each parameter means depends on the kind of machine (`APPLIES`): discrete GPUs sit beside
the system RAM; an Apple chip or a unified-memory PC is its own RAM (its size is `ram` on the
home page and `mem` on its hardware page, its bandwidth the chip's); a CPU takes the RAM's size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from catalog.forms import MachinePickForm, machine_pick_form
from catalog.machine_state import CUSTOM, RAM_STOPS, MachineForm, MachineState, read_machine
from catalog.models import Hardware
from catalog.snapshot import Snapshot, class_of
from estimator import units
from estimator.devices import from_hardware
from estimator.machine import (
    OS_RESERVE,
    Machine,
    apple_default_wired,
    default_reserved,
    machine_for,
)
from estimator.throughput import Device
from estimator.units import GIB

CPU = "cpu"  # the home page's "no GPU" choice: the CPU alone, with the machine's RAM
# The machine's query parameters a list page reads; -ngl, --n-cpu-moe and -ub force one
# model's placement or prompt batch: the model page reads those.
PARAMS = ("ram", "ram_type", "ram_gbps", "reserved", "wired")
APPLIES = {
    "gpu": ("ram", "ram_type", "ram_gbps", "reserved"),
    "apple": ("reserved", "wired"),
    "unified": ("reserved", "wired"),
    "cpu": ("ram", "ram_type", "ram_gbps"),  # the CPU alone
    "catalog-cpu": ("ram",),  # a CPU platform in the catalog: its own bandwidth
}
EXTRA_RAM_SIZES = (18, 36)  # GiB: Apple chips come with them, no PC kit does


def read_state(params: Mapping[str, str], kind: str | None = None) -> MachineState:
    """The machine's parameters a list page reads: all, or those that apply to one kind of
    machine (corrections in `notes`)."""
    names = PARAMS if kind is None else APPLIES[kind]
    return read_machine({k: params[k] for k in names if k in params})


def controls(state: MachineState, kinds: tuple[str, ...], ram: int | None = None) -> dict[str, Any]:
    """What templates/catalog/_machine_fields.html needs to show the controls of machines of
    these kinds; `ram` (GiB) is the size the RAM control shows (default: the state's)."""
    shown = state.ram if ram is None else ram
    return {
        "state": state,
        "ram": shown,
        "shown": {name for kind in kinds for name in APPLIES[kind]},
        "ram_sizes": sorted({*RAM_STOPS, *EXTRA_RAM_SIZES, shown}),
        "ram_types": MachineForm.base_fields["ram_type"].choices,  # type: ignore[attr-defined]
        "custom": CUSTOM,
    }


def kind_of(hw: Hardware | None) -> str:
    """gpu, apple, unified, cpu (the CPU alone) or catalog-cpu."""
    if hw is None:
        return "cpu"
    return {"apple": "apple", "unified": "unified", "cpu": "catalog-cpu"}.get(hw.kind, "gpu")


@dataclass(frozen=True)
class Chosen:
    """A machine: a catalog device (None: the CPU alone), how many, its memory (a chip's
    configuration; the RAM for the CPU alone), and the machine's parameters."""

    hardware: Hardware | None
    count: int
    memory: int  # bytes per device
    state: MachineState

    @property
    def slug(self) -> str:
        return self.hardware.slug if self.hardware else CPU

    @property
    def kind(self) -> str:
        return kind_of(self.hardware)

    @property
    def own_ram(self) -> bool:
        """The device is the machine's memory (Apple, unified-memory PCs)."""
        return self.kind in ("apple", "unified")

    def machine_items(self) -> dict[str, Any]:
        """The machine's parameters that differ from the defaults and apply to this kind."""
        return {k: v for k, v in self.state.query_items().items() if k in APPLIES[self.kind]}

    def key(self) -> str:
        """Everything the estimate depends on, for cache keys."""
        return f"{self.slug}:{self.count}:{self.memory}:{sorted(self.machine_items().items())}"

    @property
    def label(self) -> str:
        """The machine in a few words: "NVIDIA GeForce RTX 4090 + 64 GiB RAM"."""
        hw = self.hardware
        if hw is None:
            return f"CPU only + {self.state.ram} GiB RAM"
        if self.own_ram:
            return f"{hw.name}, {units.gib(self.memory)}"
        count = f"{self.count} \u00d7 " if self.count > 1 else ""
        return f"{count}{hw.name} + {self.state.ram} GiB RAM"

    def assumed(self) -> str:
        """What the machine's memory is taken to be, as the pages state it."""
        state, hw = self.state, self.hardware
        if self.own_ram:
            if state.wired:
                share = f"{state.wired:g} GiB (as set)"
            elif self.kind == "apple":
                share = f"{units.gib(apple_default_wired(self.memory))} (macOS's default)"
            else:
                share = f"all but the {units.gib(OS_RESERVE)} the system keeps"
            return f"{units.gib(self.memory)} of unified memory, of which the GPU may use {share}"
        if self.kind == "catalog-cpu":
            assert hw is not None
            return f"{state.ram} GiB of system RAM at the platform's {hw.bandwidth_gbps:g} GB/s"
        ram = f"{state.ram} GiB of {state.ram_label} system RAM ({state.bandwidth_gbps:g} GB/s)"
        if hw is None:
            return ram
        reserved = (
            int(state.reserved * GIB)
            if state.reserved is not None
            else default_reserved(from_hardware(hw))
        )
        return f"{ram}; {units.gib(reserved)} of each GPU's memory already in use"

    def estimator(self, snap: Snapshot) -> tuple[Device, Machine]:
        """The estimator's device and machine (the device with the community's calibration)."""
        hw, state = self.hardware, self.state
        if hw is None:
            calibration = snap.calibration.value("cpu")
            device = Device(self.memory, state.bandwidth_gbps, None, "cpu", "cpu", 1, calibration)
            machine = machine_for(
                None, 0, ram_bytes=self.memory, ram_bandwidth_gbps=state.bandwidth_gbps
            )
            return device, machine
        device = from_hardware(
            with_memory(hw, self.memory), self.count, snap.calibration.value(class_of(hw))
        )
        return device, state.machine(device, self.count)


def with_memory(hw: Hardware, memory: int) -> Hardware:
    """The device with another memory configuration (Apple chips come in several)."""
    if memory == hw.memory_bytes:
        return hw
    copy = Hardware(**{f.attname: getattr(hw, f.attname) for f in hw._meta.concrete_fields})
    copy.memory_bytes = memory
    return copy


def memory_sizes(hw: Hardware) -> list[int]:
    """The memory sizes a device comes in, GiB."""
    return sorted({m >> 30 for m in hw.memory_options_bytes or []} | {hw.memory_bytes >> 30})


@dataclass(frozen=True)
class Pick:
    """The home page's machine as read from its query string (None: no machine chosen)."""

    chosen: Chosen | None
    runs: bool  # list only what runs on it
    state: MachineState  # as read (the controls show it with no machine chosen)
    notes: tuple[str, ...]

    def query_items(self) -> dict[str, Any]:
        """The machine's parameters for URLs (only what differs from the defaults)."""
        chosen = self.chosen
        if chosen is None:
            return {}
        items: dict[str, Any] = {"gpu": chosen.slug}
        if chosen.count != 1:
            items["gpu_count"] = chosen.count
        hw = chosen.hardware
        if hw is not None and chosen.own_ram and chosen.memory != hw.memory_bytes:
            items["ram"] = chosen.memory >> 30  # the chip's memory size
        items |= chosen.machine_items()
        if self.runs:
            items["runs"] = 1
        return items


def pick(params: Mapping[str, str], snap: Snapshot) -> Pick:
    """The machine the home page's query string describes; every correction is noted."""
    form = _pick_form(snap)(params)
    values = form.read()
    gpu, count = values["gpu"], values["gpu_count"]
    hw = snap.by_slug.get(gpu)
    state = read_state(params, kind_of(hw) if gpu else None)
    notes = [*form.notes, *state.notes]
    if not gpu:
        return Pick(None, False, state, tuple(notes))
    if hw is None:  # the CPU alone
        chosen = Chosen(None, 1, state.ram * GIB, state)
    elif hw.kind in ("apple", "unified"):
        chosen = Chosen(hw, 1, _configured_memory(hw, params, state, notes), state)
    else:
        chosen = Chosen(hw, count if hw.kind == "gpu" else 1, hw.memory_bytes, state)
    if count != chosen.count:
        name = hw.name if hw else "the CPU alone"
        notes.append(f"GPUs {count}: {name} is one device; using 1.")
    return Pick(chosen, values["runs"] == "1", state, tuple(notes))


def _configured_memory(
    hw: Hardware, params: Mapping[str, str], state: MachineState, notes: list[str]
) -> int:
    """A chip's memory: the `ram` asked for when the chip comes with that much, else the
    catalog's."""
    if not params.get("ram"):
        return hw.memory_bytes
    sizes = memory_sizes(hw)
    ram = read_machine({"ram": params["ram"]})  # `ram` does not apply to the chip's machine
    if ram.ram in sizes:
        return ram.ram * GIB
    if not ram.notes:
        listed = (
            ", ".join(map(str, sizes[:-1])) + f" or {sizes[-1]}" if len(sizes) > 1 else sizes[0]
        )
        notes.append(f"The {hw.name} comes with {listed} GiB; using {hw.memory_bytes >> 30} GiB.")
    else:
        notes.extend(ram.notes)
    return hw.memory_bytes


def _pick_form(snap: Snapshot) -> type[MachinePickForm]:
    """The machine form with the catalog's devices, made once per catalog revision."""
    return snap.remember(
        "machine-pick-form", lambda: machine_pick_form([(d.slug, d.name) for d in snap.devices])
    )
