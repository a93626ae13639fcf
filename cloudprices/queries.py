"""What the prices page, the model page's rentals panel and the API read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import TruncDay
from django.utils import timezone

from catalog.charts import Scale, path
from catalog.models import Hardware
from cloudprices.models import STALE_AFTER, FetchRun, Offer, PriceHistory, Provider

SPARK_DAYS = 30
SPARK_WIDTH, SPARK_HEIGHT = 120, 24  # the sparkline's viewBox
OFFER_FIELDS = (
    "provider", "hardware", "gpu_count", "tier", "price_per_gpu_hour", "region", "fetched_at",
    "from_snapshot",
)  # fmt: skip
# What pages show of a device: its JSON fields (name lists, sources) cost a decode per row.
SHOWN_HARDWARE = ("hardware__slug", "hardware__name", "hardware__memory_bytes")


def filtered(
    *,
    min_memory_bytes: int | None = None,
    provider: str | None = None,
    tier: str | None = None,
    gpu_count: int | None = None,
    max_price: Decimal | None = None,
) -> QuerySet[Offer]:
    """Matched offers passing the filters (memory is per GPU, from the catalog device)."""
    offers = Offer.objects.matched()
    if min_memory_bytes:
        offers = offers.filter(hardware__memory_bytes__gte=min_memory_bytes)
    if provider:
        offers = offers.filter(provider=provider)
    if tier:
        offers = offers.filter(tier=tier)
    if gpu_count:
        offers = offers.filter(gpu_count=gpu_count)
    if max_price is not None:
        offers = offers.filter(price_per_gpu_hour__lte=max_price)
    return offers


@dataclass
class Cheapest:
    hardware: Hardware
    offer: Offer
    offers: int  # offers for this device passing the filters


def cheapest_per_device(offers: QuerySet[Offer]) -> list[Cheapest]:
    """The cheapest offer per GPU-hour of every device that has one, cheapest first."""
    # One pass for each device's lowest price, then the offers at those prices (a correlated
    # subquery per device would run for every offer row instead).
    lows = {
        row["hardware"]: (row["low"], row["n"])
        for row in offers.values("hardware").annotate(n=Count("id"), low=Min("price_per_gpu_hour"))
    }
    if not lows:
        return []
    at_lows = offers.filter(price_per_gpu_hour__in={low for low, _ in lows.values()})
    best: dict[int, Offer] = {}
    shown = at_lows.select_related("hardware").only(*OFFER_FIELDS, *SHOWN_HARDWARE)
    for offer in shown.order_by("id"):
        hw = offer.hardware_id
        if hw in lows and offer.price_per_gpu_hour == lows[hw][0]:
            best.setdefault(hw, offer)  # type: ignore[arg-type]
    counts = {hw: n for hw, (_, n) in lows.items()}
    result = [
        Cheapest(o.hardware, o, counts[hw])  # type: ignore[arg-type]
        for hw, o in best.items()
    ]
    result.sort(key=lambda c: (c.offer.price_per_gpu_hour, c.hardware.name))
    return result


def sparklines(
    hardware_ids: list[int], provider: str | None, tier: str | None, prices_token: str
) -> dict[int, str]:
    """SVG path data of each device's daily minimum price over the last 30 days, in a
    SPARK_WIDTH x SPARK_HEIGHT box (cached until a refresh stores prices, which changes the
    prices token)."""
    key = f"sparklines:{prices_token}:{provider}:{tier}:{timezone.now():%Y-%m-%d}"
    paths: dict[int, str] | None = cache.get(key)
    if paths is None:
        since = timezone.now() - timedelta(days=SPARK_DAYS)
        history = PriceHistory.objects.filter(hour__gte=since)
        if provider:
            history = history.filter(provider=provider)
        if tier:
            history = history.filter(tier=tier)
        daily: dict[int, list[tuple[datetime, Decimal]]] = {}
        rows = (
            history.annotate(day=TruncDay("hour"))
            .values_list("hardware", "day")
            .annotate(low=Min("min_price"))
            .order_by("hardware", "day")
        )
        for hw, day, low in rows:
            daily.setdefault(hw, []).append((day, low))
        paths = {hw: _path(points, since) for hw, points in daily.items()}
        cache.set(key, paths, 3600)
    return {hw: paths[hw] for hw in hardware_ids if hw in paths}


def _path(points: list[tuple[datetime, Decimal]], since: datetime) -> str:
    """The line through a device's daily lows: days across, the lowest price at the bottom
    (2 units of margin); "" under two days."""
    if len(points) < 2:
        return ""
    low = float(min(p for _, p in points))
    high = float(max(p for _, p in points))
    x = Scale(0, SPARK_DAYS * 86400, 0, SPARK_WIDTH)
    y = Scale(low, high, SPARK_HEIGHT - 2, 2)
    return path([(x(max(0.0, (d - since).total_seconds())), y(float(p))) for d, p in points])


@dataclass
class ProviderStatus:
    provider: str
    label: str
    offers: int
    unmatched: int
    last_good: FetchRun | None
    last_run: FetchRun | None
    stale: bool

    @property
    def failing(self) -> bool:
        return self.last_run is not None and not self.last_run.ok


def provider_status(prices_token: str, now: datetime | None = None) -> list[ProviderStatus]:
    """Per provider: current offers, the last run and the last good one, and staleness."""
    now = now or timezone.now()
    totals = _offer_totals(prices_token)
    last_run: dict[str, FetchRun] = {}
    last_good: dict[str, FetchRun] = {}
    for run in FetchRun.objects.order_by("-started_at")[:30]:
        last_run.setdefault(run.provider, run)
        if run.ok:
            last_good.setdefault(run.provider, run)
    statuses = []
    for value, label in Provider.choices:
        if value in last_run and value not in last_good:  # failing for 30 runs, or never good
            last_good_run = FetchRun.objects.filter(provider=value, ok=True).first()
            if last_good_run:
                last_good[value] = last_good_run
        row = totals.get(value, {})
        newest = row.get("newest")
        statuses.append(
            ProviderStatus(
                value,
                label,
                row.get("n", 0),
                row.get("unmatched", 0),
                last_good.get(value),
                last_run.get(value),
                stale=newest is None or now - newest > STALE_AFTER,
            )
        )
    return statuses


_totals: tuple[str, dict[str, dict[str, Any]]] | None = None  # (prices token, totals)


def _offer_totals(prices_token: str) -> dict[str, dict[str, Any]]:
    """Per provider: its offers, unmatched offers and newest fetch. They change only when a
    refresh stores prices (a new token): kept in this process and the shared cache."""
    global _totals
    if _totals is not None and _totals[0] == prices_token:
        return _totals[1]
    key = f"gpu-prices-totals:{prices_token}"
    totals = cache.get(key)
    if totals is None:
        totals = {
            row["provider"]: row
            for row in Offer.objects.order_by()
            .values("provider")
            .annotate(
                n=Count("id"),
                unmatched=Count("id", filter=Q(hardware__isnull=True)),
                newest=Max("fetched_at"),
            )
        }
        cache.set(key, totals, 3600)
    _totals = (prices_token, totals)
    return totals


def offers_of(hardware: Hardware, limit: int = 10) -> list[Offer]:
    """A device's cheapest current offers per GPU-hour, any GPU count (its hardware page)."""
    offers = Offer.objects.filter(hardware=hardware).only(*OFFER_FIELDS)
    return list(offers.order_by("price_per_gpu_hour", "gpu_count", "id")[:limit])
