"""Catalog endpoints of the JSON API: models and hardware."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Path, Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from catalog.models import Hardware, Model
from config.api import SLUG, ErrorOut

router = Router(tags=["catalog"])
ModelSlug = Annotated[str, Field(max_length=120, pattern=SLUG)]
HardwareSlug = Annotated[str, Field(max_length=60, pattern=SLUG)]


class RopeScalingOut(Schema):
    method: str = Field(description="yarn or linear (llama.cpp's --rope-scaling, vLLM's rope_type)")
    factor: float
    original_context: int = Field(description="original_max_position_embeddings")
    caveat: str = Field(description="the card's words on what the scaling costs")
    source: str = Field(description="the card section that documents it")


class ModelOut(Schema):
    slug: str
    name: str
    hf_id: str
    provider: str = Field(validation_alias="provider.slug")
    family: str = Field(validation_alias="family.slug")
    params_total: int
    params_active: int
    params_language: int
    params_complete: bool
    context_length: int
    native_context_length: int | None = Field(
        description="context without rope scaling, when context_length needs a scaling the "
        "released config.json leaves out (see rope_scaling); else null"
    )
    rope_scaling: RopeScalingOut | None = Field(
        description="what runtimes need switched on beyond native_context_length"
    )
    license: str
    commercial_use: bool
    modalities: dict[str, list[str]]
    release_date: dt.date | None
    source_url: str

    @staticmethod
    def resolve_modalities(obj: Model) -> dict[str, list[str]]:
        return {
            "input": sorted(m.code for m in obj.input_modalities.all()),
            "output": sorted(m.code for m in obj.output_modalities.all()),
        }

    @staticmethod
    def resolve_rope_scaling(obj: Model) -> dict[str, Any] | None:
        if obj.native_context_length is None:
            return None
        return {
            "method": obj.rope_scaling,
            "factor": obj.rope_scaling_factor,
            "original_context": obj.rope_scaling_original_context,
            "caveat": obj.rope_scaling_caveat,
            "source": obj.sources.get("rope_scaling", ""),
        }


class EncoderOut(Schema):
    name: str
    modality: str = Field(validation_alias="modality.code")
    params: int | None
    source: str


class ScoreOut(Schema):
    benchmark: str
    setting: str
    value: float
    unit: str
    source: str = Field(description="the page that prints this score")
    source_kind: str = Field(description="card, paper, leaderboard or blog")


class PublishedGgufOut(Schema):
    repo: str
    filename: str
    quant: str
    size: int = Field(description="bytes, as the Hub reports the file")


class RunOut(Schema):
    gguf_repo: str
    gguf_file: str
    ollama_tag: str
    mlx_repo: str
    transformers_id: str


class ModelDetailOut(ModelOut):
    description: str
    model_type: str
    architecture_exact: bool
    architecture: dict[str, Any] = Field(validation_alias="config")
    encoders: list[EncoderOut]
    params_official: int | None
    sources: dict[str, str]
    run: RunOut
    scores: list[ScoreOut] = Field(description="published benchmark scores, each with its source")
    published_gguf: list[PublishedGgufOut] = Field(
        description="GGUF files quantizers published (read by import_hf)"
    )

    @staticmethod
    def resolve_encoders(obj: Model) -> list[Any]:
        return list(obj.encoders.all())

    @staticmethod
    def resolve_scores(obj: Model) -> list[Any]:
        return list(obj.scores.all())

    @staticmethod
    def resolve_run(obj: Model) -> dict[str, str]:
        return {k: getattr(obj, k) for k in RunOut.model_fields}


class ModelPage(Schema):
    count: int
    items: list[ModelOut]


class ModelFilters(Schema):
    limit: int = Field(100, ge=1, le=1000, description="items per page, 1-1000")
    offset: int = Field(0, ge=0, le=1_000_000, description="items to skip")
    provider: str | None = Field(None, max_length=60, pattern=SLUG, description="provider slug")


@router.get("/models/", response={200: ModelPage, 400: ErrorOut}, summary="List models")
def list_models(request: HttpRequest, filters: Query[ModelFilters]) -> dict[str, Any]:
    models = Model.objects.with_listing().order_by("slug")
    if filters.provider:
        models = models.filter(provider__slug=filters.provider)
    count = models.count()
    return {"count": count, "items": list(models[filters.offset : filters.offset + filters.limit])}


@router.get(
    "/models/{slug}/",
    response={200: ModelDetailOut, 400: ErrorOut, 404: ErrorOut},
    summary="One model, with its architecture (config.json fields)",
)
def get_model(request: HttpRequest, slug: Path[ModelSlug]) -> Model:
    qs = Model.objects.with_listing().prefetch_related("encoders__modality", "scores")
    model = qs.filter(slug=slug).first()
    if model is None:
        raise HttpError(404, f"no model with slug {slug!r}")
    return model


class HardwareOut(Schema):
    slug: str
    name: str
    kind: str
    segment: str
    vendor: str
    memory_bytes: int
    memory_options_bytes: list[int]
    bandwidth_gbps: float
    fp16_tflops: float | None
    tdp_watts: int | None
    memory_type: str
    memory_channels: int | None
    sources: dict[str, str]


@router.get("/hardware/", response=list[HardwareOut], summary="List hardware")
def list_hardware(request: HttpRequest) -> Any:
    return Hardware.objects.all()


@router.get(
    "/hardware/{slug}/",
    response={200: HardwareOut, 400: ErrorOut, 404: ErrorOut},
    summary="One device",
)
def get_hardware(request: HttpRequest, slug: Path[HardwareSlug]) -> Hardware:
    device = Hardware.objects.filter(slug=slug).first()
    if device is None:
        raise HttpError(404, f"no hardware with slug {slug!r}")
    return device
