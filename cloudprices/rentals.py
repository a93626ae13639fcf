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

from django.db.models import BigIntegerField, ExpressionWrapper, F, Max, Min

from catalog.models import Hardware
from cloudprices.models import Offer
from cloudprices.queries import OFFER_FIELDS
from estimator.devices import device_class, from_hardware
from estimator.estimate import vllm_view
from estimator.fit import fit
from estimator.memory import MemoryOptions, estimate_memory, inventory

SHOWN = 8
TOTAL_MEMORY = ExpressionWrapper(
    F("gpu_count") * F("hardware__memory_bytes"), output_field=BigIntegerField()
)


@dataclass(frozen=True)
class Rental:
    offer: Offer  # its `hardware` is not loaded: use `hardware`
    hardware: Hardware
    price_per_hour: Decimal  # the whole offer: every GPU of it
    aggregate_tokens_per_s: float
    cost_per_million: Decimal  # US dollars per 1M output tokens at this many users


@dataclass(frozen=True)
class Market:
    """Every device-and-GPU-count group on offer, its lowest price and that offer: read once
    per process and prices token (offers change only when a refresh stores them)."""

    token: str
    groups: list[tuple[int, int, Decimal, int]]  # device id, GPUs, lowest price, total memory
    cheapest: dict[tuple[int, int], Offer]


_market: Market | None = None


def market(prices_token: str) -> Market:
    global _market
    if _market is not None and _market.token == prices_token:
        return _market
    groups = sorted(
        Offer.objects.matched()
        # BigInteger: gpu_count is a small integer, and PostgreSQL's range would empty a filter.
        .annotate(total_memory=TOTAL_MEMORY)
        .values_list("hardware", "gpu_count")
        .annotate(low=Min("price_per_gpu_hour"), memory=Max("total_memory")),
        key=lambda g: g[2] * g[1],
    )
    lows = {(hw, count): low for hw, count, low, _ in groups}
    cheapest: dict[tuple[int, int], Offer] = {}
    at_lows = Offer.objects.filter(
        hardware__in={hw for hw, _ in lows}, price_per_gpu_hour__in=set(lows.values())
    )
    for offer in at_lows.only(*OFFER_FIELDS).order_by("id"):
        group = (offer.hardware_id, offer.gpu_count)
        if lows.get(group) == offer.price_per_gpu_hour:  # type: ignore[arg-type]
            cheapest.setdefault(group, offer)  # type: ignore[arg-type]
    _market = Market(prices_token, groups, cheapest)
    return _market


def cheapest_rentals(
    config: Mapping[str, Any],
    opts: MemoryOptions,
    *,
    users: int,
    depth: int,
    runtime: str,
    need_bytes: int,
    devices: Mapping[int, Hardware],
    prices_token: str,
    calibration: Mapping[str, float] | None = None,
) -> list[Rental]:
    """Up to 8 offers that serve `users` sequences, cheapest per hour first (`devices`: the
    catalog's devices by id, which the caller already holds; `calibration`: community runs'
    decode factor per device class, for the runtime's engine)."""
    # The memory needed is the same on every offer: estimate it once, then fit each group
    # with room for it, cheapest first.
    est = estimate_memory(config, opts)
    inv = inventory(config)
    offers = market(prices_token)
    rentals = []
    for hw_id, count, low, total_memory in offers.groups:
        hw = devices.get(hw_id)
        if hw is None or total_memory < need_bytes:
            continue
        cls = device_class(hw.vendor, hw.kind)
        device = from_hardware(hw, count, (calibration or {}).get(cls, 1.0))
        f = fit(inv, est, device, depth=depth, batch=users)
        fits = f.status in ("fits", "tight")
        if fits and runtime == "vllm":  # vLLM needs its paged KV cache to hold every user
            fits = vllm_view(config, opts, device).vllm_kv_tokens >= opts.n_ctx
        if not fits or not f.decode_tokens_per_s:
            continue
        offer = offers.cheapest[(hw_id, count)]  # shared by every request: read, never changed
        tps = f.decode_tokens_per_s * users
        price = low * count
        per_million = price / Decimal(tps * 3600) * 1_000_000
        rentals.append(
            Rental(
                offer,
                hw,
                price,
                tps,
                per_million.quantize(Decimal("0.001")),
            )
        )
        if len(rentals) == SHOWN:
            break
    return rentals
