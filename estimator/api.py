"""Estimate endpoints: GET for a catalog model, POST for any config.json (rate-limited: it is
work we do for a stranger). The response schema is built from the estimator's result types, so
the OpenAPI document names and explains every field."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import ConfigDict, Field, create_model

from config import ratelimit
from config.api import ErrorOut, api
from estimator import limits
from estimator.config import ConfigError
from estimator.estimate import estimate
from estimator.kv import KvError
from estimator.memory import MemoryOptions
from estimator.report import DeviceReport, MemoryReport, VllmReport
from estimator.throughput import Device

router = Router(tags=["estimate"])

Quant = Literal[limits.QUANTS]  # type: ignore[valid-type]
KvType = Literal[limits.KV]  # type: ignore[valid-type]
Runtime = Literal[limits.RUNTIMES]  # type: ignore[valid-type]


def _range(r: limits.Range) -> Any:
    return Field(r.default, ge=r.low, le=r.high, description=r.help)


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
        kind, text = hints[f.name].__origin__, hints[f.name].__metadata__[0]
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            kind = _schema(f"{kind.__name__}Out", kind)
        default = ... if required else None
        fields[f.name] = (kind if required else kind | None, Field(default, description=text))
    return typing.cast(type[Schema], create_model(name, __base__=Schema, **fields))


EstimateOut = create_model(  # type: ignore[call-overload]
    "EstimateOut",
    __base__=_schema("MemoryOut", MemoryReport),
    model=(str | None, Field(None, description="catalog model slug (GET only)")),
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
    return from_hardware(hw, options.gpu_count)


def _estimate(config: dict[str, Any], options: EstimateOptions) -> dict[str, Any]:
    opts = options.memory_options()
    device = _device(options)
    try:
        result = estimate(
            config, opts, device, depth=options.depth, batch=options.users,
            runtime=options.runtime,
        )  # fmt: skip
    except ConfigError as exc:
        raise HttpError(400, f"config: {exc}") from None
    except KvError as exc:
        raise HttpError(400, f"kv: {exc}") from None
    return result.as_dict()


@router.get(
    "/estimate",
    response={200: EstimateOut, 400: ErrorOut, 404: ErrorOut},
    exclude_unset=True,
)
def estimate_model(request: HttpRequest, q: Query[ModelEstimateQuery]) -> dict[str, Any]:
    """What llama.cpp allocates for a catalog model (every term in bytes); with `gpu`, its fit,
    grade and speed there."""
    from catalog.models import Model

    model = Model.objects.filter(slug=q.model).first()
    if model is None:
        raise HttpError(404, f"model: no catalog model with slug {q.model!r}")
    return {"model": model.slug, **_estimate(model.config, q)}


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
    return _estimate(body.config, body)
