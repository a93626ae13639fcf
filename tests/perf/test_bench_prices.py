"""Benchmarks of cloud prices (make bench): ingesting 10,000 offers, and the prices page with
50,000 offers and a year of hourly history (issue 5 targets: <= 5 s; page p50 <= 25 ms).
Prints figures; asserts only that the work was done."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from catalog.models import Hardware
from cloudprices.aliases import Aliases
from cloudprices.clients import FetchedOffer
from cloudprices.models import GpuName, Offer, PriceHistory
from cloudprices.refresh import ingest
from tests.perf.test_bench_catalog import measure

pytestmark = pytest.mark.django_db


def synthetic_offers(n: int, provider: str = "vast") -> list[FetchedOffer]:
    """Offers under the catalog's real Vast.ai names, with their real memory sizes."""
    rng = random.Random(5)
    devices = [hw for hw in Hardware.objects.all() if hw.vast_names]
    offers = []
    for i in range(n):
        hw = devices[i % len(devices)]
        count = rng.choice((1, 1, 1, 2, 4, 8))
        offers.append(
            FetchedOffer(
                provider=provider,
                key=f"{i}:on_demand",
                gpu_name=hw.vast_names[0],
                gpu_count=count,
                memory_bytes_per_gpu=hw.memory_bytes,
                tier=rng.choice(("on_demand", "spot")),
                price_per_gpu_hour=Decimal(rng.randint(10, 400)) / 100,
                region="US",
                available=True,
            )
        )
    return offers


def test_bench_ingesting_10000_offers() -> None:
    offers = synthetic_offers(10_000)
    aliases = Aliases(Hardware.objects.all())
    start = time.perf_counter()
    matched, unmatched = ingest("vast", offers, timezone.now(), aliases)
    first = time.perf_counter() - start
    start = time.perf_counter()
    ingest("vast", offers, timezone.now(), aliases)  # the next hour: every row updated
    again = time.perf_counter() - start
    assert Offer.objects.filter(provider="vast").count() == 10_000
    print(
        f"\ningest 10,000 offers: {first:.2f} s new, {again:.2f} s updating "
        f"({matched} matched, {unmatched} unmatched; target <= 5 s)"
    )


def test_bench_prices_page_with_50000_offers_and_a_year_of_history(client: Client) -> None:
    now = timezone.now()
    ingest("vast", synthetic_offers(50_000), now, Aliases(Hardware.objects.all()))
    hour = now.replace(minute=0, second=0, microsecond=0)
    devices = sorted(set(Offer.objects.matched().values_list("hardware", flat=True)))
    rng = random.Random(7)
    start = time.perf_counter()
    for hw in devices:
        rows = []
        for h in range(24 * 365):
            price = Decimal(rng.randint(20, 300)) / 100
            rows.append(
                PriceHistory(
                    hardware_id=hw,
                    provider="vast",
                    tier="on_demand",
                    hour=hour - timedelta(hours=h),
                    min_price=price,
                    median_price=price,
                    offers=5,
                )
            )
        PriceHistory.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
    history = PriceHistory.objects.count()
    setup = time.perf_counter() - start
    url = "/gpus/prices/"
    start = time.perf_counter()
    assert client.get(url).status_code == 200
    cold = (time.perf_counter() - start) * 1000
    median, p95 = measure(lambda: client.get(url), repeat=30)
    server = sorted(
        float(client.get(url).headers["Server-Timing"].split("dur=")[1]) for _ in range(30)
    )
    filtered = url + "?min_memory_gb=24&tier=on_demand&sort=memory"
    client.get(filtered)
    median_f, p95_f = measure(lambda: client.get(filtered), repeat=30)
    assert Offer.objects.filter(provider="vast").count() == 50_000 and GpuName.objects.exists()
    print(
        f"\nprices page, {Offer.objects.count()} offers, {history} history rows "
        f"({len(devices)} GPUs x 8760 hours; {setup:.0f} s to insert), test client: "
        f"first {cold:.0f} ms (computes the sparklines), then p50 {median:.1f} ms, "
        f"p95 {p95:.1f} ms (server time p50 {server[15]:.1f} ms); filtered p50 {median_f:.1f} "
        f"ms, p95 {p95_f:.1f} ms (target p50 <= 25 ms)"
    )
