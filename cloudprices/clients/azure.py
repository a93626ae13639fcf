"""Azure: Linux pay-as-you-go and spot prices of GPU VM sizes from the Retail Prices API."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import requests

from cloudprices.clients import FetchedOffer, ProviderError
from cloudprices.clients.http import json_headers, request_json
from cloudprices.clients.http import session as http_session

logger = logging.getLogger(__name__)

NAME = "azure"
URL = "https://prices.azure.com/api/retail/prices"  # unauthenticated
MAX_PAGES = 20  # the API pages at 100 items

# armSkuName -> (GPU name, GPUs per VM, GiB of memory per GPU), from Microsoft's size docs:
# https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/nca100v4-series
# https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/ndasra100v4-series
# https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/ndma100v4-series
# https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/ncv3-series
# https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/ncast4v3-series
# https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/ndh100v5-series
# https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/ncadsh100v5-series
GPU_SKUS: dict[str, tuple[str, int, int]] = {
    "Standard_NC24ads_A100_v4": ("A100 80GB PCIe", 1, 80),
    "Standard_NC48ads_A100_v4": ("A100 80GB PCIe", 2, 80),
    "Standard_NC96ads_A100_v4": ("A100 80GB PCIe", 4, 80),
    "Standard_ND96asr_v4": ("A100 40GB SXM", 8, 40),
    "Standard_ND96amsr_A100_v4": ("A100 80GB SXM", 8, 80),
    # NCv3 (V100) was retired on 2025-09-30; kept so any prices Azure still lists are read.
    "Standard_NC6s_v3": ("V100 16GB", 1, 16),
    "Standard_NC12s_v3": ("V100 16GB", 2, 16),
    "Standard_NC24s_v3": ("V100 16GB", 4, 16),
    "Standard_NC4as_T4_v3": ("T4", 1, 16),
    "Standard_NC8as_T4_v3": ("T4", 1, 16),
    "Standard_NC16as_T4_v3": ("T4", 1, 16),
    "Standard_NC64as_T4_v3": ("T4", 4, 16),
    "Standard_ND96isr_H100_v5": ("H100 80GB SXM", 8, 80),
    "Standard_NC40ads_H100_v5": ("H100 NVL", 1, 94),
    "Standard_NC80adis_H100_v5": ("H100 NVL", 2, 94),
}

# Every item must carry these as strings; a missing or mistyped one makes the item malformed.
TEXT_FIELDS = (
    "armSkuName",
    "armRegionName",
    "currencyCode",
    "unitOfMeasure",
    "type",
    "productName",
    "skuName",
    "meterName",
)


class AzureError(ProviderError):
    """The Retail Prices API could not be reached, refused, or sent a reply that does not parse."""


class _BadRow(Exception):
    """One price item is malformed; it is skipped and reported."""


def price_filter() -> str:
    """The OData $filter selecting pay-as-you-go VM prices of the sizes in GPU_SKUS."""
    sizes = " or ".join(f"armSkuName eq '{sku}'" for sku in GPU_SKUS)
    return f"serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and ({sizes})"


def parse(payload: Any) -> list[FetchedOffer]:
    """The offers in one page of the Retail Prices API."""
    return parse_report(payload)[0]


def parse_report(payload: Any) -> tuple[list[FetchedOffer], list[str]]:
    """The offers in one page, and why any items were skipped as malformed."""
    return _parse_items(_items(payload))


def fetch(**options: Any) -> list[FetchedOffer]:
    """Azure's current GPU VM prices, following NextPageLink (options: `fetch_report`'s)."""
    return fetch_report(**options)[0]


def fetch_report(
    *,
    base_url: str = URL,
    api_key: str | None = None,
    timeout: float = 20.0,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_pages: int = MAX_PAGES,
) -> tuple[list[FetchedOffer], list[str]]:
    """Like `fetch`, and also why any items were skipped."""
    del api_key  # the Retail Prices API takes none; accepted to match the other clients
    items: list[Any] = []
    url: str = base_url
    params: dict[str, str] | None = {"$filter": price_filter()}
    with http_session(session) as http:
        for _ in range(max_pages):
            page = request_json(
                http, "GET", url, error=AzureError, headers=json_headers(),
                params=params, timeout=timeout, sleep=sleep,
            )  # fmt: skip
            items.extend(_items(page))
            next_link = page.get("NextPageLink")
            if not next_link:
                break
            if not isinstance(next_link, str):
                raise AzureError(f"`NextPageLink` must be a URL or null, got {next_link!r:.200}")
            url, params = next_link, None  # the link already carries the filter and $skip
        else:
            logger.warning("Azure prices: stopped after %d pages; later pages not read", max_pages)
    return _parse_items(items)


def _items(payload: Any) -> list[Any]:
    """The Items list of one page, or AzureError naming what is wrong with its shape."""
    if not isinstance(payload, dict):
        raise AzureError(f"reply must be a JSON object, got {payload!r:.200}")
    items = payload.get("Items")
    if not isinstance(items, list):
        raise AzureError(f"`Items` must be a list, got {items!r:.200} (keys: {sorted(payload)})")
    return items


def _parse_items(items: list[Any]) -> tuple[list[FetchedOffer], list[str]]:
    """Offers from price items, the cheapest per key, and the reasons items were malformed."""
    best: dict[str, FetchedOffer] = {}
    skipped: list[str] = []
    for index, item in enumerate(items):
        try:
            offer = _offer(item)
        except _BadRow as exc:
            skipped.append(f"Items[{index}]: {exc}")
            continue
        if offer is None:
            continue
        # One size can carry several meters for the same region and tier; the cheapest rents.
        kept = best.get(offer.key)
        if kept is None or offer.price_per_gpu_hour < kept.price_per_gpu_hour:
            best[offer.key] = offer
    return list(best.values()), skipped


def _offer(item: Any) -> FetchedOffer | None:
    """The offer in one item; None for prices this site does not show (Windows, low priority...)."""
    if not isinstance(item, dict):
        raise _BadRow(f"not an object: {item!r:.100}")
    text: dict[str, str] = {}
    for field in TEXT_FIELDS:
        value = item.get(field)
        if not isinstance(value, str):
            raise _BadRow(f"`{field}` must be a string, got {value!r:.100}")
        text[field] = value
    price = item.get("retailPrice")
    if isinstance(price, bool) or not isinstance(price, int | float) or not math.isfinite(price):
        raise _BadRow(f"{text['armSkuName']}: `retailPrice` must be a number, got {price!r:.100}")
    if price < 0:
        raise _BadRow(f"{text['armSkuName']}: `retailPrice` is negative: {price!r}")
    size = GPU_SKUS.get(text["armSkuName"])
    if (
        size is None
        or price == 0
        or text["currencyCode"] != "USD"
        or text["unitOfMeasure"] != "1 Hour"
        or text["type"] != "Consumption"
        or "Windows" in text["productName"]  # Windows prices include the licence
        or "Low Priority" in text["skuName"]  # sold to Batch/ML pools, not as VMs
        or "Low Priority" in text["meterName"]
    ):
        return None
    gpu_name, gpu_count, memory_gib = size
    tier = "spot" if text["skuName"].endswith("Spot") else "on_demand"
    return FetchedOffer(
        provider=NAME,
        key=f"{text['armSkuName']}:{text['armRegionName']}:{tier}",
        gpu_name=gpu_name,
        gpu_count=gpu_count,
        memory_bytes_per_gpu=memory_gib * 2**30,
        tier=tier,
        price_per_gpu_hour=Decimal(str(price)) / gpu_count,  # Azure prices the whole VM
        region=text["armRegionName"],
    )
