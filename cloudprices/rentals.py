"""The model page's rentals: the cheapest current offers that can serve the page's state, and
what a million output tokens cost on each.

An offer of N GPUs counts all their memory: llama.cpp splits layers across GPUs and vLLM splits
tensors. Whether it fits, and how fast it decodes for `users` sequences, come from the same
estimate as the serving plan; cost per 1M output tokens = price per hour / (aggregate decode
tokens/s x 3600) x 10^6, with every user decoding at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, OuterRef, Subquery
from django.utils import timezone

from catalog.models import Hardware
from cloudprices.models import STALE_AFTER, Offer
from estimator.devices import from_hardware
from estimator.estimate import estimate
from estimator.memory import MemoryOptions

SHOWN = 8


@dataclass(frozen=True)
class Rental:
    offer: Offer
    hardware: Hardware
    price_per_hour: Decimal  # the whole offer: every GPU of it
    aggregate_tokens_per_s: float
    cost_per_million: Decimal  # US dollars per 1M output tokens at this many users
    grade: str
    stale: bool


def cheapest_rentals(
    config: Mapping[str, Any],
    opts: MemoryOptions,
    *,
    users: int,
    depth: int,
    runtime: str,
    need_bytes: int,
) -> list[Rental]:
    """Up to 8 offers that serve `users` sequences, cheapest per hour first."""
    offers = Offer.objects.matched().annotate(
        total_memory=F("gpu_count") * F("hardware__memory_bytes")
    )
    best = offers.filter(hardware=OuterRef("hardware"), gpu_count=OuterRef("gpu_count")).order_by(
        "price_per_gpu_hour", "id"
    )
    # One row per device and GPU count with room for the estimate's total: its cheapest offer.
    groups = (
        offers.filter(total_memory__gte=need_bytes)
        .values("hardware", "gpu_count")
        .annotate(n=Count("id"), best=Subquery(best.values("id")[:1]))
        .values_list("best", flat=True)
    )
    candidates = sorted(
        Offer.objects.filter(pk__in=list(groups)).select_related("hardware"),
        key=lambda o: o.price_per_gpu_hour * o.gpu_count,
    )
    now = timezone.now()
    rentals = []
    for offer in candidates:
        hw = offer.hardware
        assert hw is not None
        report = estimate(
            config, opts, from_hardware(hw, offer.gpu_count), depth=depth, batch=users,
            runtime=runtime,
        )  # fmt: skip
        fits = report["fit_status"] in ("fits", "tight")
        if runtime == "vllm":
            fits = fits and (report.get("vllm_kv_tokens") or 0) >= opts.n_ctx
        tps = report["aggregate_tokens_per_s"]
        if not fits or not tps:
            continue
        price = offer.price_per_gpu_hour * offer.gpu_count
        per_million = price / Decimal(tps * 3600) * 1_000_000
        rentals.append(
            Rental(
                offer,
                hw,
                price,
                tps,
                per_million.quantize(Decimal("0.001")),
                report["grade"],
                now - offer.fetched_at > STALE_AFTER,
            )
        )
        if len(rentals) == SHOWN:
            break
    return rentals
