"""RunPod: the public GraphQL GPU catalog, one offer per GPU type and cloud tier."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeGuard

import requests

from cloudprices.clients import FetchedOffer, ProviderError
from cloudprices.clients.http import json_headers, request_json
from cloudprices.clients.http import session as http_session

NAME = "runpod"
URL = "https://api.runpod.io/graphql"

QUERY = """\
query GpuTypes {
  gpuTypes {
    id
    displayName
    manufacturer
    memoryInGb
    maxGpuCount
    secureCloud
    communityCloud
    securePrice
    communityPrice
    secureSpotPrice
    communitySpotPrice
    lowestPrice(input: { gpuCount: 1 }) {
      minimumBidPrice
      uninterruptablePrice
      stockStatus
    }
  }
}
"""

# (price field, the cloud flag that must be true, tier, key suffix). A price on a cloud whose flag
# is false is a placeholder RunPod fills in, not an offer.
PRICE_FIELDS = (
    ("securePrice", "secureCloud", "on_demand", "secure"),
    ("communityPrice", "communityCloud", "community", "community"),
    ("secureSpotPrice", "secureCloud", "spot", "secure_spot"),
    ("communitySpotPrice", "communityCloud", "spot", "community_spot"),
)


class RunPodError(ProviderError):
    """RunPod could not be reached, refused, or sent a reply that does not parse."""


class _BadRow(Exception):
    """One gpuTypes entry is malformed; it is skipped and reported."""


def parse(payload: Any) -> list[FetchedOffer]:
    """The offers in one GraphQL reply."""
    return parse_report(payload)[0]


def parse_report(payload: Any) -> tuple[list[FetchedOffer], list[str]]:
    """The offers in one GraphQL reply, and why any gpuTypes entries were skipped."""
    offers: list[FetchedOffer] = []
    skipped: list[str] = []
    for index, row in enumerate(_gpu_types(payload)):
        try:
            offers.extend(_row_offers(row))
        except _BadRow as exc:
            skipped.append(f"gpuTypes[{index}]: {exc}")
    return offers, skipped


def fetch(**options: Any) -> list[FetchedOffer]:
    """RunPod's current offers from the live API (options: `fetch_report`'s)."""
    return fetch_report(**options)[0]


def fetch_report(
    *,
    base_url: str = URL,
    api_key: str | None = None,
    timeout: float = 20.0,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[list[FetchedOffer], list[str]]:
    """Like `fetch`, and also why any rows were skipped."""
    headers = json_headers(api_key)
    with http_session(session) as http:
        payload = request_json(
            http, "POST", base_url, error=RunPodError, headers=headers, body={"query": QUERY},
            timeout=timeout, sleep=sleep,
        )  # fmt: skip
    return parse_report(payload)


def _gpu_types(payload: Any) -> list[Any]:
    """The gpuTypes list of a reply, or RunPodError naming what is wrong with its shape."""
    if not isinstance(payload, dict):
        raise RunPodError(f"reply must be a JSON object, got {payload!r:.200}")
    # GraphQL reports failures in `errors` with HTTP 200, often next to `"data": null`.
    errors = payload.get("errors")
    if errors:
        raise RunPodError(f"GraphQL errors: {_messages(errors)}")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise RunPodError(f"`data` must be an object, got {data!r:.200}")
    gpu_types = data.get("gpuTypes")
    if not isinstance(gpu_types, list):
        raise RunPodError(
            f"`data.gpuTypes` must be a list, got {gpu_types!r:.200} (data keys: {sorted(data)})"
        )
    return gpu_types


def _messages(errors: Any) -> str:
    """The `message` strings of a GraphQL `errors` value, or its repr if it has none."""
    if isinstance(errors, list):
        found = [e["message"] for e in errors if isinstance(e, dict) and "message" in e]
        if found:
            return "; ".join(str(m) for m in found)[:500]
    return f"{errors!r:.500}"


def _row_offers(row: Any) -> list[FetchedOffer]:
    """The offers of one gpuTypes entry (none for the placeholder "unknown" GPU)."""
    if not isinstance(row, dict):
        raise _BadRow(f"not an object: {row!r:.100}")
    gpu_id = row.get("id")
    if not isinstance(gpu_id, str) or not gpu_id:
        raise _BadRow(f"`id` must be a non-empty string, got {gpu_id!r:.100}")
    if gpu_id == "unknown":  # RunPod lists a placeholder type with this id; it is no GPU
        return []
    memory_gb = row.get("memoryInGb")
    if not _is_number(memory_gb) or memory_gb <= 0:
        raise _BadRow(f"{gpu_id}: `memoryInGb` must be a positive number, got {memory_gb!r:.100}")
    # GPU vendors' "GB" of memory are GiB (an "80GB" card has 80 * 2**30 bytes).
    memory_bytes = int(Decimal(str(memory_gb)) * 2**30)
    flags: dict[str, bool] = {}
    for flag in ("secureCloud", "communityCloud"):
        if not isinstance(row.get(flag), bool):
            raise _BadRow(f"{gpu_id}: `{flag}` must be true or false, got {row.get(flag)!r:.100}")
        flags[flag] = row[flag]
    # Check every price before keeping any, so a malformed row yields nothing.
    prices = {field: _price(row, field, gpu_id) for field, *_ in PRICE_FIELDS}
    available = _available(row.get("lowestPrice"))
    offers: list[FetchedOffer] = []
    for field, flag, tier, suffix in PRICE_FIELDS:
        price = prices[field]
        if not flags[flag] or price is None or price == 0:
            continue  # not offered on this cloud
        offers.append(
            FetchedOffer(
                provider=NAME,
                key=f"{gpu_id}:{suffix}",
                gpu_name=gpu_id,
                gpu_count=1,  # RunPod prices are per GPU
                memory_bytes_per_gpu=memory_bytes,
                tier=tier,
                price_per_gpu_hour=price,
                available=available,
            )
        )
    return offers


def _price(row: dict[str, Any], field: str, gpu_id: str) -> Decimal | None:
    """A price field as Decimal, or None when null (the caller treats 0 and null as not offered)."""
    value = row.get(field)
    if value is None:
        return None
    if not _is_number(value) or value < 0:
        raise _BadRow(f"{gpu_id}: `{field}` must be a number >= 0, got {value!r:.100}")
    return Decimal(str(value))


def _available(lowest_price: Any) -> bool | None:
    """True when RunPod reports any stock status; None when it reports none."""
    # Availability is informational, so an odd shape here means "unknown" rather than a bad row.
    # The sample replies hold only "Low", "Medium" and "High"; no value is known to mean "none".
    if not isinstance(lowest_price, dict):
        return None
    status = lowest_price.get("stockStatus")
    return True if isinstance(status, str) and status else None


def _is_number(value: Any) -> TypeGuard[int | float]:
    """A finite JSON number (bool is an int in Python but never a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)
