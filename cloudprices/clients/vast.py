"""Vast.ai: marketplace offers, searched once on-demand and once interruptible (bid)."""

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

NAME = "vast"
URL = "https://console.vast.ai/api/v0/bundles/"
LIMIT = 1000  # offers per search
MIN_INTERVAL = 6.5  # seconds between the two searches: Vast allows about 10 a minute per IP

# Which offer field holds the price for each tier: on-demand pays dph_total (the whole offer,
# storage included); an interruptible rental starts at the host's minimum bid.
PRICE_FIELD = {"on_demand": "dph_total", "spot": "min_bid"}


class VastError(ProviderError):
    """Vast.ai could not be reached, refused, or sent a reply that does not parse."""


class _BadRow(Exception):
    """One offer is malformed; it is skipped and reported."""


def search_body(offer_type: str) -> dict[str, Any]:
    """The search request for one offer type, "on-demand" or "bid"."""
    return {
        "type": offer_type,
        "rentable": {"eq": True},
        "verified": {"eq": True},
        "rented": {"eq": False},
        "limit": LIMIT,
    }


def parse(payload: Any, tier: str = "on_demand") -> list[FetchedOffer]:
    """The offers in one search reply, priced for `tier` ("on_demand" or "spot")."""
    return parse_report(payload, tier=tier)[0]


def parse_report(payload: Any, tier: str = "on_demand") -> tuple[list[FetchedOffer], list[str]]:
    """The offers in one search reply, and why any were skipped."""
    if tier not in PRICE_FIELD:
        raise ValueError(f"tier must be one of {sorted(PRICE_FIELD)}, got {tier!r}")
    offers: list[FetchedOffer] = []
    skipped: list[str] = []
    for index, row in enumerate(_offers(payload)):
        try:
            offers.append(_offer(row, tier))
        except _BadRow as exc:
            skipped.append(f"offers[{index}]: {exc}")
    return offers, skipped


def fetch(**options: Any) -> list[FetchedOffer]:
    """Vast.ai's current on-demand and bid offers (options: `fetch_report`'s)."""
    return fetch_report(**options)[0]


def fetch_report(
    *,
    base_url: str = URL,
    api_key: str | None = None,
    timeout: float = 20.0,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    min_interval: float = MIN_INTERVAL,
) -> tuple[list[FetchedOffer], list[str]]:
    """Like `fetch`, and also why any offers were skipped."""
    headers = json_headers(api_key)
    with http_session(session) as http:

        def search(offer_type: str) -> Any:
            body = search_body(offer_type)
            return request_json(
                http, "POST", base_url, error=VastError, headers=headers, body=body,
                timeout=timeout, sleep=sleep,
            )  # fmt: skip

        # Parse the first reply before asking again, so a broken reply costs one request.
        on_demand, skipped = parse_report(search("on-demand"), tier="on_demand")
        sleep(min_interval)
        bid, skipped_bid = parse_report(search("bid"), tier="spot")
    return on_demand + bid, skipped + skipped_bid


def _offers(payload: Any) -> list[Any]:
    """The offers list of a reply, or VastError naming what is wrong with its shape."""
    if not isinstance(payload, dict):
        raise VastError(f"reply must be a JSON object, got {payload!r:.200}")
    offers = payload.get("offers")
    if not isinstance(offers, list):
        raise VastError(
            f"`offers` must be a list, got {offers!r:.200} (reply keys: {sorted(payload)})"
        )
    return offers


def _offer(row: Any, tier: str) -> FetchedOffer:
    """One offer, priced per GPU-hour for `tier`."""
    if not isinstance(row, dict):
        raise _BadRow(f"not an object: {row!r:.100}")
    offer_id = row.get("id")
    if isinstance(offer_id, bool) or not isinstance(offer_id, int | str) or offer_id == "":
        raise _BadRow(f"`id` must be a number or string, got {offer_id!r:.100}")
    gpu_name = row.get("gpu_name")
    if not isinstance(gpu_name, str) or not gpu_name:
        raise _BadRow(f"{offer_id}: `gpu_name` must be a non-empty string, got {gpu_name!r:.100}")
    num_gpus = row.get("num_gpus")
    if isinstance(num_gpus, bool) or not isinstance(num_gpus, int) or num_gpus < 1:
        raise _BadRow(f"{offer_id}: `num_gpus` must be an integer >= 1, got {num_gpus!r:.100}")
    gpu_ram = row.get("gpu_ram")
    if not _is_number(gpu_ram) or gpu_ram <= 0:
        raise _BadRow(f"{offer_id}: `gpu_ram` must be a positive number, got {gpu_ram!r:.100}")
    field = PRICE_FIELD[tier]
    total = row.get(field)
    if not _is_number(total) or total <= 0:
        raise _BadRow(f"{offer_id}: `{field}` must be a positive number, got {total!r:.100}")
    region = row.get("geolocation")
    if region is not None and not isinstance(region, str):
        raise _BadRow(f"{offer_id}: `geolocation` must be a string, got {region!r:.100}")
    rentable, rented = row.get("rentable"), row.get("rented")
    known = isinstance(rentable, bool) and isinstance(rented, bool)
    return FetchedOffer(
        provider=NAME,
        key=f"{offer_id}:{tier}",
        gpu_name=gpu_name,  # names carry no memory size ("A100 SXM4" is 40 or 80 GB): see gpu_ram
        gpu_count=num_gpus,
        memory_bytes_per_gpu=int(Decimal(str(gpu_ram)) * 2**20),  # gpu_ram is in MB, i.e. MiB
        tier=tier,
        price_per_gpu_hour=Decimal(str(total)) / num_gpus,  # prices are for the whole offer
        region=region or "",
        available=(rentable and not rented) if known else None,
    )


def _is_number(value: Any) -> TypeGuard[int | float]:
    """A finite JSON number (bool is an int in Python but never a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)
