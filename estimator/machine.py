"""The machine a model runs on: GPU(s), system RAM and what is already using them.

A machine is one of three kinds:
- discrete GPUs (one model, 1-8 of them) beside system RAM: llama.cpp keeps weights, cache and
  compute buffers in GPU memory and can leave tensors (MoE experts, whole layers) in RAM;
- a unified-memory machine (Apple silicon, DGX Spark-class, Strix Halo-class): the GPU uses system
  memory, so what it holds and what stays with the CPU come out of the same RAM;
- a CPU alone (`gpu is None`): everything lives in RAM.
Every default is a stated constant here, and pages show it next to the figure it affects.
"""

from __future__ import annotations

from dataclasses import dataclass

from estimator.throughput import Device
from estimator.units import GIB, MIB

# System RAM kits people recognise: theoretical bandwidth = MT/s x 8 bytes x channels.
RAM_PRESETS: dict[str, tuple[str, float]] = {
    "ddr4-3200-2ch": ("DDR4-3200, dual channel (desktop)", 51.2),
    "ddr5-5600-2ch": ("DDR5-5600, dual channel (desktop)", 89.6),
    "ddr5-6000-2ch": ("DDR5-6000, dual channel (desktop)", 96.0),
    "ddr5-6400-2ch": ("DDR5-6400, dual channel (desktop)", 102.4),
    "ddr4-3200-4ch": ("DDR4-3200, quad channel (HEDT)", 102.4),
    "ddr5-5600-4ch": ("DDR5-5600, quad channel (Threadripper 7000, Xeon W-2500)", 179.2),
    "ddr4-3200-8ch": ("DDR4-3200, 8 channels (EPYC 7003, Threadripper Pro 5000)", 204.8),
    "ddr5-4800-8ch": ("DDR5-4800, 8 channels (Threadripper Pro 7000, Xeon W-3400)", 307.2),
    "ddr5-4800-12ch": ("DDR5-4800, 12 channels (EPYC 9004)", 460.8),
    "ddr5-6000-12ch": ("DDR5-6000, 12 channels (EPYC 9005)", 576.0),
}
DEFAULT_RAM_PRESET = "ddr5-6000-2ch"
DEFAULT_RAM_BYTES = 64 * GIB
# Memory the operating system and other programs keep: llama.cpp cannot use it.
OS_RESERVE = 4 * GIB
# GPU memory in use before llama.cpp starts (display, desktop, the CUDA context and other apps).
# A desktop card drives a screen; datacenter cards run headless.
RESERVED_BY_SEGMENT = {
    "consumer": 1 * GIB,
    "workstation": 768 * MIB,
    "datacenter": 512 * MIB,
}
# llama.cpp's --fit leaves this much free on every device (common/common.h fit_params_target).
FIT_MARGIN = 1024 * MIB
# Host-to-GPU copies: PCIe 4.0 x16 moves about 25 GB/s in practice (32 GB/s theoretical);
# PCIe 5.0 x16 twice that, PCIe 3.0 half.
PCIE_GBPS = {3: 13.0, 4: 25.0, 5: 50.0}
DEFAULT_PCIE = 4
# Apple: macOS lets the GPU wire about 2/3 of RAM up to 36 GB and 3/4 above
# (Metal's recommendedMaxWorkingSetSize); `sudo sysctl iogpu.wired_limit_mb=N` raises it.
APPLE_SMALL_RAM = 36 * 10**9


def apple_default_wired(ram_bytes: int) -> int:
    share = 0.75 if ram_bytes > APPLE_SMALL_RAM else 2 / 3
    return int(ram_bytes * share)


@dataclass(frozen=True)
class Machine:
    """GPU(s) + system RAM. `gpu` None is a CPU-only machine (`gpu_count` is then 0)."""

    gpu: Device | None
    gpu_count: int
    ram_bytes: int
    ram_bandwidth_gbps: float
    reserved_bytes: int  # in use per GPU before llama.cpp starts
    unified: bool = False  # the GPU's memory is the system RAM
    gpu_limit_bytes: int | None = None  # unified: what the GPU may use (Apple's wired limit)
    pcie_gbps: float = PCIE_GBPS[DEFAULT_PCIE]

    @property
    def cpu_only(self) -> bool:
        return self.gpu is None or self.gpu_count == 0

    @property
    def backend(self) -> str:
        """llama.cpp's name of the GPUs' backend ("" on a CPU-only machine): GGML_CUDA_NAME
        (CUDA, or ROCm in a HIP build), GGML_METAL_NAME (MTL), Vulkan and SYCL."""
        if self.cpu_only or self.gpu is None:
            return ""
        return {"Metal": "MTL"}.get(self.gpu.engine_backend, self.gpu.engine_backend)

    def device_names(self) -> list[str]:
        """llama.cpp's names of the GPUs, in order: CUDA0, CUDA1, ..., ROCm0, MTL0."""
        return [f"{self.backend}{i}" for i in range(0 if self.cpu_only else self.gpu_count)]

    def gpu_free(self) -> int:
        """Free memory one GPU reports to llama.cpp (what its --fit starts from)."""
        assert self.gpu is not None
        if self.unified:
            limit = self.gpu_limit_bytes or self.ram_bytes
            return max(min(limit, self.ram_bytes - OS_RESERVE) - self.reserved_bytes, 0)
        return max(self.gpu.memory_bytes - self.reserved_bytes, 0)

    @property
    def cpu(self) -> Device:
        """The machine's CPU and system RAM as a device (a CPU-only run)."""
        return Device(self.ram_bytes, self.ram_bandwidth_gbps, None, "cpu", "cpu")

    def host_free(self) -> int:
        """System RAM llama.cpp can fill (before what a unified GPU takes from it)."""
        return max(self.ram_bytes - OS_RESERVE, 0)


def default_reserved(device: Device | None) -> int:
    """GPU memory assumed in use before llama.cpp starts, by device class."""
    if device is None or device.device_class in ("apple", "cpu"):
        return 0
    return RESERVED_BY_SEGMENT.get(device.segment, 1 * GIB)


def machine_for(
    gpu: Device | None,
    gpu_count: int = 1,
    *,
    ram_bytes: int | None = None,
    ram_bandwidth_gbps: float | None = None,
    reserved_bytes: int | None = None,
    gpu_limit_bytes: int | None = None,
    pcie_gbps: float | None = None,
    unified: bool = False,
) -> Machine:
    """A machine with every unstated figure at its default.

    An Apple device is its own RAM (memory and bandwidth are the chip's); a CPU-class device is a
    CPU-only machine with that RAM; `unified` makes a GPU use system memory (DGX Spark-class,
    Strix Halo-class: the RAM is the device's memory unless given).
    """
    if gpu is not None and (unified or gpu.unified) and gpu.device_class not in ("apple", "cpu"):
        ram = gpu.memory_bytes if ram_bytes is None else ram_bytes
        return Machine(
            gpu=gpu,
            gpu_count=1,
            ram_bytes=ram,
            ram_bandwidth_gbps=gpu.bandwidth_gbps
            if ram_bandwidth_gbps is None
            else ram_bandwidth_gbps,
            reserved_bytes=0 if reserved_bytes is None else reserved_bytes,
            unified=True,
            gpu_limit_bytes=gpu_limit_bytes,
            pcie_gbps=0.0,
        )
    if gpu is not None and gpu.device_class == "apple":
        ram = gpu.memory_bytes if ram_bytes is None else ram_bytes
        limit = apple_default_wired(ram) if gpu_limit_bytes is None else gpu_limit_bytes
        return Machine(
            gpu=gpu,
            gpu_count=1,
            ram_bytes=ram,
            ram_bandwidth_gbps=gpu.bandwidth_gbps,
            reserved_bytes=0 if reserved_bytes is None else reserved_bytes,
            unified=True,
            gpu_limit_bytes=limit,
            pcie_gbps=0.0,
        )
    if gpu is not None and gpu.device_class == "cpu":
        return Machine(
            gpu=None,
            gpu_count=0,
            ram_bytes=gpu.memory_bytes if ram_bytes is None else ram_bytes,
            ram_bandwidth_gbps=gpu.bandwidth_gbps
            if ram_bandwidth_gbps is None
            else ram_bandwidth_gbps,
            reserved_bytes=0,
        )
    bandwidth = RAM_PRESETS[DEFAULT_RAM_PRESET][1]
    return Machine(
        gpu=gpu if gpu_count else None,
        gpu_count=gpu_count if gpu is not None else 0,
        ram_bytes=DEFAULT_RAM_BYTES if ram_bytes is None else ram_bytes,
        ram_bandwidth_gbps=bandwidth if ram_bandwidth_gbps is None else ram_bandwidth_gbps,
        reserved_bytes=default_reserved(gpu) if reserved_bytes is None else reserved_bytes,
        unified=False,
        gpu_limit_bytes=None,
        pcie_gbps=PCIE_GBPS[DEFAULT_PCIE] if pcie_gbps is None else pcie_gbps,
    )
