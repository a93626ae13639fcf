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

from django.db.models import F, Min
from django.utils import timezone

from catalog.models import Hardware
from cloudprices.models import STALE_AFTER, Offer
from cloudprices.queries import OFFER_FIELDS
from estimator.devices import from_hardware
from estimator.estimate import vllm_view
from estimator.fit import fit
from estimator.memory import MemoryOptions, _inventory, config_key, estimate_memory

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
    devices: Mapping[int, Hardware],
) -> list[Rental]:
    """Up to 8 offers that serve `users` sequences, cheapest per hour first (`devices`: the
    catalog's devices by id, which the caller already holds)."""
    # Each device and GPU count with room for the estimate's total, at its lowest price.
    groups = sorted(
        Offer.objects.matched()
        .annotate(total_memory=F("gpu_count") * F("hardware__memory_bytes"))
        .filter(total_memory__gte=need_bytes)
        .values_list("hardware", "gpu_count")
        .annotate(low=Min("price_per_gpu_hour")),
        key=lambda g: g[2] * g[1],
    )
    # The memory needed is the same on every offer: estimate it once, then fit each group.
    est = estimate_memory(config, opts)
    inv = _inventory(config_key(config))
    chosen = []
    for hw_id, count, low in groups:
        hw = devices.get(hw_id)
        if hw is None:
            continue
        device = from_hardware(hw, count)
        f = fit(inv, est, device, depth=depth, batch=users)
        fits = f.status in ("fits", "tight")
        if fits and runtime == "vllm":  # vLLM needs its paged KV cache to hold every user
            fits = vllm_view(config, opts, device)["vllm_kv_tokens"] >= opts.n_ctx
        if fits and f.decode_tokens_per_s:
            chosen.append((hw, count, low, f))
            if len(chosen) == SHOWN:
                break
    if not chosen:
        return []
    # The offers behind the chosen groups: one IN query, the exact triples picked here.
    wanted = {(hw.pk, count, low) for hw, count, low, _ in chosen}
    offers: dict[tuple[int, int, Decimal], Offer] = {}
    for offer in (
        Offer.objects.filter(
            hardware__in={hw.pk for hw, *_ in chosen},
            price_per_gpu_hour__in={low for _, _, low, _ in chosen},
        )
        .only(*OFFER_FIELDS)
        .order_by("id")
    ):
        triple = (offer.hardware_id, offer.gpu_count, offer.price_per_gpu_hour)
        if triple in wanted:
            offers.setdefault(triple, offer)  # type: ignore[arg-type]
    now = timezone.now()
    rentals = []
    for hw, count, low, f in chosen:
        offer = offers[(hw.pk, count, low)]
        offer.hardware = hw
        tps = (f.decode_tokens_per_s or 0) * users
        price = low * count
        per_million = price / Decimal(tps * 3600) * 1_000_000
        rentals.append(
            Rental(
                offer,
                hw,
                price,
                tps,
                per_million.quantize(Decimal("0.001")),
                f.grade,
                now - offer.fetched_at > STALE_AFTER,
            )
        )
    return rentals
