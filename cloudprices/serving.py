"""The cheapest way to serve a model to N users at a speed target, across every current rental
offer: per device, GPU count (1-8) and tier, the cheapest offer of any provider; how many users
it serves at the target (estimator.serving.serve), and what a million output tokens cost there.

Cost per 1M output tokens = the offer's price per hour (per-GPU price x GPUs) / (aggregate
decode tokens/s with the requested users decoding at once x 3600) x 10^6. Stale offers stay in
the ranking, flagged; a provider without offers is simply not in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from catalog.models import Hardware
from catalog.snapshot import Brief, Snapshot, engine
from cloudprices.models import Offer, Tier
from cloudprices.rentals import groups
from estimator.devices import device_class, from_hardware
from estimator.memory import MemoryOptions, config_key, estimate_memory
from estimator.serving import Point, Serving, Target, cost_per_million, point, serve, users_that_fit
from estimator.throughput import Device

MAX_GPUS = 8  # offers of more GPUs than one node holds are left out
SHOWN = 20


@dataclass(frozen=True)
class Served:
    """One offer that serves the users at the target, and what it costs there."""

    offer: Offer
    hardware: Hardware
    gpu_count: int
    price_per_hour: Decimal  # the whole offer: every GPU of it
    users_served: int  # the most users it serves at the target
    at_users: Point  # the requested users decoding at once
    cost_per_million: float  # US dollars per 1M output tokens at the requested users
    stale: bool
    assumption: str


@dataclass(frozen=True)
class Answer:
    offers: list[Served]  # cheapest per 1M output tokens first, at most `limit`
    count: int  # offers that serve the users at the target, shown or not
    reason: str  # why no offer does ("" when some do)
    assumptions: str


def cheapest_serving(
    config: Mapping[str, Any],
    opts: MemoryOptions,
    target: Target,
    *,
    users: int,
    ctx: int,
    runtime: str,
    tier: str | None,
    devices: Mapping[int, Hardware],
    prices_token: str,
    calibration: Mapping[str, float] | None = None,
    limit: int = SHOWN,
    now: datetime | None = None,
) -> Answer:
    """The offers that serve `users` users of `ctx` tokens each at `target`, cheapest per 1M
    output tokens first (`devices`: the catalog's devices by id; `calibration`: community runs'
    decode factor per device class, for the runtime's engine)."""
    now = now or timezone.now()
    opts = replace(opts, n_ctx=ctx, n_seq=1)
    key = config_key(config)
    # The weights alone must fit in llama.cpp's GPUs: smaller groups need no estimate at all.
    weights = estimate_memory(config, opts).weights_bytes if runtime == "llama.cpp" else 0
    served: list[Served] = []
    most_fit = most_served = considered = 0
    missed: dict[str, int] = {}
    for group in groups(prices_token):
        hw = devices.get(group.hardware_id)
        if hw is None or group.gpu_count > MAX_GPUS or (tier and group.tier != tier):
            continue
        considered += 1
        if group.gpu_count * hw.memory_bytes < weights:
            continue
        cls = device_class(hw.vendor, hw.kind)
        device = from_hardware(hw, group.gpu_count, (calibration or {}).get(cls, 1.0))
        fit, serving, at_users = _evaluate(key, config, opts, device, target, ctx, runtime, users)
        most_fit = max(most_fit, fit)
        if serving is None:  # fewer than `users` caches fit
            continue
        reached = serving.at_target.users if serving.at_target else 0
        most_served = max(most_served, reached)
        if at_users is None:
            missed[serving.limit] = missed.get(serving.limit, 0) + 1
            continue
        offer = group.offer
        price = offer.price_per_gpu_hour * group.gpu_count
        cost = cost_per_million(float(price), at_users.aggregate_tokens_per_s)
        if cost is None:
            continue
        served.append(
            Served(
                offer, hw, group.gpu_count, price, reached, at_users, cost,
                offer.is_stale(now), assumption(runtime, group.gpu_count, users, ctx),
            )
        )  # fmt: skip
    served.sort(key=lambda s: (s.cost_per_million, s.price_per_hour, s.hardware.name, s.offer.tier))
    reason = "" if served else _reason(considered, most_fit, most_served, missed, users, ctx,
                                       target, tier)  # fmt: skip
    return Answer(served[:limit], len(served), reason, assumptions(runtime, target))


# Per process: (config, options, device, target, context, runtime, users) -> what serve() and
# point() say. A device of the same memory, bandwidth and count is the same answer in every
# tier, and an answer changes only with the estimator's code.
_memo: dict[tuple[Any, ...], tuple[int, Serving | None, Point | None]] = {}
MEMO_SIZE = 50_000


def _evaluate(
    key: str,
    config: Mapping[str, Any],
    opts: MemoryOptions,
    device: Device,
    target: Target,
    ctx: int,
    runtime: str,
    users: int,
) -> tuple[int, Serving | None, Point | None]:
    """The users whose caches fit, what serve() says (None when fewer than `users` fit), and the
    figures at `users` users (None unless serve() reaches them)."""
    memo_key = (key, opts, device, target, ctx, runtime, users)
    found = _memo.get(memo_key)
    if found is not None:
        return found
    fit = users_that_fit(config, opts, device, ctx, runtime)
    serving = at_users = None
    if fit >= users:
        serving = serve(config, opts, device, target, ctx=ctx, runtime=runtime)
        best = serving.at_target
        if best is not None and best.users >= users:
            at_users = best if best.users == users else point(
                config, opts, device, users=users, ctx=ctx, prompt_tokens=target.prompt_tokens,
                runtime=runtime,
            )  # fmt: skip
    if len(_memo) >= MEMO_SIZE:
        _memo.clear()
    _memo[memo_key] = found = (fit, serving, at_users)
    return found


def assumption(runtime: str, gpus: int, users: int, ctx: int) -> str:
    """What one answer rests on, in words."""
    plural = "s" if users > 1 else ""
    if runtime == "vllm":
        split = "one GPU" if gpus == 1 else f"tensors split over {gpus} GPUs"
        setup = f"vLLM, {split}, paged KV cache holding {users:,} request{plural} of {ctx:,} tokens"
    else:
        split = "one GPU" if gpus == 1 else f"layers split over {gpus} GPUs"
        setup = f"llama.cpp, {split}, {users:,} parallel slot{plural} of {ctx:,} tokens"
    return f"{setup}; speed at half-full context; one prompt at a time"


def assumptions(runtime: str, target: Target) -> str:
    """What every answer rests on, in words."""
    ttft = (
        f" and a first token within {target.ttft_s:g} s for a prompt of {target.prompt_tokens:,}"
        " tokens (one prompt at a time, beside the other users' decoding)"
        if target.ttft_s is not None
        else ""
    )
    engine = "vLLM (continuous batching, paged KV cache)" if runtime == "vllm" else (
        "llama.cpp's llama-server (one slot per user, each with its own context)"
    )  # fmt: skip
    return (
        f"Every current offer of 1-{MAX_GPUS} GPUs, the cheapest of any provider per GPU model, "
        f"GPU count and tier, served with {engine}. Each user must get {target.per_user_tps:g} "
        f"tokens/s{ttft}; speeds are estimates at half-full context. Cost per 1M output tokens "
        "= the offer's price per hour (per-GPU price x GPUs) / (aggregate output tokens/s with "
        "every user decoding at once x 3600) x 10^6, with the GPUs busy all the time. Prices "
        "fetched more than two hours ago are marked stale."
    )


def _reason(
    considered: int,
    most_fit: int,
    most_served: int,
    missed: Mapping[str, int],
    users: int,
    ctx: int,
    target: Target,
    tier: str | None,
) -> str:
    """Why no offer serves the users at the target."""
    if not considered:
        where = f" in the {Tier(tier).label} tier" if tier else ""
        return f"No current offers{where}."
    people = f"{users:,} user{'s' if users > 1 else ''} of {ctx:,} tokens"
    if most_fit < users:
        if most_fit == 0:
            return f"The model does not fit on any current offer of 1-{MAX_GPUS} GPUs with one "\
                   f"user of {ctx:,} tokens."  # fmt: skip
        return (
            f"No current offer of 1-{MAX_GPUS} GPUs holds {people}: the most any holds is "
            f"{most_fit:,}."
        )
    bound = max(missed, key=lambda k: missed[k]) if missed else "speed"
    if bound == "ttft" and target.ttft_s is not None:
        why = (
            f"a first token within {target.ttft_s:g} s for a prompt of {target.prompt_tokens:,} "
            "tokens (or with an unknown prefill speed)"
        )
    else:
        why = f"{target.per_user_tps:g} tokens/s per user"
    most = f"the most users any offer serves at this target is {most_served:,}" if most_served \
        else "none serves even one"  # fmt: skip
    return f"Offers hold {people}, but none serves them all at {why}: {most}."


def for_catalog_model(
    snap: Snapshot,
    prices_token: str,
    brief: Brief,
    target: Target,
    *,
    quant: str,
    users: int,
    ctx: int,
    runtime: str,
    tier: str | None,
    limit: int = SHOWN,
) -> Answer:
    """cheapest_serving for a catalog model, on this process's copy of the catalog."""
    return cheapest_serving(
        snap.model(brief.pk).estimator_config, MemoryOptions(file_type=quant), target,
        users=users, ctx=ctx, runtime=runtime, tier=tier, devices=snap.by_pk,
        prices_token=prices_token, calibration=snap.calibration.by_class(engine(runtime)),
        limit=limit,
    )  # fmt: skip
