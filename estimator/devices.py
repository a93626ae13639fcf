"""Devices for the estimator from catalog hardware or explicit figures (thin Django layer)."""

from __future__ import annotations

from typing import Any

from estimator.throughput import Device
from estimator.units import GIB


def device_class(vendor: str, kind: str) -> str:
    if kind == "apple" or vendor.lower() == "apple":
        return "apple"
    if kind == "cpu":
        return "cpu"
    return {"amd": "amd", "intel": "intel"}.get(vendor.lower(), "nvidia")


def from_hardware(hw: Any, count: int = 1, calibration: float = 1.0) -> Device:
    """A catalog Hardware row (catalog.models.Hardware) as the estimator's Device."""
    return Device(
        memory_bytes=hw.memory_bytes,
        bandwidth_gbps=hw.bandwidth_gbps,
        fp16_tflops=hw.fp16_tflops,
        device_class=device_class(hw.vendor, hw.kind),
        segment=hw.segment,
        count=count,
        calibration=calibration,
        unified=hw.kind == "unified",
        tdp_watts=hw.tdp_watts,
        architecture=hw.architecture or "",
    )


def from_figures(
    memory_gb: float, bandwidth_gbps: float, tflops: float | None, vendor: str, count: int = 1
) -> Device:
    """A device described by its memory (GiB, as vendors sell GPU memory), bandwidth and FP16."""
    cls = device_class(vendor, "apple" if vendor == "apple" else "gpu")
    segment = "apple" if cls == "apple" else "consumer"
    return Device(int(memory_gb * GIB), bandwidth_gbps, tflops, cls, segment, count)
