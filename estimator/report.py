"""The estimate as typed, frozen results, and as the JSON the command, the API and pages share.

`Estimate` holds three parts: memory (always), the fit and speed on a device (when one is given)
and vLLM's view (for the vllm runtime). `Estimate.as_dict()` flattens them into one JSON object;
a part that was not asked for is left out. Every field carries its meaning (`Annotated[type,
"meaning"]`), which the API's OpenAPI document publishes (estimator/api.py builds its schema
from these classes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Annotated, Any

from estimator.memory import MemoryEstimate, MemoryOptions, image_tokens_of
from estimator.serving import Serving, Target


@dataclass(frozen=True, slots=True)
class OptionsUsed:
    quant: Annotated[str, "GGUF file type"]
    ctx: Annotated[int, "context length asked for, in tokens (all sequences)"]
    n_ctx_padded: Annotated[int, "context llama.cpp allocates: padded to 256"]
    kv_k: Annotated[str, "K cache type"]
    kv_v: Annotated[str, "V cache type"]
    flash_attn: Annotated[bool, "flash attention"]
    parallel: Annotated[int, "parallel sequences"]
    ubatch: Annotated[int, "physical batch size"]
    swa_full: Annotated[bool, "full-size sliding-window cache"]
    mmproj: Annotated[str, "multimodal encoder loaded beside the model: none, f16 or q8_0"]


@dataclass(frozen=True, slots=True)
class MemoryReport:
    options: Annotated[OptionsUsed, "the options that produced these numbers"]
    params: Annotated[int, "language-model parameters counted from the config"]
    weights_bytes: Annotated[int, "weights in memory, tensor types as llama-quantize picks them"]
    file_bytes: Annotated[int, "GGUF file size (tokenizer metadata approximate)"]
    bits_per_weight: Annotated[float, "average bits per weight of the file type's tensor mix"]
    tensor_type_bytes: Annotated[dict[str, int], "weight bytes per ggml tensor type"]
    kv_cache_bytes: Annotated[int, "KV cache and recurrent state, all layers"]
    kv_full_bytes: Annotated[int, "KV cache of full-attention layers"]
    kv_swa_bytes: Annotated[int, "KV cache of sliding-window layers"]
    recurrent_state_bytes: Annotated[int, "recurrent (state-space / linear attention) state"]
    compute_buffer_bytes: Annotated[int, "compute buffer (approximate: no closed form)"]
    output_buffer_bytes: Annotated[int, "output (logits) buffer"]
    mmproj_bytes: Annotated[
        int, "multimodal encoder file (--mmproj) loaded beside the model; 0: none"
    ]
    mmproj_compute_bytes: Annotated[int, "the encoder's compute buffer for its largest input"]
    image_tokens: Annotated[int | None, "context tokens one image takes (unknown: null)"]
    total_bytes: Annotated[int, "weights + KV cache + compute and output buffers + encoder"]
    safetensors_bytes: Annotated[dict[str, int], "checkpoint size in BF16, FP8 and INT4 (vLLM)"]
    exact: Annotated[bool, "false when an unknown model_type was read as a generic decoder"]
    approximate_terms: Annotated[tuple[str, ...], "terms that are approximations"]
    notes: Annotated[tuple[str, ...], "caveats about this estimate"]


@dataclass(frozen=True, slots=True)
class PlanDevice:
    name: Annotated[str, "the GPU"]
    model_bytes: Annotated[int, "weights on this GPU"]
    context_bytes: Annotated[int, "KV cache of its layers"]
    compute_bytes: Annotated[int, "compute buffer (approximate)"]
    free_bytes: Annotated[int, "free memory before loading (memory minus what is in use)"]


@dataclass(frozen=True, slots=True)
class PlanReport:
    ngl: Annotated[int, "llama.cpp -ngl: layers on the GPUs, the output layer counted as one"]
    n_cpu_moe: Annotated[int, "layers whose MoE experts (all or part) stay in system RAM"]
    ctx: Annotated[int, "context (-c)"]
    args: Annotated[str, "the arguments as llama-fit-params prints them"]
    devices: Annotated[tuple[PlanDevice, ...], "what each GPU holds (llama.cpp's breakdown)"]
    host_bytes: Annotated[int, "system RAM llama.cpp allocates: weights left there, cache, buffers"]
    mmproj_bytes: Annotated[int, "the encoder and its compute buffer, on the first GPU (or RAM)"]
    fits: Annotated[bool, "every GPU and the system RAM have room"]
    missing_vram_bytes: Annotated[int, "GPU memory missing on the fullest GPU (0: enough)"]
    missing_ram_bytes: Annotated[int, "system RAM missing (0: enough)"]
    ram_bytes: Annotated[int, "system RAM of the machine"]
    ram_bandwidth_gbps: Annotated[float, "system RAM bandwidth, GB/s"]
    reserved_bytes: Annotated[int, "memory in use on each GPU before llama.cpp starts"]
    unified: Annotated[bool, "the GPU uses system memory (Apple, DGX Spark, Strix Halo)"]
    forced: Annotated[bool, "placement forced by ngl / n_cpu_moe rather than llama.cpp's fit"]


@dataclass(frozen=True, slots=True)
class DeviceReport:
    fits: Annotated[bool, "the whole model and cache fit in the device's usable memory"]
    fit_status: Annotated[str, "fits, tight, offload (CPU offload) or no"]
    grade: Annotated[str, "A (fast, with headroom) to F (does not run)"]
    grade_reason: Annotated[str, "the grade in words"]
    usable_bytes: Annotated[int, "memory the runtime can use on the device(s)"]
    headroom_bytes: Annotated[int, "usable memory left (negative: missing)"]
    max_context: Annotated[int, "largest context that fits, a multiple of 256 tokens"]
    gpu_layers: Annotated[int, "repeating layers on the GPU(s)"]
    n_layers: Annotated[int, "repeating layers of the model"]
    decode_tokens_per_s: Annotated[float | None, "decode speed per sequence"]
    prefill_tokens_per_s: Annotated[float | None, "prompt processing speed (unknown without FP16)"]
    aggregate_tokens_per_s: Annotated[float | None, "decode speed of all sequences together"]
    per_user_tokens_per_s: Annotated[float | None, "decode speed per sequence"]
    ttft_s: Annotated[float | None, "time to first token for the prompt, seconds"]
    tokens_per_s_low: Annotated[float | None, "low end of the per-sequence speed band"]
    tokens_per_s_high: Annotated[float | None, "high end of the per-sequence speed band"]
    prefill_band: Annotated[float, "relative error band of the prefill speed"]
    aggregate_band: Annotated[
        float, "relative error band of the aggregate speed (batched decode for batch > 1)"
    ]
    depth: Annotated[int, "tokens already in each sequence when decoding"]
    batch: Annotated[int, "sequences decoded together"]
    plan: Annotated[PlanReport | None, "llama.cpp's placement on the machine (GPU(s) + RAM)"]


@dataclass(frozen=True, slots=True)
class VllmReport:
    vllm_weights_bytes: Annotated[int, "BF16 weights vLLM loads"]
    vllm_kv_bytes_per_token: Annotated[int, "paged KV cache bytes per token"]
    vllm_kv_tokens: Annotated[int, "KV cache tokens that fit at the memory utilization"]
    vllm_max_concurrency: Annotated[float, "requests of the context length that fit at once"]
    vllm_gpu_memory_utilization: Annotated[float, "vLLM's --gpu-memory-utilization"]


@dataclass(frozen=True, slots=True)
class ServingReport:
    users: Annotated[int, "the most users served at the target (0: not even one)"]
    aggregate_tokens_per_s: Annotated[float | None, "decode speed of all those users together"]
    per_user_tokens_per_s: Annotated[float | None, "decode speed each of them sees"]
    ttft_s: Annotated[float | None, "time to first token for the prompt, seconds"]
    limit: Annotated[str, "what stopped more users: memory, speed, ttft or max users"]
    users_that_fit: Annotated[int, "users whose caches fit in memory, whatever their speed"]
    ctx_per_user: Annotated[int, "context of each user, tokens"]
    target_tokens_per_s: Annotated[float, "decode speed every user must see (0: any)"]
    target_ttft_s: Annotated[float | None, "time to first token required (null: any)"]
    prompt_tokens: Annotated[int, "the prompt of the time to first token, tokens"]


def serving_report(serving: Serving, target: Target, ctx: int) -> ServingReport:
    """What estimator.serving.serve says, as the command prints it."""
    best = serving.at_target
    return ServingReport(
        users=best.users if best else 0,
        aggregate_tokens_per_s=round(best.aggregate_tokens_per_s, 1) if best else None,
        per_user_tokens_per_s=round(best.per_user_tokens_per_s, 1) if best else None,
        ttft_s=round(best.ttft_s, 3) if best and best.ttft_s is not None else None,
        limit=serving.limit,
        users_that_fit=serving.users_that_fit,
        ctx_per_user=ctx,
        target_tokens_per_s=target.per_user_tps,
        target_ttft_s=target.ttft_s,
        prompt_tokens=target.prompt_tokens,
    )


@dataclass(frozen=True, slots=True)
class Estimate:
    memory: MemoryReport
    device: DeviceReport | None = None  # with a device
    vllm: VllmReport | None = None  # with a device and the vllm runtime

    def as_dict(self) -> dict[str, Any]:
        """One JSON object: the memory fields, then the device's and vLLM's when present."""
        out = asdict(self.memory)
        for part in (self.device, self.vllm):
            if part is not None:
                out.update(asdict(part))
        return out


PARTS = (MemoryReport, DeviceReport, VllmReport)
FIELDS = tuple(f.name for part in PARTS for f in fields(part))


def memory_report(est: MemoryEstimate, opts: MemoryOptions) -> MemoryReport:
    """Every term in integer bytes, plus the options that produced them."""
    return MemoryReport(
        options=OptionsUsed(
            quant=opts.file_type,
            ctx=opts.n_ctx,
            n_ctx_padded=est.kv.n_ctx,
            kv_k=opts.type_k,
            kv_v=opts.type_v,
            flash_attn=opts.flash_attn,
            parallel=opts.n_seq,
            ubatch=opts.n_ubatch,
            swa_full=opts.swa_full,
            mmproj=opts.mmproj,
        ),
        params=est.params,
        weights_bytes=est.weights_bytes,
        file_bytes=est.file_bytes,
        bits_per_weight=round(est.weights.bits_per_weight, 4),
        tensor_type_bytes=dict(est.weights.bytes_by_type),
        kv_cache_bytes=est.kv.bytes,
        kv_full_bytes=est.kv.full_bytes,
        kv_swa_bytes=est.kv.swa_bytes,
        recurrent_state_bytes=est.kv.recurrent_bytes,
        compute_buffer_bytes=est.compute_buffer_bytes,
        output_buffer_bytes=est.output_buffer_bytes,
        mmproj_bytes=est.mmproj_bytes,
        mmproj_compute_bytes=est.mmproj_compute_bytes,
        image_tokens=image_tokens_of(est.key),
        total_bytes=est.total_bytes,
        safetensors_bytes=dict(est.safetensors_bytes),
        exact=est.exact,
        approximate_terms=("compute_buffer_bytes", "file_bytes (tokenizer metadata)"),
        notes=est.notes,
    )
