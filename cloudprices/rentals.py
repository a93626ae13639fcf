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

from django.db.models import Min

from catalog.models import Hardware
from cloudprices.models import Offer
from cloudprices.queries import OFFER_FIELDS
from estimator.devices import device_class, from_hardware
from estimator.estimate import vllm_view
from estimator.fit import fit
from estimator.memory import MemoryOptions, estimate_memory, inventory

SHOWN = 8


@dataclass(frozen=True)
class Rental:
    offer: Offer  # its `hardware` is not loaded: use `hardware`
    hardware: Hardware
    price_per_hour: Decimal  # the whole offer: every GPU of it
    aggregate_tokens_per_s: float
    cost_per_million: Decimal  # US dollars per 1M output tokens at this many users


@dataclass(frozen=True)
class Group:
    """One device, GPU count and tier: its cheapest current offer from any provider."""

    hardware_id: int
    gpu_count: int
    tier: str
    offer: Offer  # shared by every request: read, never changed

    @property
    def price_per_hour(self) -> Decimal:
        return self.offer.price_per_gpu_hour * self.gpu_count


@dataclass(frozen=True)
class Groups:
    token: str
    groups: tuple[Group, ...]


_groups: Groups | None = None


def groups(prices_token: str) -> tuple[Group, ...]:
    """Every device x GPU count x tier on offer with its cheapest offer (the lowest id among
    equal prices), read once per process and prices token (offers change only when a refresh
    stores them): two queries, the lows, then the offers at those lows."""
    global _groups
    if _groups is not None and _groups.token == prices_token:
        return _groups.groups
    on_offer = Offer.objects.matched()
    lows = {
        (hw, count, tier): low
        for hw, count, tier, low in on_offer.order_by()
        .values_list("hardware", "gpu_count", "tier")
        .annotate(low=Min("price_per_gpu_hour"))
    }
    cheapest: dict[tuple[int, int, str], Offer] = {}
    at_lows = on_offer.filter(price_per_gpu_hour__in=set(lows.values()))
    for offer in at_lows.only(*OFFER_FIELDS).order_by("id"):
        group = (offer.hardware_id, offer.gpu_count, offer.tier)
        if lows.get(group) == offer.price_per_gpu_hour:  # type: ignore[arg-type]
            cheapest.setdefault(group, offer)  # type: ignore[arg-type]
    found = tuple(Group(hw, count, tier, offer) for (hw, count, tier), offer in cheapest.items())
    _groups = Groups(prices_token, found)
    return found


def market(prices_token: str) -> list[Group]:
    """Every device-and-GPU-count group's cheapest offer of any tier, cheapest per hour first."""
    best: dict[tuple[int, int], Group] = {}
    for g in groups(prices_token):
        key = (g.hardware_id, g.gpu_count)
        held = best.get(key)
        if held is None or (g.offer.price_per_gpu_hour, g.offer.pk) < (
            held.offer.price_per_gpu_hour, held.offer.pk):  # fmt: skip
            best[key] = g
    return sorted(best.values(), key=lambda g: g.price_per_hour)


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
    rentals = []
    for group in market(prices_token):
        hw, count = devices.get(group.hardware_id), group.gpu_count
        if hw is None or count * hw.memory_bytes < need_bytes:
            continue
        cls = device_class(hw.vendor, hw.kind)
        device = from_hardware(hw, count, (calibration or {}).get(cls, 1.0))
        f = fit(inv, est, device, depth=depth, batch=users)
        fits = f.status in ("fits", "tight")
        if fits and runtime == "vllm":  # vLLM needs its paged KV cache to hold every user
            fits = vllm_view(config, opts, device).vllm_kv_tokens >= opts.n_ctx
        if not fits or not f.decode_tokens_per_s:
            continue
        offer = group.offer
        tps = f.decode_tokens_per_s * users
        price = group.price_per_hour
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
