"""What the prices page, the model page's rentals panel and the API read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Max, Min, OuterRef, QuerySet, Subquery
from django.db.models.functions import TruncDay
from django.utils import timezone

from catalog.models import Hardware
from cloudprices.models import STALE_AFTER, FetchRun, Offer, PriceHistory, Provider

SPARK_DAYS = 30


def prices_version() -> int:
    """Changes whenever a refresh stored something (cache keys of price views hold it)."""
    return FetchRun.objects.aggregate(last=Max("id"))["last"] or 0


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
    stale: bool
    spark: str = ""  # SVG path of the daily minimum


def cheapest_per_device(offers: QuerySet[Offer], now: datetime | None = None) -> list[Cheapest]:
    """The cheapest offer per GPU-hour of every device that has one, cheapest first."""
    now = now or timezone.now()
    best = offers.filter(hardware=OuterRef("hardware")).order_by("price_per_gpu_hour", "id")
    per_device = (
        offers.values("hardware")
        .annotate(n=Count("id"), best=Subquery(best.values("id")[:1]))
        .values_list("hardware", "n", "best")
    )
    counts = {best_id: n for _, n, best_id in per_device}
    rows = Offer.objects.filter(pk__in=counts).select_related("hardware", "gpu_name")
    result = [
        Cheapest(o.hardware, o, counts[o.pk], now - o.fetched_at > STALE_AFTER)  # type: ignore[arg-type]
        for o in rows
    ]
    result.sort(key=lambda c: (c.offer.price_per_gpu_hour, c.hardware.name))
    return result


def sparklines(
    hardware_ids: list[int],
    provider: str | None,
    tier: str | None,
    width: int = 120,
    height: int = 24,
) -> dict[int, str]:
    """SVG paths of each device's daily minimum price over the last 30 days (cached per hour
    of data: history changes only when a refresh stores something)."""
    key = f"sparklines:{prices_version()}:{provider}:{tier}"
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
        paths = {hw: _path(points, since, width, height) for hw, points in daily.items()}
        cache.set(key, paths, 3600)
    return {hw: paths[hw] for hw in hardware_ids if hw in paths}


def _path(points: list[tuple[datetime, Decimal]], since: datetime, width: int, height: int) -> str:
    if len(points) < 2:
        return ""
    low = min(p for _, p in points)
    high = max(p for _, p in points)
    span = (high - low) or Decimal(1)
    total = SPARK_DAYS * 86400

    def xy(day: datetime, price: Decimal) -> str:
        x = max(0.0, (day - since).total_seconds()) / total * width
        y = height - 2 - float((price - low) / span) * (height - 4)
        return f"{x:.1f},{y:.1f}"

    return "M" + " L".join(xy(d, p) for d, p in points)


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


def provider_status(now: datetime | None = None) -> list[ProviderStatus]:
    """Per provider: current offers, the last run and the last good one, and staleness."""
    now = now or timezone.now()
    counts = dict(
        Offer.objects.values_list("provider").annotate(n=Count("id")).values_list("provider", "n")
    )
    unmatched = dict(
        Offer.objects.filter(hardware__isnull=True)
        .values_list("provider")
        .annotate(n=Count("id"))
        .values_list("provider", "n")
    )
    statuses = []
    for value, label in Provider.choices:
        runs = FetchRun.objects.filter(provider=value)
        last_run = runs.first()
        last_good = runs.filter(ok=True).first()
        newest = Offer.objects.filter(provider=value).aggregate(t=Max("fetched_at"))["t"]
        statuses.append(
            ProviderStatus(
                value,
                label,
                counts.get(value, 0),
                unmatched.get(value, 0),
                last_good,
                last_run,
                stale=newest is None or now - newest > STALE_AFTER,
            )
        )
    return statuses
