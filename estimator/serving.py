"""Serving to a target: how many users a device (or N devices) serves at a per-user decode speed
and a time to first token, the throughput there, and what a million output tokens cost.

- Users that fit: llama.cpp gives each of `users` parallel slots its own `ctx`-token cache
  (`-np users -c ctx x users`, one stream per slot): the memory estimate at that size must fit
  the device's usable memory (model page rule, fit.usable_bytes). vLLM pages its cache: the
  users that fit are its KV tokens over `ctx` (estimate.vllm_view).
- Speed at `users`: one decode step serves every user (throughput.decode_tokens_per_s), each
  user halfway through its context (depth ctx / 2), the assumption of the serving plan's chart.
- Time to first token: a new user's prompt of `prompt_tokens` at the device's prefill rate
  (llama-server runs it in ubatches beside the other users' decode tokens; one prompt at a time).
- The answer is the most users meeting both targets (per-user speed and time to first token)
  within memory; `limit` says which bound stopped it.

Multi-GPU: llama.cpp splits layers (memory adds up, a step visits the GPUs in turn), vLLM splits
tensors (throughput.decode_tokens_per_s with runtime="vllm").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from estimator.fit import usable_bytes
from estimator.memory import MemoryOptions, config_key, estimate_memory, inventory
from estimator.plan import model as plan_model
from estimator.throughput import Device, decode_tokens_per_s, prefill_tokens_per_s

MAX_USERS = 1024  # the most users a plan considers (the page's slider stops at 256)
RUNTIMES = ("llama.cpp", "vllm")


@dataclass(frozen=True)
class Target:
    per_user_tps: float  # decode tokens/s every user must see
    ttft_s: float | None  # seconds to the first token for a prompt of prompt_tokens; None: any
    prompt_tokens: int = 1024


@dataclass(frozen=True)
class Point:
    """The serving figures at one number of concurrent users."""

    users: int
    aggregate_tokens_per_s: float
    per_user_tokens_per_s: float
    ttft_s: float | None  # None: the device's prefill rate is unknown


@dataclass(frozen=True)
class Serving:
    runtime: str
    users_that_fit: int  # memory bound: 0 when not even one user's cache fits
    at_target: Point | None  # the most users meeting the target; None when one user does not
    limit: str  # "memory", "speed", "ttft" or "max users": what stopped more users
    single: Point | None  # one user, for "why not": its speed and time to first token


def users_that_fit(
    raw_config: Mapping[str, Any], opts: MemoryOptions, device: Device, ctx: int, runtime: str
) -> int:
    """How many users of `ctx` tokens each fit in the memory of `device` (x device.count)."""
    if runtime == "vllm":
        from estimator.estimate import vllm_view  # estimate -> report -> this module

        tokens = vllm_view(raw_config, replace(opts, n_ctx=ctx), device).vllm_kv_tokens
        return min(tokens // max(ctx, 1), MAX_USERS)
    gpu = device.device_class != "cpu"
    key = config_key(raw_config)
    return _llama_users(key, replace(opts, n_ctx=ctx, n_seq=1), usable_bytes(device), gpu)


@lru_cache(maxsize=8192)
def _llama_users(key: str, opts: MemoryOptions, usable: int, gpu: bool) -> int:
    """Binary search on the users whose caches fit: memory grows with every slot. Keyed by the
    usable memory alone, so every offer of the same memory shares it."""
    raw_config = json.loads(key)
    ctx = opts.n_ctx
    input_bytes = plan_model(key, opts.file_type).input_bytes if gpu else 0

    def fits(users: int) -> bool:
        est = estimate_memory(raw_config, replace(opts, n_ctx=ctx * users, n_seq=users))
        need = est.total_bytes
        if gpu:  # llama.cpp keeps the input embedding and the logits buffer in system memory
            need -= input_bytes + est.output_buffer_bytes
        return need <= usable

    lo, hi = 0, MAX_USERS
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def point(
    raw_config: Mapping[str, Any],
    opts: MemoryOptions,
    device: Device,
    *,
    users: int,
    ctx: int,
    prompt_tokens: int,
    runtime: str = "llama.cpp",
) -> Point:
    """Aggregate and per-user decode tokens/s with `users` decoding, and a new user's time to
    first token for `prompt_tokens`."""
    est = estimate_memory(raw_config, replace(opts, n_ctx=ctx, n_seq=1))
    inv = inventory(raw_config)
    scale = 1.0
    if runtime == "vllm":  # vLLM serves the checkpoint as released (BF16, FP8, MXFP4, INT4)
        from estimator.estimate import vllm_weights_bytes  # estimate -> report -> this module

        scale = vllm_weights_bytes(config_key(raw_config)) / max(est.weights.bytes, 1)
    aggregate, per_user = decode_tokens_per_s(
        inv, est.weights, est.kv, device, ctx // 2, users, runtime, weight_scale=scale
    )
    prefill = prefill_tokens_per_s(inv, prompt_tokens, 0, device, weights=est.weights)
    ttft = prompt_tokens / prefill if prefill else None
    return Point(users, aggregate, per_user, ttft)


def serve(
    raw_config: Mapping[str, Any],
    opts: MemoryOptions,
    device: Device,
    target: Target,
    *,
    ctx: int,
    runtime: str = "llama.cpp",
) -> Serving:
    """The most users `device` (x device.count) serves at `target` with `ctx` tokens each."""
    fit_users = users_that_fit(raw_config, opts, device, ctx, runtime)
    if fit_users == 0:
        return Serving(runtime, 0, None, "memory", None)

    def at(users: int) -> Point:
        return point(raw_config, opts, device, users=users, ctx=ctx,
                     prompt_tokens=target.prompt_tokens, runtime=runtime)  # fmt: skip

    def meets(p: Point) -> str:
        """'' when `p` meets the target, else the bound it misses."""
        if p.per_user_tokens_per_s < target.per_user_tps:
            return "speed"
        if target.ttft_s is not None and (p.ttft_s is None or p.ttft_s > target.ttft_s):
            return "ttft"
        return ""

    single = at(1)
    missed = meets(single)
    if missed:
        return Serving(runtime, fit_users, None, missed, single)
    # Per-user speed falls as users are added: the largest count that still meets the target.
    lo, hi = 1, fit_users
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if meets(at(mid)):
            hi = mid - 1
        else:
            lo = mid
    best = at(lo)
    if lo == fit_users:
        limit = "max users" if fit_users == MAX_USERS else "memory"
    else:
        limit = meets(at(lo + 1)) or "speed"
    return Serving(runtime, fit_users, best, limit, single)


def cost_per_million(price_per_hour: float, aggregate_tokens_per_s: float) -> float | None:
    """Dollars per 1M output tokens at `price_per_hour` with every user decoding at once."""
    if aggregate_tokens_per_s <= 0:
        return None
    return price_per_hour / (aggregate_tokens_per_s * 3600) * 1e6


# Electricity: the default price is the US residential average, 18.72 cents per kWh, in EIA's
# Electric Power Monthly table 5.6.A (https://www.eia.gov/electricity/monthly/epm_table_grapher.php?t=epmt_5_6_a)
# as republished on 2026-04-26 (https://www.energypricestoday.com/data/sources/electricity-prices.json);
# the user sets their own.
DEFAULT_KWH_PRICE = 0.1872
KWH_PRICE_SOURCE = "https://www.eia.gov/electricity/monthly/epm_table_grapher.php?t=epmt_5_6_a"


def local_cost_per_million(
    watts: float | None, kwh_price: float, aggregate_tokens_per_s: float
) -> float | None:
    """Electricity per 1M output tokens on your own machine drawing `watts` (its board power:
    decoding is memory-bound and draws less, so this is an upper bound); None when the power
    is unknown."""
    if not watts or aggregate_tokens_per_s <= 0:
        return None
    return watts / 1000 * kwh_price / (aggregate_tokens_per_s * 3600) * 1e6
