"""Tokens per second: decode is memory-bound, prefill compute-bound; batched serving.

decode: each new token reads the active weights once (by their real per-tensor types; MoE reads
only the routed experts in use plus shared ones; the token embedding is a row lookup) and the
KV cache written so far, so   t_token = bytes_read / (eta x bandwidth)  per sequence step.
prefill: FLOPs per token = 2 x active parameters + attention (4 x layers x heads x head_dim x
average depth), at mfu x peak FP16 throughput.
batched: one step decodes B sequences: max(memory time with B caches and the distinct experts
B tokens route to, compute time for B tokens); aggregate = B / step, per user = aggregate / B.
Efficiency factors per device class come from calibration (docs/estimator.md, "Speed").
"""

from __future__ import annotations

from dataclasses import dataclass

from estimator.inventory import Inventory
from estimator.kv import KvCache
from estimator.quant import Weights

# Decode: t_token = bytes / (eta x bandwidth) + layers x overhead. Two constants per device
# class, fitted (least median error) across every device of the class in the calibration set
# (estimator/data/llama_cpp_tps_calibration.csv; docs/estimator.md "Speed"). AMD and CPU have no
# calibration rows yet: they use the NVIDIA constants and a wider band.
# System memory read by a CPU's threads: llama.cpp's token generation reaches about half the
# theoretical DDR bandwidth (0.54: least mean |log ratio| on the calibration half of the measured
# runs in estimator/data/offload_measurements.csv; docs/offload.md has both halves).
DECODE_EFFICIENCY = {"nvidia": 0.92, "apple": 0.94, "amd": 0.92, "cpu": 0.54}
LAYER_OVERHEAD_S = {"nvidia": 100e-6, "apple": 190e-6, "amd": 100e-6, "cpu": 60e-6}
CALIBRATED = {"nvidia", "apple"}
# Prefill reaches this share of the dense FP16 (FP32-accumulate) peak in llama.cpp's pp512:
# GeForce cards run FP16-accumulate GEMMs at twice that rate; datacenter cards do not.
PREFILL_EFFICIENCY = {"consumer": 0.65, "workstation": 0.38, "datacenter": 0.28, "apple": 0.3,
                      "cpu": 0.3}  # fmt: skip
DECODE_BAND = 0.15  # calibrated classes: median error 3-6 %, most within 15 %
UNCALIBRATED_BAND = 0.35
PREFILL_BAND = 0.40


@dataclass(frozen=True)
class Device:
    memory_bytes: int
    bandwidth_gbps: float
    fp16_tflops: float | None
    device_class: str = "nvidia"  # nvidia | amd | apple | cpu
    segment: str = "consumer"  # consumer | workstation | datacenter | apple | cpu
    count: int = 1
    # Measured / estimated decode speed from community runs on this class of device and
    # runtime (benchmarks.calibration); 1.0 where there are too few runs.
    calibration: float = 1.0
    unified: bool = False  # a GPU that uses system memory (DGX Spark-class, Strix Halo-class)

    @property
    def band(self) -> float:
        return DECODE_BAND if self.device_class in CALIBRATED else UNCALIBRATED_BAND


def _expert_fraction(inv: Inventory, batch: int) -> float:
    """Expected share of routed experts touched by `batch` tokens (uniform routing)."""
    if not inv.n_experts or not inv.n_experts_used:
        return 1.0
    p_one = inv.n_experts_used / inv.n_experts
    return 1.0 - (1.0 - p_one) ** batch


def weight_bytes_per_step(inv: Inventory, weights: Weights, batch: int = 1) -> int:
    """Weight bytes one decode step reads for `batch` sequences."""
    always, experts = weights.decode_read
    return always + int(experts * _expert_fraction(inv, batch))


def kv_bytes_per_token_of_context(kv: KvCache) -> float:
    """Cache bytes one sequence adds per token of context (full-attention layers)."""
    if not kv.cells_full:
        return 0.0
    return kv.full_bytes / (kv.cells_full * kv.streams)


def kv_bytes_read(kv: KvCache, depth: int) -> float:
    """Cache bytes one sequence reads per decoded token with `depth` tokens already cached."""
    read = kv_bytes_per_token_of_context(kv) * depth
    if kv.cells_swa:
        read += kv.swa_bytes / (kv.cells_swa * kv.streams) * min(depth, kv.cells_swa)
    return read + kv.recurrent_bytes / max(kv.streams, 1)


def decode_step_s(
    inv: Inventory, weights: Weights, kv: KvCache, device: Device, depth: int, batch: int
) -> float:
    """Seconds for one decode step of `batch` sequences: memory- or compute-bound."""
    eta = DECODE_EFFICIENCY.get(device.device_class, 0.92)
    read = weight_bytes_per_step(inv, weights, batch) + kv_bytes_read(kv, depth) * batch
    memory = read / (eta * device.bandwidth_gbps * 1e9)
    memory += inv.n_layers * LAYER_OVERHEAD_S.get(device.device_class, 100e-6)
    memory /= device.calibration
    compute = 0.0
    if device.fp16_tflops:
        mfu = PREFILL_EFFICIENCY.get(device.segment, 0.3)
        compute = batch * 2 * inv.params_active / (device.fp16_tflops * 1e12 * mfu)
    return max(memory, compute)


def decode_tokens_per_s(
    inv: Inventory,
    weights: Weights,
    kv: KvCache,
    device: Device,
    depth: int = 0,
    batch: int = 1,
    runtime: str = "llama.cpp",
) -> tuple[float, float]:
    """(aggregate, per sequence) decode tokens/s for `batch` sequences at `depth` tokens."""
    aggregate = batch / decode_step_s(inv, weights, kv, device, depth, batch)
    return aggregate, aggregate / batch


def decode_roofline(
    inv: Inventory, weights: Weights, kv: KvCache, device: Device, depth: int, batch: int
) -> float:
    """Aggregate decode tokens/s no engine can exceed: every byte a step reads moved at the full
    memory bandwidth of all `device.count` devices (as if tensor-parallel), with no overhead."""
    read = weight_bytes_per_step(inv, weights, batch) + kv_bytes_read(kv, depth) * batch
    return batch * device.bandwidth_gbps * 1e9 * device.count / read


# llama.cpp's quantized matrix multiplications run on INT8 tensor cores (MMQ): GeForce cards do
# INT8 at 4x their dense FP16 (FP32-accumulate) rate, the fastest ratio in the catalog.
PREFILL_ROOFLINE_FACTOR = 4.0


def prefill_roofline(inv: Inventory, n_tokens: int, depth: int, device: Device) -> float | None:
    """Prompt tokens/s no engine can exceed: the FLOPs per token at 4x the dense FP16 peak of
    all `device.count` devices; None when the device's FP16 throughput is unknown."""
    if not device.fp16_tflops:
        return None
    peak = device.fp16_tflops * 1e12 * device.count * PREFILL_ROOFLINE_FACTOR
    return peak / prefill_flops(inv, n_tokens, depth)


def prefill_flops(inv: Inventory, n_tokens: int, depth: int) -> float:
    """FLOPs per prompt token: 2 x active parameters plus attention over the average depth."""
    head_width = sum(layer.k_width for layer in inv.cache if layer.kind != "recurrent")
    kv_heads = inv.n_kv_heads or inv.attention_kv_heads or 1
    attention = 4 * head_width * inv.n_heads / kv_heads * (depth + n_tokens / 2)
    return 2 * inv.params_active + attention


def prefill_tokens_per_s(
    inv: Inventory, n_tokens: int, depth: int, device: Device, weights: Weights | None = None
) -> float | None:
    """Prompt processing tokens/s, or None when the device's FP16 throughput is unknown."""
    if not device.fp16_tflops:
        return None
    flops = prefill_flops(inv, n_tokens, depth)
    mfu = PREFILL_EFFICIENCY.get(device.segment, 0.3)
    return device.fp16_tflops * 1e12 * mfu / flops
