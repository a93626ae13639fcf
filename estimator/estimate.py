"""One full estimate: memory, and with a device its fit, grade, speed and serving figures."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

from estimator.config import Config, text_config
from estimator.fit import fit, usable_bytes
from estimator.inventory import Inventory
from estimator.kv import kv_cache
from estimator.machine import Machine, machine_for
from estimator.memory import (
    MemoryOptions,
    _inventory,
    compute_buffer,
    config_key,
    estimate_memory,
    inventory,
    shape,
)
from estimator.plan import Plan, make_plan
from estimator.plan import model as plan_model
from estimator.report import (
    DeviceReport,
    Estimate,
    PlanDevice,
    PlanReport,
    VllmReport,
    memory_report,
)
from estimator.safetensors import safetensors_bytes
from estimator.throughput import Device, band, prefill_tokens_per_s

VLLM_GPU_MEMORY_UTILIZATION = 0.9
VLLM_BLOCK = 16
VLLM_MAX_BATCHED_TOKENS = 8192


def max_context(
    raw_config: Mapping[str, Any],
    opts: MemoryOptions,
    device: Device,
    machine: Machine | None = None,
) -> int:
    """Largest context (a multiple of 256, up to the model's maximum) at which the whole model
    stays on the device: on a GPU the input embedding stays in system memory, as in llama.cpp."""
    # The answer does not depend on the context asked for: cache it without one.
    gpu = device.device_class != "cpu"
    usable = usable_bytes(device, machine)
    return _max_context(config_key(raw_config), replace(opts, n_ctx=256), usable, gpu)


def max_contexts(
    raw_config: Mapping[str, Any], opts: MemoryOptions, devices: Sequence[Device]
) -> list[int]:
    """`max_context` on many devices (a page lists them all); the options are keyed once."""
    key, base = config_key(raw_config), replace(opts, n_ctx=256)
    return [_max_context(key, base, usable_bytes(d), d.device_class != "cpu") for d in devices]


@lru_cache(maxsize=8192)
def _max_context(key: str, opts: MemoryOptions, usable: int, gpu: bool = True) -> int:
    raw_config = json.loads(key)
    limit = Config(text_config(raw_config)).get_int("max_position_embeddings", default=131072)
    inv, dims = _inventory(key), shape(key)
    base = estimate_memory(raw_config, opts)
    fixed = base.weights_bytes + base.output_buffer_bytes
    fixed += base.mmproj_bytes + base.mmproj_compute_bytes
    if gpu:  # the input embedding and the output buffer live in system memory
        fixed -= plan_model(key, opts.file_type).input_bytes + base.output_buffer_bytes

    def fits(n_ctx: int) -> bool:
        probe = replace(opts, n_ctx=n_ctx)
        kv = kv_cache(inv, probe.kv())
        return fixed + kv.bytes + compute_buffer(dims, inv, kv, probe) <= usable

    lo, hi = 0, max(limit // 256, 1)
    while lo < hi:  # largest k with fits(256 k); memory grows with context
        mid = (lo + hi + 1) // 2
        if fits(mid * 256):
            lo = mid
        else:
            hi = mid - 1
    return min(lo * 256, limit)


def _is_mtp(name: str, inv: Inventory) -> bool:
    return name.startswith("blk.") and int(name.split(".", 2)[1]) >= inv.n_layers


@lru_cache(maxsize=1024)
def vllm_weights_bytes(key: str) -> int:
    """The bytes vLLM loads for a model (`key`: config_key): the checkpoint's, BF16 or as
    released, without the next-token-prediction layers (only speculative decoding loads them)."""
    raw_config = json.loads(key)
    inv = inventory(raw_config)
    served = replace(inv, tensors=tuple(t for t in inv.tensors if not _is_mtp(t.name, inv)))
    quantization = Config(text_config(raw_config)).data.get("quantization_config")
    sizes = safetensors_bytes(served, quantization if isinstance(quantization, dict) else None)
    return sizes.get("released", sizes["bf16"])


def vllm_view(raw_config: Mapping[str, Any], opts: MemoryOptions, device: Device) -> VllmReport:
    """vLLM: the checkpoint's weights (BF16, or as released when it is published quantized;
    next-token-prediction layers only load for speculative decoding), paged KV in blocks of
    16 tokens, budget at 0.9 utilization."""
    inv = inventory(raw_config)
    c = Config(text_config(raw_config))
    hidden = c.get_int("hidden_size", "n_embd", "d_model")
    ff = c.widest_int("intermediate_size", default=4 * hidden)
    weights = vllm_weights_bytes(config_key(raw_config))
    kv_per_token = sum(
        2 * (layer.k_width + layer.v_width) for layer in inv.cache if layer.kind != "recurrent"
    )
    activation = VLLM_MAX_BATCHED_TOKENS * (4 * hidden + 2 * ff) * 2 + (512 << 20)
    budget = int(device.memory_bytes * device.count * VLLM_GPU_MEMORY_UTILIZATION)
    budget -= weights + activation
    tokens = max(budget, 0) // (kv_per_token * VLLM_BLOCK) * VLLM_BLOCK if kv_per_token else 0
    return VllmReport(
        vllm_weights_bytes=weights,
        vllm_kv_bytes_per_token=kv_per_token,
        vllm_kv_tokens=tokens,
        vllm_max_concurrency=round(tokens / opts.n_ctx, 2),
        vllm_gpu_memory_utilization=VLLM_GPU_MEMORY_UTILIZATION,
    )


def estimate(
    raw_config: Mapping[str, Any],
    opts: MemoryOptions,
    device: Device | None = None,
    *,
    depth: int = 0,
    batch: int = 1,
    runtime: str = "llama.cpp",
    machine: Machine | None = None,
    ngl: int | None = None,
    n_cpu_moe: int | None = None,
) -> Estimate:
    """Memory, and with a device (or a machine) its fit, llama.cpp's placement, speed and (for
    vLLM) its paged-cache view. `ngl` / `n_cpu_moe` force a placement."""
    est = estimate_memory(raw_config, opts)
    memory = memory_report(est, opts)
    if device is None and machine is None:
        return Estimate(memory)
    if machine is None:
        assert device is not None
        machine = machine_for(device, device.count)
    if machine.cpu_only:
        device = machine.cpu
    elif device is None:
        device = replace(machine.gpu, count=machine.gpu_count) if machine.gpu else None
    assert device is not None
    inv = inventory(raw_config)
    f = fit(inv, est, device, depth=depth, batch=batch, machine=machine, ngl=ngl,
            n_cpu_moe=n_cpu_moe)  # fmt: skip
    plan = f.plan or make_plan(est.key, opts, machine, ngl=ngl, n_cpu_moe=n_cpu_moe, depth=depth)
    prompt = depth or max(opts.n_ctx // 2, 1)
    prefill = prefill_tokens_per_s(inv, min(prompt, opts.n_ubatch), 0, device)
    if f.plan is not None:
        prefill = plan.prefill_tokens_per_s
    per_user = f.decode_tokens_per_s
    on_device = DeviceReport(
        fits=f.status in ("fits", "tight"),
        fit_status=f.status,
        grade=f.grade,
        grade_reason=f.reason,
        usable_bytes=usable_bytes(device, machine),
        headroom_bytes=f.headroom_bytes,
        max_context=max_context(raw_config, opts, device, machine),
        gpu_layers=f.gpu_layers,
        n_layers=f.n_layers,
        decode_tokens_per_s=_round(per_user),
        prefill_tokens_per_s=_round(prefill),
        aggregate_tokens_per_s=_round(per_user * batch if per_user else None),
        per_user_tokens_per_s=_round(per_user),
        ttft_s=_round(prompt / prefill if prefill else None, 3),
        tokens_per_s_low=_round(per_user * (1 - device.band) if per_user else None),
        tokens_per_s_high=_round(per_user * (1 + device.band) if per_user else None),
        prefill_band=device.prefill_band,
        aggregate_band=band(device.engine_backend, "batched" if batch > 1 else "decode"),
        depth=depth,
        batch=batch,
        plan=plan_report(plan, machine),
    )
    vllm = vllm_view(raw_config, opts, device) if runtime == "vllm" else None
    return Estimate(memory, on_device, vllm)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def plan_report(plan: Plan, machine: Machine) -> PlanReport:
    """The plan as the API and the command print it (devices named as llama.cpp names them)."""
    layout = plan.layout
    devices = tuple(
        PlanDevice(name, u.model, u.context, u.compute, free)
        for name, u, free in zip(machine.device_names(), layout.devices, plan.free, strict=True)
    )
    return PlanReport(
        ngl=0 if machine.cpu_only else layout.ngl if layout.ngl >= 0 else len(layout.layer_device),
        n_cpu_moe=plan.expert_layers_on_cpu,
        ctx=layout.n_ctx,
        args=layout.args(machine.backend or "CUDA"),
        devices=devices,
        host_bytes=plan.host_bytes,
        mmproj_bytes=plan.mmproj_bytes,
        fits=plan.fits,
        missing_vram_bytes=plan.missing_vram,
        missing_ram_bytes=plan.missing_ram,
        ram_bytes=machine.ram_bytes,
        ram_bandwidth_gbps=machine.ram_bandwidth_gbps,
        reserved_bytes=machine.reserved_bytes,
        unified=machine.unified,
        forced=plan.forced,
    )
