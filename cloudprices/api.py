"""Prices endpoint of the JSON API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from cloudprices import queries
from cloudprices.models import Offer
from config.api import ErrorOut
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
