"""The plan for one model on one machine: llama.cpp's placement, whether it fits, and its speed.

Placement is llama.cpp's own (`placement.fit_params`, or the `-ngl` / `--n-cpu-moe` the user
forces). Speed follows it:
- decode: every device reads its share of a token's bytes at its own bandwidth: the GPUs their
  weights (MoE: only the routed experts in use) and their layers' KV cache; system memory the
  tensors left there, at the RAM bandwidth; plus the per-layer overhead of each device (a layer
  whose experts the CPU computes pays the CPU's too) and a hop for every crossing between
  devices (activations over PCIe and a synchronisation);
- prefill: with batches of 32 tokens or more llama.cpp runs every matrix multiplication on the
  first GPU, copying the weights held in system memory over PCIe for each ubatch, so a ubatch
  takes its FLOPs at the GPU's prefill rate plus that copy: a larger `-ub` amortises the copy.
  On a unified-memory machine nothing is copied; a CPU-only machine computes at the CPU's rate.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from functools import lru_cache

from estimator.machine import FIT_MARGIN, Machine
from estimator.memory import MemoryOptions, _encoder, _inventory, _weights, shape
from estimator.placement import (
    CPU,
    FitError,
    Layout,
    Model,
    Sizer,
    fit_params,
    model_bytes,
    n_cpu_moe_overrides,
)
from estimator.throughput import (
    CPU_TFLOPS,
    PROFILES,
    kv_bytes_read,
    prefill_flops,
    prefill_ubatch_s,
)

CPU_EFFICIENCY = PROFILES["CPU"].eta
CPU_LAYER_OVERHEAD_S = PROFILES["CPU"].layer_s
# One device crossing: the scheduler copies a split's inputs one by one, each with a
# synchronisation (the CPU backend has no asynchronous copy), and the result back.
HOP_S = 50e-6


@dataclass(frozen=True)
class Plan:
    layout: Layout
    fits: bool
    missing_vram: int  # bytes the worst GPU lacks (0: enough)
    missing_ram: int  # bytes system memory lacks
    host_bytes: int  # system memory llama.cpp allocates (weights left there, cache, buffers)
    mmproj_bytes: int  # the multimodal encoder and its compute buffer (first GPU, else RAM)
    free: tuple[int, ...]  # free memory of each GPU before loading
    forced: bool  # the user set -ngl / --n-cpu-moe
    decode_tokens_per_s: float | None
    prefill_tokens_per_s: float | None
    notes: tuple[str, ...]

    @property
    def on_gpu(self) -> bool:
        """Everything but the input embedding is on the GPU(s)."""
        return (
            bool(self.layout.devices)
            and self.layout.host.layers == 0
            and not any(o.device == CPU for o in self.layout.overrides)
            and self.layout.layer_device[-1] != CPU
        )

    @property
    def expert_layers_on_cpu(self) -> int:
        return self.layout.experts_on_cpu


@lru_cache(maxsize=1024)
def model(key: str, file_type: str) -> Model:
    """What placement needs of a model (`key`: config_key) at one quant."""
    return model_bytes(_inventory(key), _weights(key, file_type)[0], shape(key).n_ctx_train)


@lru_cache(maxsize=4096)
def _sizer_for(
    key: str, opts: MemoryOptions, free: tuple[int, ...], host_total: int, unified: bool
) -> Sizer:
    """A Sizer depends on the model, the options and the free memory only: devices with the
    same memory share it (a page sizes the same model on ~70 devices)."""
    return Sizer(
        model(key, opts.file_type),
        _inventory(key),
        shape(key),
        opts,
        free,
        host_total,
        unified_host=unified,
    )


def make_plan(
    key: str,
    opts: MemoryOptions,
    machine: Machine,
    *,
    ngl: int | None = None,
    n_cpu_moe: int | None = None,
    depth: int = 0,
    auto_ctx: bool = False,
) -> Plan:
    """Placement, fit and speed of the model (`key`, a config_key) at `opts` on `machine`."""
    return _plan(key, opts, machine, ngl, n_cpu_moe, depth, auto_ctx)


@lru_cache(maxsize=4096)
def _plan(
    key: str,
    opts: MemoryOptions,
    machine: Machine,
    ngl: int | None,
    n_cpu_moe: int | None,
    depth: int,
    auto_ctx: bool,
) -> Plan:
    nd = 0 if machine.cpu_only else machine.gpu_count
    free = tuple(machine.gpu_free() for _ in range(nd))
    layout, notes = _placement(
        key, opts, free, machine.ram_bytes, machine.unified, ngl, n_cpu_moe, auto_ctx
    )
    forced = ngl is not None or n_cpu_moe is not None
    encoder = _encoder_total(key, opts)
    sizer = _sizer_for(key, replace(opts, n_ctx=layout.n_ctx), free, machine.ram_bytes,
                       machine.unified)  # fmt: skip
    used = [u.total + (encoder if i == 0 else 0) for i, u in enumerate(layout.devices)]
    missing_vram = max((u - f for u, f in zip(used, free, strict=True)), default=0)
    ram_free = machine.host_free()
    if machine.unified:
        ram_free -= sum(used)
    host = layout.host.total + (0 if nd else encoder)
    missing_ram = max(host - ram_free, 0)
    fits = missing_vram <= 0 and missing_ram <= 0
    decode = _decode(sizer, layout, machine, depth) if fits else None
    prefill = _prefill(key, sizer, layout, machine, opts) if fits else None
    return Plan(
        layout=layout,
        fits=fits,
        missing_vram=max(missing_vram, 0),
        missing_ram=missing_ram,
        host_bytes=host,
        mmproj_bytes=encoder,
        free=free,
        forced=forced,
        decode_tokens_per_s=decode,
        prefill_tokens_per_s=prefill,
        notes=notes,
    )


def _encoder_total(key: str, opts: MemoryOptions) -> int:
    if opts.mmproj == "none":
        return 0
    size, compute, _ = _encoder(key, opts.mmproj)
    return size + compute


@lru_cache(maxsize=4096)
def _placement(
    key: str,
    opts: MemoryOptions,
    free: tuple[int, ...],
    host_total: int,
    unified: bool,
    ngl: int | None,
    n_cpu_moe: int | None,
    auto_ctx: bool,
) -> tuple[Layout, tuple[str, ...]]:
    """llama.cpp's placement (or the forced one) and its notes: it depends on the devices' free
    memory, not on their speed, so devices of the same memory share it."""
    notes: list[str] = []
    nd = len(free)
    forced = ngl is not None or n_cpu_moe is not None
    n_streams = 1 if opts.unified else max(1, opts.n_seq)

    def sizer_at(n: int) -> Sizer:
        return _sizer_for(key, opts if n == opts.n_ctx else replace(opts, n_ctx=n), free,
                          host_total, unified)  # fmt: skip

    sizer = sizer_at(opts.n_ctx)
    n_ctx_train = sizer.model.n_ctx_train
    margins = [FIT_MARGIN] * max(nd, 1)
    if nd:
        # llama-server adds the encoder's memory to --fit's margin of the GPU it loads on.
        margins[0] += _encoder_total(key, opts)
    if nd == 0 and not auto_ctx:
        return sizer.layout(-1, [], []), ()
    try:
        result = fit_params(
            sizer_at,
            None if auto_ctx else opts.n_ctx,
            margins,
            n_ctx_train,
            n_streams=n_streams,
            fill=not forced,
        )
        layout = result.layout
        notes += result.notes
    except FitError as e:
        layout = sizer_at(n_ctx_train if auto_ctx else opts.n_ctx).layout(-1, [], [])
        notes.append(str(e))
    if forced and nd:
        sizer = sizer_at(layout.n_ctx)
        moe = sizer.model.n_experts > 0
        overrides = n_cpu_moe_overrides(n_cpu_moe or 0, sizer.n_layer) if moe else []
        ngl = None if ngl is None else min(ngl, sizer.n_layer + 1)
        layout = sizer.layout(-1 if ngl is None else ngl, [], overrides)
    return layout, tuple(notes)


def _decode(sizer: Sizer, layout: Layout, machine: Machine, depth: int) -> float:
    """Tokens/s of one sequence under this placement."""
    kv = layout.kv
    kv_total = max(kv.bytes, 1)
    kv_read = kv_bytes_read(kv, depth)
    seconds = 0.0
    gpu = machine.gpu
    for use in layout.devices:
        if gpu is None:
            break
        profile = gpu.profile
        bandwidth = gpu.bandwidth_gbps * 1e9
        cache = kv_read * use.context / kv_total  # read by the attention kernels
        read_s = use.read / profile.eta + cache / profile.cache_eta
        seconds += read_s / bandwidth / gpu.calibration
        seconds += use.layers * profile.layer_cost(gpu.segment)
    host = layout.host
    # The input embedding is a row lookup: `read` never counts it.
    host_read = host.read + kv_read * host.context / kv_total
    if host_read:
        seconds += host_read / (CPU_EFFICIENCY * machine.ram_bandwidth_gbps * 1e9)
    # A layer computed on the CPU, whole or only its experts (a decoded token is below
    # GGML_OP_OFFLOAD_MIN_BATCH, so the CPU runs them): a dozen operations, each ending in a
    # thread barrier.
    seconds += (host.layers + layout.experts_on_cpu) * CPU_LAYER_OVERHEAD_S
    seconds += HOP_S * _hops(layout)
    return 1.0 / seconds if seconds > 0 else 0.0


def _hops(layout: Layout) -> int:
    """Device crossings per token: between consecutive layers on different devices, and twice
    for a layer whose tensors are split between a GPU and system memory."""
    devices = layout.layer_device
    hops = sum(1 for a, b in itertools.pairwise(devices) if a != b)
    return hops + 2 * sum(1 for o in layout.overrides if o.layer < len(layout.layer_device) - 1)


def _prefill(
    key: str, sizer: Sizer, layout: Layout, machine: Machine, opts: MemoryOptions
) -> float | None:
    """Prompt tokens/s for ubatches of `opts.n_ubatch` tokens under this placement."""
    inv = _inventory(key)
    weights = _weights(key, opts.file_type)[0]
    ub = max(min(opts.n_ubatch, max(opts.n_ctx, 1)), 1)
    gpu = machine.gpu
    if gpu is None or not layout.devices:
        cpu = machine.cpu
        seconds = prefill_ubatch_s(inv, weights, cpu, ub, 0)
        return ub / seconds if seconds else None
    seconds = prefill_ubatch_s(inv, weights, gpu, ub, 0)
    if seconds is None:
        return None
    host_weights = layout.host.model - sizer.model.input_bytes
    if host_weights > 0:
        if sizer.op_offload and machine.pcie_gbps:
            seconds += host_weights / (machine.pcie_gbps * 1e9)
        else:
            # Small ubatches (or unified memory): the CPU computes its share itself.
            share = host_weights / max(sum(u.model for u in layout.devices) + host_weights, 1)
            seconds += prefill_flops(inv, ub, 0) * ub * share / (CPU_TFLOPS * 1e12)
    return ub / seconds
