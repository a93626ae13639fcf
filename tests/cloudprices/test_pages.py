"""The prices page, the prices API and the model page's rentals, on the bundled snapshot."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from catalog.models import Hardware, Model, Revision
from cloudprices.models import Offer, PriceHistory
from estimator.devices import from_hardware
from estimator.estimate import estimate
from estimator.memory import MemoryOptions

pytestmark = pytest.mark.django_db


def row_of(html: str, device: str) -> str:
    match = re.search(
        rf"<tr>\s*<th scope=\"row\"><a [^>]*>{re.escape(device)}</a></th>.*?</tr>", html, re.S
    )
    assert match, f"no row for {device}"
    return match.group(0)


def test_the_prices_page_shows_the_cheapest_offer_per_gpu_with_its_snapshot_date(
    client: Client,
) -> None:
    html = client.get("/gpus/prices/").content.decode()
    cheapest = Offer.objects.filter(hardware__slug="h100-sxm").order_by("price_per_gpu_hour")[0]
    row = row_of(html, "NVIDIA H100 SXM5")
    assert f"${cheapest.price_per_gpu_hour:.2f}" in row
    assert "snapshot 2026-11-22" in row
    assert "Spot (interruptible) GPUs can be taken back at any time" in html
    assert "Azure</th>" in html and "never" in html  # no Azure prices bundled, and it says so


def test_filters_narrow_the_table_and_bad_values_are_reported(client: Client) -> None:
    html = client.get("/gpus/prices/?min_memory_gb=80&tier=spot&provider=runpod").content.decode()
    names = re.findall(r'<th scope="row"><a href="/hardware/([\w-]+)/">', html)
    assert names and all(Hardware.objects.get(slug=s).memory_bytes >= 80 << 30 for s in names)
    assert "RunPod · Spot (interruptible)" in html and "Vast.ai ·" not in html
    bad = client.get("/gpus/prices/?min_memory_gb=-5&tier=gold&max_price=abc&gpu_count=3")
    assert bad.status_code == 200
    text = bad.content.decode()
    box = text[text.index("Some filters were corrected:") :].split("</ul>")[0]
    assert re.findall(r"<li>([^<]*)</li>", box) == [
        "Min memory per GPU (GB) -5 is out of range (0 to 2048); using 0.",
        "Tier &#x27;gold&#x27; is not one of the options; using Any tier.",
        "GPUs &#x27;3&#x27; is not one of the options; using Any count.",
        "Max $/GPU-hour must be a number; ignored.",
    ]
    assert 'name="min_memory_gb" id="id_min_memory_gb" min="0" max="2048" value="0"' in text


@pytest.mark.parametrize("price", ["NaN", "nan", "Infinity", "-inf", "1e999", "sNaN"])
def test_a_price_that_is_no_finite_number_is_ignored_and_said_so(
    client: Client, price: str
) -> None:
    response = client.get(f"/gpus/prices/?max_price={price}")
    assert response.status_code == 200
    assert "Max $/GPU-hour must be a number; ignored." in response.content.decode()


def test_max_price_and_gpu_count_filters(client: Client) -> None:
    html = client.get("/gpus/prices/?max_price=0.30&gpu_count=1").content.decode()
    prices = [Decimal(p) for p in re.findall(r"<strong>\$([\d.]+)</strong>", html)]
    assert prices and max(prices) <= Decimal("0.30")


def test_a_gpu_with_history_gets_a_sparkline_of_its_daily_minimum(client: Client) -> None:
    h100 = Hardware.objects.get(slug="h100-sxm")
    now = timezone.now()
    PriceHistory.objects.filter(hardware=h100).delete()  # the snapshot's hour ages with the date
    for day, price in enumerate(("2.10", "1.90", "2.40")):
        PriceHistory.objects.create(
            hardware=h100, provider="vast", tier="on_demand", hour=now - timedelta(days=3 - day),
            min_price=Decimal(price), median_price=Decimal(price), offers=3,
        )  # fmt: skip
    Revision.bump(Revision.PRICES)  # as a refresh that stored prices does
    row = row_of(client.get("/gpus/prices/").content.decode(), "NVIDIA H100 SXM5")
    path = re.search(r'<svg class="spark"[^>]*><path d="([^"]+)"/>', row)
    assert path
    points = [tuple(map(float, p.split(","))) for p in path.group(1).lstrip("M").split(" L")]
    assert len(points) == 3
    ys = [y for _, y in points]
    assert ys[1] > ys[0] > ys[2]  # 1.90 is lowest (drawn lowest: largest y), 2.40 highest


def test_the_prices_api_lists_offers_cheapest_first_with_clear_errors(client: Client) -> None:
    data = client.get("/api/v1/prices/?min_memory_gb=40&limit=5").json()
    assert (
        data["count"]
        == Offer.objects.matched().filter(hardware__memory_bytes__gte=40 << 30).count()
    )
    prices = [Decimal(i["price_per_gpu_hour"]) for i in data["items"]]
    assert len(prices) == 5 and prices == sorted(prices)
    item = data["items"][0]
    assert set(item) >= {
        "provider", "hardware", "gpu_count", "memory_bytes_per_gpu", "tier",
        "price_per_gpu_hour", "region", "fetched_at", "stale",
    }  # fmt: skip
    assert item["stale"] is True and item["from_snapshot"] is True
    for query, field in [
        ("limit=0", "limit"),
        ("tier=gold", "tier"),
        ("min_memory_gb=x", "min_memory_gb"),
    ]:
        response = client.get(f"/api/v1/prices/?{query}")
        assert response.status_code == 400
        assert field in response.json()["error"]


def test_the_model_page_lists_rentals_with_their_cost_per_million_tokens(client: Client) -> None:
    model = Model.objects.get(slug="llama-3-1-8b-instruct")
    html = client.get(f"/models/{model.slug}/?ctx=8192&users=4").content.decode()
    panel = html[html.index('id="rent-h"') : html.index('id="dev-h"')]
    rows = re.findall(
        r'<tr><th scope="row">(?:(\d+) \u00d7 )?<a href="/hardware/([\w-]+)/">.*?'
        r'<td class="num">\$([\d.]+)</td><td class="num">(\d+) t/s</td>'
        r'<td class="num"><strong>\$([\d.]+)</strong>',
        panel,
    )
    assert len(rows) == 8
    per_hour = [Decimal(r[2]) for r in rows]
    assert per_hour == sorted(per_hour)
    count, slug, price, tps, per_million = rows[0]
    hw = Hardware.objects.get(slug=slug)
    report = estimate(
        model.config,
        MemoryOptions(n_ctx=8192 * 4, n_seq=4),
        from_hardware(hw, int(count or 1)),
        depth=4096,
        batch=4,
    ).device
    assert report is not None and report.fits and report.aggregate_tokens_per_s
    assert int(tps) == round(report.aggregate_tokens_per_s)
    expected = Decimal(price) / Decimal(report.aggregate_tokens_per_s * 3600) * 1_000_000
    assert abs(Decimal(per_million) - expected) <= Decimal("0.01")


def test_rentals_need_room_for_every_user(client: Client) -> None:
    html = client.get(
        "/models/llama-3-3-70b-instruct/?quant=Q8_0&ctx=32768&users=16"
    ).content.decode()
    panel = html[html.index('id="rent-h"') : html.index('id="dev-h"')]
    need = re.search(r"Cheapest current rentals with at least ([\d.,]+) GiB", panel)
    assert need and float(need.group(1).replace(",", "")) > 80
    for count, slug in re.findall(
        r'<th scope="row">(?:(\d+) \u00d7 )?<a href="/hardware/([\w-]+)/">', panel
    ):
        memory = Hardware.objects.get(slug=slug).memory_bytes * int(count or 1)
        assert memory / (1 << 30) >= float(need.group(1).replace(",", ""))
