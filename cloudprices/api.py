"""Prices endpoints of the JSON API: current offers, and the cheapest way to serve a model."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.errors import ValidationError
from pydantic import Field

from catalog.model_page.state import quant_choices
from catalog.snapshot import snapshot
from cloudprices import queries
from cloudprices.models import Offer
from cloudprices.serving import SHOWN, for_catalog_model
from config.api import SLUG, ErrorOut
from estimator import limits
from estimator.serving import MAX_USERS, Target
from estimator.units import GIB

router = Router(tags=["prices"])


class OfferOut(Schema):
    provider: str
    hardware: str = Field(validation_alias="hardware.slug")
    gpu_name: str = Field(validation_alias="gpu_name.name", description="the provider's name")
    gpu_count: int
    memory_bytes_per_gpu: int = Field(description="the catalog device's memory")
    tier: str
    price_per_gpu_hour: Decimal = Field(description="US dollars per GPU per hour")
    region: str
    fetched_at: dt.datetime
    stale: bool = Field(description="fetched more than two hours ago")
    from_snapshot: bool

    @staticmethod
    def resolve_memory_bytes_per_gpu(obj: Offer) -> int:
        return obj.hardware.memory_bytes  # type: ignore[union-attr]

    @staticmethod
    def resolve_stale(obj: Offer) -> bool:
        return obj.is_stale()


class PricePage(Schema):
    count: int
    items: list[OfferOut]


class PriceFilters(Schema):
    min_memory_gb: int | None = Field(
        None, ge=0, le=2048, description="minimum memory per GPU in GB as GPUs are sold (2^30)"
    )
    provider: Literal["runpod", "vast", "azure"] | None = None
    tier: Literal["on_demand", "community", "spot"] | None = None
    limit: int = Field(100, ge=1, le=1000, description="items, 1-1000")


@router.get("/prices/", response={200: PricePage, 400: ErrorOut})
def list_prices(request: HttpRequest, filters: Query[PriceFilters]) -> dict[str, Any]:
    """Current offers matched to catalog GPUs, cheapest per GPU-hour first."""
    offers = queries.filtered(
        min_memory_bytes=filters.min_memory_gb * GIB if filters.min_memory_gb else None,
        provider=filters.provider,
        tier=filters.tier,
    ).select_related("hardware", "gpu_name")
    ordered = offers.order_by("price_per_gpu_hour", "id")
    return {"count": offers.count(), "items": list(ordered[: filters.limit])}


Quant = Literal[limits.QUANTS]  # type: ignore[valid-type]
Runtime = Literal[limits.RUNTIMES]  # type: ignore[valid-type]
DEFAULT_CTX = 8192  # or the model's context when it is shorter
DEFAULT_PROMPT = 1024  # or the context when it is shorter
DEFAULT_TPS = 10.0


class ServeQuery(Schema):
    model: str = Field(..., min_length=1, max_length=120, pattern=SLUG, description="model slug")
    quant: Quant = Field("Q4_K_M", description="GGUF file type (MXFP4_MOE: MoE models only)")
    ctx: int | None = Field(
        None, ge=256, le=limits.CONTEXT.high,
        description=f"context per user, tokens; 256 to the model's; default {DEFAULT_CTX:,} "
        "or the model's when shorter",
    )  # fmt: skip
    users: int = Field(1, ge=1, le=MAX_USERS, description=f"concurrent users, 1-{MAX_USERS}")
    per_user_tps: float = Field(
        DEFAULT_TPS, ge=0.1, le=1000, allow_inf_nan=False,
        description="decode tokens/s every user must see, 0.1-1000",
    )  # fmt: skip
    ttft_s: float | None = Field(
        None, ge=0.05, le=600, allow_inf_nan=False,
        description="time to first token for a prompt of prompt_tokens, seconds, 0.05-600; "
        "left out: no target",
    )  # fmt: skip
    prompt_tokens: int | None = Field(
        None, ge=1, le=limits.CONTEXT.high,
        description=f"the prompt of ttft_s, tokens, 1 to ctx; default {DEFAULT_PROMPT:,} or ctx",
    )  # fmt: skip
    runtime: Runtime = Field("llama.cpp", description="llama.cpp (llama-server) or vllm")
    tier: Literal["on_demand", "community", "spot"] | None = Field(
        None, description="left out: every tier"
    )
    limit: int = Field(SHOWN, ge=1, le=200, description=f"offers, 1-200, default {SHOWN}")


class HardwareRef(Schema):
    slug: str
    name: str


class TargetOut(Schema):
    per_user_tps: float
    ttft_s: float | None
    prompt_tokens: int


class ServeOfferOut(Schema):
    provider: str
    hardware: HardwareRef
    gpu_count: int
    tier: str
    region: str
    price_per_hour: Decimal = Field(description="US dollars per hour for every GPU of the offer")
    users_served: int = Field(description="the most users the offer serves at the target")
    aggregate_tokens_per_s: float = Field(description="output tokens/s of all `users` together")
    per_user_tokens_per_s: float
    ttft_s: float | None = Field(description="for prompt_tokens; null: prefill speed unknown")
    cost_per_million_tokens: float = Field(description="US dollars per 1M output tokens")
    fetched_at: dt.datetime
    stale: bool = Field(description="fetched more than two hours ago")
    from_snapshot: bool
    assumption: str


class ServeOut(Schema):
    model: str
    quant: str
    ctx: int
    users: int
    runtime: str
    tier: str | None
    target: TargetOut
    count: int = Field(description="offers that serve the users at the target, shown or not")
    offers: list[ServeOfferOut] = Field(description="cheapest per 1M output tokens first")
    reason: str = Field(description="why no offer serves the users at the target; else empty")
    assumptions: str


def _refuse(field: str, message: str) -> ValidationError:
    return ValidationError([{"loc": ("query", field), "msg": message}])


@router.get("/serve/", response={200: ServeOut, 400: ErrorOut})
def serve(request: HttpRequest, q: Query[ServeQuery]) -> dict[str, Any]:
    """The cheapest way to serve a catalog model to `users` users at a per-user speed (and a
    time to first token): every current offer of 1-8 GPUs, ranked by US dollars per 1M output
    tokens (docs/api.md)."""
    snap, prices = snapshot()
    brief = snap.models.get(q.model)
    if brief is None:
        raise _refuse("model", f"no catalog model with slug {q.model!r}")
    if q.quant not in quant_choices(brief):
        raise _refuse("quant", f"{q.quant} is for mixture-of-experts models, not {q.model}")
    ctx = q.ctx if q.ctx is not None else min(DEFAULT_CTX, brief.context_length)
    if ctx > brief.context_length:
        raise _refuse("ctx", f"{q.model}'s context is at most {brief.context_length:,} tokens")
    prompt = q.prompt_tokens if q.prompt_tokens is not None else min(DEFAULT_PROMPT, ctx)
    if prompt > ctx:
        raise _refuse("prompt_tokens", f"a prompt must fit in the context per user ({ctx:,})")
    target = Target(q.per_user_tps, q.ttft_s, prompt)
    answer = for_catalog_model(
        snap, prices, brief, target, quant=q.quant, users=q.users, ctx=ctx,
        runtime=q.runtime, tier=q.tier, limit=q.limit,
    )  # fmt: skip
    return {
        "model": q.model,
        "quant": q.quant,
        "ctx": ctx,
        "users": q.users,
        "runtime": q.runtime,
        "tier": q.tier,
        "target": asdict(target),
        "count": answer.count,
        "offers": [
            {
                "provider": s.offer.provider,
                "hardware": {"slug": s.hardware.slug, "name": s.hardware.name},
                "gpu_count": s.gpu_count,
                "tier": s.offer.tier,
                "region": s.offer.region,
                "price_per_hour": s.price_per_hour,
                "users_served": s.users_served,
                "aggregate_tokens_per_s": round(s.at_users.aggregate_tokens_per_s, 2),
                "per_user_tokens_per_s": round(s.at_users.per_user_tokens_per_s, 2),
                "ttft_s": None if s.at_users.ttft_s is None else round(s.at_users.ttft_s, 3),
                "cost_per_million_tokens": round(s.cost_per_million, 4),
                "fetched_at": s.offer.fetched_at,
                "stale": s.stale,
                "from_snapshot": s.offer.from_snapshot,
                "assumption": s.assumption,
            }
            for s in answer.offers
        ],
        "reason": answer.reason,
        "assumptions": answer.assumptions,
    }
