"""Tokens per second, following how llama.cpp's kernels spend a step: for one user, for many
(batched decode: llama-batched-bench, llama-server's parallel slots) and for the prompt.

One step multiplies every weight matrix by N token columns (decode: N = the users decoding;
prefill: N = the ubatch; a routed expert sees only the tokens routed to it). It takes
- memory: the weights it reads once (MoE: the distinct experts the N tokens route to) plus each
  sequence's KV cache up to its depth, at eta x bandwidth;
- compute: 2 x weights x N FLOPs at the rate of the kernel the weight type runs (quantized
  types: MMQ / MMVQ / Metal's and Vulkan's dequantizing shaders; F16/BF16: float GEMM), which
  reaches its peak only with enough columns (N / (N + n_half) of it), plus attention: QK and PV
  over each token's depth, at the backend's attention rate (flash attention or the plain
  matmul + softmax path, which also moves the score matrix through memory);
- the slower of the two, plus a fixed cost per layer (kernel launches and tiny operations) and
  per step (sampling, graph build, synchronisation).
Every constant is per backend (CUDA, ROCm, Vulkan, Metal, SYCL, CPU); where a vendor quotes no
FP16 rate the compute side stands on the bandwidth alone and says so (`Device.fp16_tflops`).
The constants and the residuals behind them: docs/estimator.md "Speed" and /methodology/.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from estimator.inventory import CacheLayer, Inventory
from estimator.kv import KvCache
from estimator.quant import Weights

# Up to this many token columns llama.cpp multiplies with its mat-vec kernels (CUDA's MMVQ_MAX_
# BATCH_SIZE; Metal's and Vulkan's mul_mat_vec paths), above it with its matrix kernels.
VEC_MAX = 8


@dataclass(frozen=True)
class Profile:
    """How llama.cpp's kernels on one backend use a device (least median |log error| over the
    published llama-bench and batched-bench runs of that backend; docs/estimator.md)."""

    eta: float  # share of the memory bandwidth a decode step reaches
    layer_s: float  # fixed seconds per layer per step
    step_s: float  # fixed seconds per step
    mm_eff: float  # share of that peak a full ubatch reaches
    n_half: float  # columns at which a matmul reaches half its peak share
    vec_eff: float  # share of the FP16 peak the mat-vec kernels reach (up to VEC_MAX columns)
    blas_eff: float  # share of the float-GEMM peak (cuBLAS, hipBLAS, ...) F16/BF16 weights reach
    tile: int  # the matrix kernels compute token columns in tiles of this many (padded)
    attn_eff: float  # share of the FP16 peak attention reaches (flash attention)
    moe_eff: float = 1.0  # share of the tiled rate routed experts reach (mul_mat_id: gathers,
    # one tile grid per expert, uneven expert loads)
    dc_layer_s: float = 0.0  # per-layer cost on datacenter cards when it differs (0: layer_s)
    # Board power a tensor-core TFLOPS needs to be sustained (W per TFLOPS of the kernel's
    # peak); a card whose power is below it runs its matrix kernels at lower clocks
    # (0: no limit known).
    watts_per_tflops: float = 0.0
    # One token: the plain mat-vec kernel, whose share of the peak can differ from the
    # multi-column mat-vec kernels' (Metal's mul_mv against mul_mv_ext); 0: vec_eff.
    vec1_eff: float = 0.0
    kv_eta: float = 0.0  # share of the bandwidth the attention kernels read the cache at (0: eta)
    q_tile: int = 0  # queries per flash-attention tile in prompt processing (0: not modelled)

    @property
    def cache_eta(self) -> float:
        """Share of the bandwidth the attention kernels read the KV cache at."""
        return self.kv_eta or self.eta

    def layer_cost(self, segment: str) -> float:
        return self.dc_layer_s if segment == "datacenter" and self.dc_layer_s else self.layer_s


PROFILES: dict[str, Profile] = {
    "CUDA": Profile(
        eta=0.90, layer_s=80e-6, step_s=0.0, mm_eff=0.20, n_half=32, vec_eff=0.02,
        blas_eff=0.40, tile=8, attn_eff=0.30, moe_eff=0.7, dc_layer_s=170e-6,
        watts_per_tflops=0.6, kv_eta=0.7,
    ),
    "ROCm": Profile(
        eta=0.78, layer_s=140e-6, step_s=0.1e-3, mm_eff=0.35, n_half=32, vec_eff=0.02,
        blas_eff=0.35, tile=8, attn_eff=0.08, moe_eff=0.8, q_tile=8,
    ),
    "Vulkan": Profile(
        eta=0.78, layer_s=110e-6, step_s=0.4e-3, mm_eff=0.20, n_half=16, vec_eff=0.10,
        blas_eff=0.10, tile=32, attn_eff=0.10,
    ),
    "Metal": Profile(
        eta=0.90, layer_s=180e-6, step_s=0.0, mm_eff=0.75, n_half=1, vec_eff=0.05,
        blas_eff=0.75, tile=32, attn_eff=0.40, vec1_eff=0.10, kv_eta=0.4,
    ),
    # SYCL: 7 runs of each kind; its eta and overheads are ROCm's, its matmul shares fitted.
    "SYCL": Profile(
        eta=0.72, layer_s=200e-6, step_s=1.2e-3, mm_eff=0.25, n_half=8, vec_eff=0.10,
        blas_eff=0.60, tile=32, attn_eff=0.03,
    ),
    # vLLM (CUDA): BF16/FP8 GEMMs (cuBLAS, CUTLASS), FlashAttention, CUDA graphs; constants
    # from the vLLM runs in estimator/data/published/ (continuous batching at a stated
    # concurrency), its own band.
    "vLLM": Profile(
        eta=0.66, layer_s=130e-6, step_s=2e-3, mm_eff=0.5, n_half=32, vec_eff=0.5,
        blas_eff=0.2, tile=16, attn_eff=0.01,
    ),
    # CPU: system memory at about half its theoretical bandwidth (estimator/data/
    # offload_measurements.csv, docs/offload.md); matmuls at CPU_TFLOPS.
    "CPU": Profile(
        eta=0.54, layer_s=60e-6, step_s=0.5e-3, mm_eff=1.0, n_half=1, vec_eff=1.0,
        blas_eff=1.0, tile=1, attn_eff=1.0,
    ),
}  # fmt: skip
# The backends llama.cpp builds that run each class of device; the first is the default, the one
# llama.cpp's releases ship for it.
BACKENDS = {
    "nvidia": ("CUDA", "Vulkan"),
    "amd": ("ROCm", "Vulkan"),
    "intel": ("SYCL", "Vulkan"),
    "apple": ("Metal",),
    "cpu": ("CPU",),
}
# INT8 tensor-core rate over the dense FP16 (FP32-accumulate) figure: GeForce cards run FP16
# with FP32 accumulate at half rate, so their INT8 MMA (llama.cpp's MMQ) is 4x it, workstation and
# datacenter cards 2x (NVIDIA's whitepaper tables); Volta and older have no INT8 MMA.
HOPPER_ON = ("Hopper", "Blackwell")
CUDA_INT8_RATE = {"consumer": 4.0, "workstation": 2.0, "datacenter": 2.0, "unified": 2.0}
# A CPU's matrix throughput in llama.cpp's prompt processing (AVX2/AVX-512 on quantized weights):
# about 1 TFLOPS for 16 Zen 5 cores; scaled by nothing else we know.
CPU_TFLOPS = 1.0

# Bands: the 80th percentile of |estimate / measured - 1| over the runs of each backend and kind
# (estimator.validation.residuals; a test keeps these equal to the data). Backends with fewer
# than 20 runs of a kind take UNCALIBRATED_BAND.
BANDS: dict[tuple[str, str], float] = {
    ("CUDA", "batched"): 0.27,
    ("CUDA", "decode"): 0.1,
    ("CUDA", "prefill"): 0.35,
    ("Metal", "batched"): 0.47,
    ("Metal", "decode"): 0.21,
    ("Metal", "prefill"): 0.2,
    ("ROCm", "decode"): 0.22,
    ("ROCm", "prefill"): 0.48,
    ("Vulkan", "decode"): 0.32,
    ("Vulkan", "prefill"): 0.47,
    ("vLLM", "serving"): 0.54,
}
UNCALIBRATED_BAND = 0.35


def band(backend: str, kind: str) -> float:
    return BANDS.get((backend, kind), UNCALIBRATED_BAND)


@dataclass(frozen=True)
class Device:
    memory_bytes: int
    bandwidth_gbps: float
    fp16_tflops: float | None
    device_class: str = "nvidia"  # nvidia | amd | intel | apple | cpu
    segment: str = "consumer"  # consumer | workstation | datacenter | apple | unified | cpu
    count: int = 1
    # Measured / estimated decode speed from community runs on this class of device and
    # runtime (benchmarks.calibration); 1.0 where there are too few runs.
    calibration: float = 1.0
    unified: bool = False  # a GPU that uses system memory (DGX Spark-class, Strix Halo-class)
    tdp_watts: float | None = None  # board power; limits sustained matrix throughput
    backend: str = ""  # CUDA | ROCm | Vulkan | Metal | SYCL | CPU; "" = the class's default
    architecture: str = field(default="", compare=False)  # the catalog's, e.g. "Volta"

    @property
    def engine_backend(self) -> str:
        return self.backend or BACKENDS.get(self.device_class, ("CUDA",))[0]

    @property
    def profile(self) -> Profile:
        return PROFILES[self.engine_backend]

    @property
    def band(self) -> float:
        """+- share around a single-user decode figure on this backend."""
        return band(self.engine_backend, "decode")

    @property
    def prefill_band(self) -> float:
        return band(self.engine_backend, "prefill")

    def peak_flops(self, quantized: bool) -> float | None:
        """FLOP/s peak of the matmul kernel a weight type runs on this device (one device)."""
        if self.device_class == "cpu":
            return CPU_TFLOPS * 1e12
        if not self.fp16_tflops:
            return None
        peak = self.fp16_tflops * 1e12 * self._rate(quantized)
        return peak * self.power_share(peak)

    def power_share(self, peak: float) -> float:
        """Share of a matrix kernel's `peak` (FLOP/s) the board power sustains (power-limited
        clocks under sustained matmuls; 1 where no limit is known)."""
        need = self.profile.watts_per_tflops * peak / 1e12
        return min(1.0, self.tdp_watts / need) if need and self.tdp_watts else 1.0

    def quantized_power_share(self) -> float:
        """power_share of the quantized kernels' peak (the methodology page's example)."""
        if not self.fp16_tflops:
            return 1.0
        return self.power_share(self.fp16_tflops * 1e12 * self._rate(True))

    def _rate(self, quantized: bool) -> float:
        """The kernel's peak over the FP16 (FP32-accumulate) figure."""
        if self.engine_backend == "CUDA":
            if not quantized:  # cuBLAS F16 GEMMs accumulate in F16: full rate on GeForce too
                return 2.0 if self.segment == "consumer" else 1.0
            if self.architecture.startswith(("Volta", "Pascal")):
                return 1.0  # no INT8 MMA: dequantize + cuBLAS
            if self.segment == "datacenter" and self.architecture.startswith(HOPPER_ON):
                return 1.0  # MMQ issues Ampere-style mma.sync: about half of wgmma/tcgen05

            return CUDA_INT8_RATE.get(self.segment, 2.0)
        if quantized and self.engine_backend == "ROCm" and self.architecture.startswith("CDNA"):
            return 2.0  # MFMA INT8 at twice the FP16 rate
        return 1.0


def _expert_fraction(inv: Inventory, tokens: int) -> float:
    """Expected share of routed experts touched by `tokens` tokens (uniform routing)."""
    if not inv.n_experts or not inv.n_experts_used:
        return 1.0
    p_one = inv.n_experts_used / inv.n_experts
    return 1.0 - (1.0 - p_one) ** tokens


def weight_bytes_per_step(inv: Inventory, weights: Weights, batch: int = 1) -> int:
    """Weight bytes one step reads from memory for `batch` token columns: the dense weights
    once and every distinct routed expert the tokens route to once. Up to 8 tokens the
    mat-vec kernels (mul_mat_vec_id) visit each token's experts on their own, but the blocks
    reading the same expert run together and share it through the cache; above 8 the tiled
    kernels group the tokens by expert."""
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


def _attended(inv: Inventory, depth: float) -> list[tuple[CacheLayer, float]]:
    """The layers that attend, each with the cached tokens one query sees there: `depth`, a
    sliding-window layer at most its window."""
    out = []
    for layer in inv.cache:
        if layer.kind in ("recurrent", "none"):
            continue
        seen = depth
        if layer.kind == "swa" and inv.sliding_window:
            seen = min(depth, inv.sliding_window)
        out.append((layer, seen))
    return out


def attention_flops(inv: Inventory, depth: float) -> float:
    """FLOPs of QK and PV for one token attending to `depth` cached tokens, every layer:
    4 x query heads x head width x depth (a sliding-window layer up to its window)."""
    group = inv.n_heads / (inv.n_kv_heads or inv.attention_kv_heads or 1)
    return sum(4 * layer.k_width * group * seen for layer, seen in _attended(inv, depth))


def _padded(columns: float, tile: int) -> float:
    """Columns a tiled kernel computes for `columns` (the last tile is computed whole)."""
    return -(-columns // tile) * tile if columns >= 1 else float(tile)


def _share(columns: float, n_half: float) -> float:
    """Share of a matmul kernel's peak reached with `columns` token columns."""
    return columns / (columns + n_half)


def _matmul_s(inv: Inventory, weights: Weights, device: Device, tokens: int) -> float | None:
    """Seconds of matrix multiplications for `tokens` token columns; None when the device's
    rate is unknown. Like llama.cpp, the kernel follows the step's token count: up to VEC_MAX
    the mat-vec kernels (every token x its experts), above it the tiled matrix kernels, which
    group a routed expert's tokens (tokens x experts_used / experts touched each) and compute
    every tile whole."""
    dense_q, dense_f, expert_q, expert_f = weights.matmul_params
    p = device.profile
    vec = tokens <= VEC_MAX
    n_exp, used = inv.n_experts or 1, inv.n_experts_used or 1
    touched = n_exp * _expert_fraction(inv, tokens) if inv.n_experts else 1.0
    seconds = 0.0
    for params, quantized, expert in (
        (dense_q, True, False),
        (dense_f, False, False),
        (expert_q, True, True),
        (expert_f, False, True),
    ):
        if not params:
            continue
        # The tiled kernels, and up to VEC_MAX columns the mat-vec kernels when faster (the
        # threshold llama.cpp tunes is where they cross).
        peak = device.peak_flops(quantized)
        if peak is None:
            return None
        cols = tokens * used / touched if expert else float(tokens)
        eff = (p.mm_eff if quantized else p.blas_eff) * (p.moe_eff if expert else 1.0)
        matrices = touched / n_exp if expert else 1.0
        padded = _padded(cols, p.tile)  # a tile's efficiency is that of its full width
        best = 2 * params * matrices * padded / (peak * eff * _share(padded, p.n_half))
        if vec:
            vec_peak = device.peak_flops(False) or peak
            work = 2 * params * tokens * (used / n_exp if expert else 1.0)
            eff = p.vec1_eff if tokens == 1 and p.vec1_eff else p.vec_eff
            best = min(best, work / (vec_peak * eff))
        seconds += best
    return seconds


def _attention_s(
    inv: Inventory,
    device: Device,
    tokens: int,
    depth: float,
    p: Profile | None = None,
    flash_attn: bool = True,
) -> float:
    """Seconds of attention for `tokens` queries over `depth` cached tokens each. With flash
    attention one fused kernel at the attention share; without it llama.cpp multiplies K·Q and
    V·softmax as float GEMMs (the BLAS share) and moves the F32 score matrix through memory:
    written, read and written by the softmax, read again (16 bytes per score)."""
    peak = device.peak_flops(False)
    if peak is None:
        return 0.0
    prof = p or device.profile
    flops = tokens * attention_flops(inv, depth)
    if flash_attn:
        return flops / (peak * prof.attn_eff)
    scores = tokens * inv.n_heads * sum(seen for _, seen in _attended(inv, depth))
    return flops / (peak * prof.blas_eff) + 16 * scores / (prof.eta * device.bandwidth_gbps * 1e9)


def decode_step_s(
    inv: Inventory,
    weights: Weights,
    kv: KvCache,
    device: Device,
    depth: int,
    batch: int,
    runtime: str = "llama.cpp",
    weight_scale: float = 1.0,
    flash_attn: bool = True,
) -> float:
    """Seconds for one decode step of `batch` sequences at `depth`: memory- or compute-bound,
    plus the fixed costs. llama.cpp on N GPUs splits layers (they work in turn: one GPU's
    speed); vLLM splits tensors (N GPUs' bandwidth and compute, two all-reduces per layer),
    runs its matmuls as float (or FP8/INT4 as released) GEMMs and has its own constants
    (PROFILES["vLLM"]). `weight_scale`: the bytes the runtime's weights hold over `weights`
    (vLLM serves the checkpoint as released, not a GGUF quant)."""
    vllm = runtime == "vllm"
    p = PROFILES["vLLM"] if vllm else device.profile
    read = weight_bytes_per_step(inv, weights, batch) * weight_scale
    # The attention kernels read the cache at their own share of the bandwidth.
    read += kv_bytes_read(kv, depth) * batch * p.eta / p.cache_eta
    parallel = device.count if vllm else 1
    memory = read / (p.eta * device.bandwidth_gbps * 1e9 * parallel)
    if vllm:
        peak = device.peak_flops(False)
        compute = 2 * inv.params_active * batch / (peak * p.blas_eff) if peak else 0.0
    else:
        compute = _matmul_s(inv, weights, device, batch) or 0.0
    compute = (compute + _attention_s(inv, device, batch, depth, p, flash_attn)) / parallel
    fixed = inv.n_layers * p.layer_cost(device.segment) + p.step_s
    if parallel > 1:
        fixed += inv.n_layers * 2 * VLLM_ALLREDUCE_S
    return (max(memory, compute) + fixed) / device.calibration


# vLLM's tensor parallelism: two all-reduces per layer (after attention and after the MLP),
# each a few microseconds over NVLink for a decode step's small activations.
VLLM_ALLREDUCE_S = 10e-6


def decode_tokens_per_s(
    inv: Inventory,
    weights: Weights,
    kv: KvCache,
    device: Device,
    depth: int = 0,
    batch: int = 1,
    runtime: str = "llama.cpp",
    weight_scale: float = 1.0,
    flash_attn: bool = True,
) -> tuple[float, float]:
    """(aggregate, per sequence) decode tokens/s for `batch` sequences at `depth` tokens."""
    step = decode_step_s(inv, weights, kv, device, depth, batch, runtime, weight_scale,
                         flash_attn)  # fmt: skip
    aggregate = batch / step
    return aggregate, aggregate / batch


def decode_roofline(
    inv: Inventory, weights: Weights, kv: KvCache, device: Device, depth: int, batch: int
) -> float:
    """Aggregate decode tokens/s no engine can exceed: every byte a step reads moved at the full
    memory bandwidth of all `device.count` devices (as if tensor-parallel), with no overhead."""
    read = weight_bytes_per_step(inv, weights, batch) + kv_bytes_read(kv, depth) * batch
    return batch * device.bandwidth_gbps * 1e9 * device.count / read


# The most a quantized matmul can run above the dense FP16 (FP32-accumulate) figure: GeForce
# INT8 tensor cores, 4x (CUDA_INT8_RATE).
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
    return 2 * inv.params_active + attention_flops(inv, depth + n_tokens / 2)


DEFAULT_UBATCH = 512


def prefill_ubatch_s(
    inv: Inventory,
    weights: Weights,
    device: Device,
    tokens: int,
    depth: int,
    flash_attn: bool = True,
) -> float | None:
    """Seconds for one ubatch of `tokens` prompt tokens after `depth` cached ones."""
    matmul = _matmul_s(inv, weights, device, tokens)
    if matmul is None:
        return None
    p = device.profile
    read = weight_bytes_per_step(inv, weights, tokens)
    memory = read / (p.eta * device.bandwidth_gbps * 1e9)
    attention = _attention_s(inv, device, tokens, depth + tokens / 2, flash_attn=flash_attn)
    if flash_attn and p.q_tile:
        # Flash attention reads the cache once per tile of queries and query head of a group.
        tiles = -(-tokens // p.q_tile)
        cache = tiles * _cache_bytes(inv, depth + tokens / 2)
        attention = max(attention, cache / (p.cache_eta * device.bandwidth_gbps * 1e9))
    return max(matmul, memory) + attention + inv.n_layers * p.layer_cost(device.segment) + p.step_s


def _cache_bytes(inv: Inventory, depth: float) -> float:
    """F16 K and V bytes of `depth` cached tokens over the attention layers."""
    return sum(2 * (layer.k_width + layer.v_width) * seen for layer, seen in _attended(inv, depth))


def prefill_tokens_per_s(
    inv: Inventory,
    n_tokens: int,
    depth: int,
    device: Device,
    weights: Weights | None = None,
    n_ubatch: int = DEFAULT_UBATCH,
    flash_attn: bool = True,
) -> float | None:
    """Prompt tokens/s for `n_tokens` after `depth` cached tokens, in ubatches of `n_ubatch`
    (None when the device's compute rate is unknown). Without `weights` every matrix counts as
    quantized at 4.5 bits."""
    if weights is None:
        weights = _assumed_weights(inv)
    n_tokens = max(n_tokens, 1)
    ub = max(min(n_ubatch, n_tokens), 1)
    full, rest = divmod(n_tokens, ub)
    # A ubatch's time grows linearly with its depth: the full ubatches at their mean depth.
    t = prefill_ubatch_s(inv, weights, device, ub, depth + (full - 1) * ub // 2, flash_attn)
    if t is None:
        return None
    seconds = full * t
    if rest:
        seconds += prefill_ubatch_s(inv, weights, device, rest, depth + full * ub, flash_attn) or 0

    return n_tokens / seconds


def _assumed_weights(inv: Inventory) -> Weights:
    from estimator.quant import quantize

    return quantize(inv, "Q4_K_M")
