"""Estimate endpoints: GET for a catalog model, POST for any config.json (rate-limited: it is
work we do for a stranger). The response schema is built from the estimator's result types, so
the OpenAPI document names and explains every field."""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
import typing
from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from ninja.errors import HttpError, ValidationError
from pydantic import ConfigDict, Field, create_model

from config import ratelimit
from config.api import ErrorOut, api
from estimator import limits
from estimator.config import ConfigError
from estimator.estimate import estimate
from estimator.finetune import ALL_LINEAR, TARGET_NAMES, Recipe, finetune_report
from estimator.kv import KvError
from estimator.machine import (
    DEFAULT_RAM_BYTES,
    DEFAULT_RAM_PRESET,
    RAM_PRESETS,
    RESERVED_BY_SEGMENT,
    Machine,
)
from estimator.machine_options import MachineOptionError, machine_from_options
from estimator.memory import MemoryOptions
from estimator.recommend import recommended
from estimator.report import DeviceReport, MemoryReport, VllmReport
from estimator.throughput import BACKENDS, Device
from estimator.units import GIB

router = Router(tags=["estimate"])

Quant = Literal[limits.QUANTS]  # type: ignore[valid-type]
KvType = Literal[limits.KV]  # type: ignore[valid-type]
Runtime = Literal[limits.RUNTIMES]  # type: ignore[valid-type]
Backend = Literal[limits.GPU_BACKENDS]  # type: ignore[valid-type]
RAM_PRESET_KEYS = tuple(RAM_PRESETS)
RamPreset = Literal[RAM_PRESET_KEYS]  # type: ignore[valid-type]
Mmproj = Literal[limits.MMPROJ]  # type: ignore[valid-type]
Finetune = Literal[limits.FINETUNE]  # type: ignore[valid-type]
FtOptimizer = Literal[limits.FT_OPTIMIZERS]  # type: ignore[valid-type]


def _range(r: limits.Range) -> Any:
    return Field(r.default, ge=r.low, le=r.high, description=r.help)


def _optional(r: limits.Range | limits.FloatRange, default: str) -> Any:
    """An option that is left out unless given: its bounds, and what leaving it out means."""
    finite = False if isinstance(r, limits.FloatRange) else None
    text = f"{r.help}; {r.low:g} to {r.high:g}; left out: {default}"
    return Field(None, ge=r.low, le=r.high, description=text, allow_inf_nan=finite)


_SEGMENTS = ", ".join(f"{k} {v / GIB:g}" for k, v in RESERVED_BY_SEGMENT.items())
_PRESETS = "; ".join(f"{k}: {label}, {gbps:g} GB/s" for k, (label, gbps) in RAM_PRESETS.items())


class EstimateOptions(Schema):
    quant: Quant = "Q4_K_M"
    ctx: int = _range(limits.CONTEXT)
    kv: KvType = Field("f16", description="KV cache type for K and V")
    kv_k: KvType | None = Field(None, description="K cache type (overrides kv)")
    kv_v: KvType | None = Field(None, description="V cache type (overrides kv)")
    fa: bool = Field(True, description="flash attention")
    users: int = _range(limits.PARALLEL)
    ubatch: int = _range(limits.UBATCH)
    swa_full: bool = False
    gpu: str | None = Field(
        None, min_length=1, max_length=60, pattern=r"^[a-z0-9-]+$", description="hardware slug"
    )
    gpu_count: int = _range(limits.GPU_COUNT)
    depth: int = _range(limits.DEPTH)
    runtime: Runtime = "llama.cpp"
    backend: Backend | None = Field(
        None,
        description="llama.cpp's GPU backend: CUDA or Vulkan on NVIDIA, ROCm or Vulkan on AMD, "
        "SYCL or Vulkan on Intel, Metal on Apple; left out: the first of these (speeds follow "
        "the backend's own constants and bands: /methodology/#residuals)",
    )
    # The machine around the GPU(s) (estimator/machine_options.py says which apply where).
    ram_gb: int | None = _optional(
        limits.RAM_GB,
        f"{DEFAULT_RAM_BYTES // GIB} GiB; Apple, CPU-class and unified devices: their own memory",
    )
    ram_bandwidth_gbps: float | None = _optional(
        limits.RAM_BANDWIDTH,
        f"ram_preset's, else {RAM_PRESETS[DEFAULT_RAM_PRESET][1]:g} ({DEFAULT_RAM_PRESET}); "
        "CPU-class and unified devices: their own; not for Apple silicon",
    )
    ram_preset: RamPreset | None = Field(
        None,
        description=f"system RAM kit, instead of ram_bandwidth_gbps (not both): {_PRESETS}",
    )
    reserved_gb: float | None = _optional(
        limits.RESERVED_GB, f"{_SEGMENTS}; Apple silicon and unified 0"
    )
    gpu_limit_gb: float | None = _optional(
        limits.GPU_LIMIT_GB,
        "Apple: macOS's default, 2/3 of RAM up to 36 GB and 3/4 above; unified: the RAM; "
        "only for unified memory (4 GiB of RAM always stay with the system)",
    )
    unified: bool = Field(
        False,
        description=(
            "the GPU uses system memory, as a DGX Spark- or Strix Halo-class machine's does "
            "(the catalog's unified-memory devices and Apple silicon always do): one GPU, whose "
            "RAM is ram_gb (default: the device's memory)"
        ),
    )
    ngl: int | None = _optional(limits.NGL, "llama.cpp's own --fit decides")
    n_cpu_moe: int | None = _optional(limits.N_CPU_MOE, "llama.cpp's own --fit decides")
    mmproj: Mmproj = Field(
        "none",
        description="multimodal projector loaded beside the model (llama.cpp --mmproj): "
        "none (default), f16 or q8_0",
    )

    # Fine-tuning memory per GPU (estimator/finetune.py), over gpu_count GPUs with FSDP.
    finetune: Finetune | None = Field(
        None,
        description="lora (BF16 base), qlora (NF4 base) or full (BF16 weights and gradients, "
        "FP32 master weights and AdamW moments): adds `finetune`, bytes per GPU for PyTorch "
        "with Hugging Face + PEFT defaults",
    )
    lora_rank: int = _range(limits.LORA_RANK)
    lora_targets: str = Field(
        ALL_LINEAR, min_length=1, max_length=60, pattern=r"^[a-z_, -]+$",
        description=f"matrices LoRA adapts: {ALL_LINEAR} or a comma list of "
        f"{', '.join(TARGET_NAMES)}",
    )  # fmt: skip
    seq_len: int = _range(limits.SEQ_LEN)
    micro_batch: int = _range(limits.MICRO_BATCH)
    grad_checkpointing: bool = Field(True, description="recompute activations in the backward")
    optimizer: FtOptimizer = Field(
        "adamw", description="adamw (FP32 moments) or adamw8bit (bitsandbytes)"
    )

    def recipe(self) -> Recipe | None:
        if self.finetune is None:
            return None
        return Recipe(
            method=self.finetune, lora_rank=self.lora_rank, targets=self.lora_targets,
            seq_len=self.seq_len, micro_batch=self.micro_batch,
            grad_checkpointing=self.grad_checkpointing, optimizer=self.optimizer,
            n_gpus=max(self.gpu_count, 1),
        )  # fmt: skip

    def memory_options(self) -> MemoryOptions:
        return MemoryOptions(
            file_type=self.quant,
            n_ctx=self.ctx,
            type_k=self.kv_k or self.kv,
            type_v=self.kv_v or self.kv,
            flash_attn=self.fa,
            n_seq=self.users,
            n_ubatch=self.ubatch,
            swa_full=self.swa_full,
            mmproj=self.mmproj,
        )


class ModelEstimateQuery(EstimateOptions):
    model: str = Field(
        ..., min_length=1, max_length=120, pattern=r"^[a-z0-9-]+$", description="model slug"
    )


class ConfigEstimate(EstimateOptions):
    # A JSON body says what it means: true is not a context and "128" not a number (query
    # parameters arrive as text and stay lax).
    model_config = ConfigDict(strict=True)

    config: dict[str, Any] = Field(
        ...,
        min_length=1,
        description=(
            f"a Hugging Face config.json object (at most {limits.MAX_LAYERS} layers, "
            f"{limits.MAX_TENSORS} tensors, {limits.MAX_JSON_DEPTH} levels deep)"
        ),
    )


def _schema(name: str, cls: type[Any], *, required: bool = True) -> type[Schema]:
    """A response schema with the fields and descriptions (Annotated) of a result dataclass."""
    hints = typing.get_type_hints(cls, include_extras=True)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        kind, text = _described(hints[f.name].__origin__), hints[f.name].__metadata__[0]
        default = ... if required else None
        fields[f.name] = (kind if required else kind | None, Field(default, description=text))
    return typing.cast(type[Schema], create_model(name, __base__=Schema, **fields))


def _described(kind: Any) -> Any:
    """`kind` with every result dataclass in it (alone, optional or in a tuple) as a schema."""
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _schema(f"{kind.__name__}Out", kind)
    args = typing.get_args(kind)
    if typing.get_origin(kind) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return tuple[_described(args[0]), ...]  # type: ignore[misc]
    if isinstance(kind, types.UnionType):
        return functools.reduce(operator.or_, map(_described, args))
    return kind


class FinetuneOut(Schema):
    weights_bytes: int = Field(description="the model's weights (NF4 + BF16 for qlora)")
    adapter_bytes: int = Field(description="LoRA's matrices (0 for full)")
    gradient_bytes: int
    optimizer_bytes: int = Field(description="AdamW's moments and FP32 master weights")
    activation_bytes: int = Field(description="saved for the backward pass, and the loss")
    total_bytes: int = Field(description="per GPU at the peak of a step")
    trainable_params: int
    n_gpus: int
    method: str
    lora_rank: int | None
    seq_len: int
    micro_batch: int
    grad_checkpointing: bool
    optimizer: str
    sharding: str | None = Field(description="fsdp over several GPUs")
    fit_status: str | None = Field(None, description="with a gpu: fits, tight, no or unknown")
    usable_bytes: int | None = Field(None, description="per GPU, less the CUDA context")
    fit_reason: str | None = None


EstimateOut = create_model(  # type: ignore[call-overload]
    "EstimateOut",
    __base__=_schema("MemoryOut", MemoryReport),
    model=(str | None, Field(None, description="catalog model slug (GET only)")),
    recommended_quant=(
        str | None,
        Field(
            None,
            description="with a device: the quant to use there at this context and these users "
            "(never F32; Q8_0 rather than F16/BF16, which measure the same; below 3 bits only "
            "when nothing above runs): /methodology/#quant",
        ),
    ),
    recommendation=(
        str | None,
        Field(None, description="with a device: the recommendation's trade-off in words"),
    ),
    finetune=(
        FinetuneOut | None,
        Field(None, description="with `finetune`: memory per GPU to fine-tune the model"),
    ),
    **{  # present with a device (gpu), and vLLM's with runtime=vllm
        name: (info.annotation, info)
        for part in (DeviceReport, VllmReport)
        for name, info in _schema(part.__name__, part, required=False).model_fields.items()
    },
)


def _device(options: EstimateOptions) -> Device | None:
    if not options.gpu:
        return None
    from catalog.models import Hardware
    from estimator.devices import from_hardware

    hw = Hardware.objects.filter(slug=options.gpu).first()
    if hw is None:
        raise HttpError(400, f"gpu: no catalog hardware with slug {options.gpu!r}")
    device = from_hardware(hw, options.gpu_count)
    if options.backend is None:
        return device
    allowed = BACKENDS.get(device.device_class, ())
    if options.backend not in allowed:
        raise HttpError(
            400, f"backend: {hw.name} runs {' or '.join(allowed)}, not {options.backend}"
        )
    return dataclasses.replace(device, backend=options.backend)


def _machine(device: Device | None, options: EstimateOptions, source: str) -> Machine | None:
    """The machine the options describe; a 400 naming the option that cannot apply."""
    try:
        return machine_from_options(
            device, options.gpu_count, ram_gb=options.ram_gb,
            ram_bandwidth_gbps=options.ram_bandwidth_gbps, ram_preset=options.ram_preset,
            reserved_gb=options.reserved_gb, gpu_limit_gb=options.gpu_limit_gb,
            unified=options.unified, ngl=options.ngl, n_cpu_moe=options.n_cpu_moe,
        )  # fmt: skip
    except MachineOptionError as exc:
        raise ValidationError([{"loc": (source, exc.field), "msg": exc.reason}]) from None


def _estimate(config: dict[str, Any], options: EstimateOptions, source: str) -> dict[str, Any]:
    opts = options.memory_options()
    device = _device(options)
    machine = _machine(device, options, source)
    try:
        result = estimate(
            config, opts, device, depth=options.depth, batch=options.users,
            runtime=options.runtime, machine=machine, ngl=options.ngl,
            n_cpu_moe=options.n_cpu_moe,
        )  # fmt: skip
    except ConfigError as exc:
        raise HttpError(400, f"config: {exc}") from None
    except KvError as exc:
        raise HttpError(400, f"kv: {exc}") from None
    out = result.as_dict() | recommended(config, opts, device, machine)
    if (recipe := options.recipe()) is not None:
        try:
            out["finetune"] = finetune_report(config, recipe, device)
        except ValueError as exc:
            raise HttpError(400, f"lora_targets: {exc}") from None
    return out


@router.get(
    "/estimate",
    response={200: EstimateOut, 400: ErrorOut, 404: ErrorOut},
    exclude_unset=True,
)
def estimate_model(request: HttpRequest, q: Query[ModelEstimateQuery]) -> dict[str, Any]:
    """What llama.cpp allocates for a catalog model (every term in bytes); with `gpu` (or
    `gpu_count=0`: a CPU-only machine), its fit, grade and speed there, and llama.cpp's plan on
    the machine (GPU(s) + system RAM: docs/api.md)."""
    from catalog.models import Model

    model = Model.objects.filter(slug=q.model).first()
    if model is None:
        raise HttpError(404, f"model: no catalog model with slug {q.model!r}")
    return {"model": model.slug, **_estimate(model.config, q, "query")}


@router.post(
    "/estimate",
    response={200: EstimateOut, 400: ErrorOut, 429: ErrorOut},
    exclude_unset=True,
)
def estimate_config(request: HttpRequest, body: ConfigEstimate) -> Any:
    """The same for any config.json. Limited per client network (IPv4 /24, IPv6 /64) and
    hour: 429 with Retry-After beyond it."""
    try:
        ratelimit.spend(
            "estimate-api", ratelimit.client_hash(request),
            settings.ESTIMATE_API_RATE_LIMIT, "estimates",
        )  # fmt: skip
    except ratelimit.Limited as exc:
        response: HttpResponse = api.create_response(
            request, {"error": str(exc), "detail": []}, status=429
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    try:
        limits.check_config(body.config)
    except ConfigError as exc:
        raise HttpError(400, f"config: {exc}") from None
    return _estimate(body.config, body, "body")
