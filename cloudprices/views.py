from __future__ import annotations

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from catalog.models import Revision
from cloudprices import queries
from cloudprices.forms import PriceFilterForm
from cloudprices.models import SNAPSHOT_AS_OF
from estimator.units import gib

GIB = 1 << 30


@require_GET
def prices(request: HttpRequest) -> HttpResponse:
    form = PriceFilterForm(request.GET or None)
    data: dict[str, object] = {}
    if form.is_bound:
        form.is_valid()  # invalid fields are reported on the page and left out of cleaned_data
        data = form.cleaned_data
    min_gb = data.get("min_memory_gb")
    provider = str(data.get("provider") or "") or None
    tier = str(data.get("tier") or "") or None
    offers = queries.filtered(
        min_memory_bytes=int(min_gb) * GIB if min_gb else None,  # type: ignore[call-overload]
        provider=provider,
        tier=tier,
        gpu_count=data.get("gpu_count"),  # type: ignore[arg-type]
        max_price=data.get("max_price"),  # type: ignore[arg-type]
    )
    now = timezone.now()
    # Offers change only when a refresh stores some (it bumps the prices token): until then the
    # cheapest rows of each filter are cached; staleness is worked out on every request.
    prices_token = Revision.current()[1]
    filters = "&".join(f"{k}={v}" for k, v in sorted(data.items()) if k != "sort" and v)
    key = f"gpu-prices:{prices_token}:{filters}"
    rows: list[queries.Cheapest] | None = cache.get(key)
    if rows is None:
        rows = queries.cheapest_per_device(offers)
        cache.set(key, rows, 3600)
    sort = data.get("sort") or "price"
    if sort == "memory":
        rows.sort(key=lambda r: (-r.hardware.memory_bytes, r.offer.price_per_gpu_hour))
    elif sort == "name":
        rows.sort(key=lambda r: r.hardware.name)
    spark = queries.sparklines([r.hardware.pk for r in rows], provider, tier, prices_token)
    # Formatted here: the template engine's filters cost more than the rest of the page.
    table = [
        {
            "url": reverse("catalog:hardware_detail", args=[r.hardware.slug]),
            "name": r.hardware.name,
            "memory": gib(r.hardware.memory_bytes),
            "price": f"${r.offer.price_per_gpu_hour:.2f}",
            "where": r.offer.where
            + (f" · {r.offer.gpu_count} GPUs" if r.offer.gpu_count > 1 else ""),
            "region": r.offer.region,
            "offers": r.offers,
            "spark": spark.get(r.hardware.pk, ""),
            "as_of": r.offer.age(now),
        }
        for r in rows
    ]
    return render(
        request,
        "cloudprices/prices.html",
        {
            "form": form,
            "selects": [
                (
                    name,
                    form.fields[name].label or name.capitalize(),
                    [
                        (str(value), text, str(value) == request.GET.get(name, ""))
                        for value, text in form.fields[name].choices  # type: ignore[attr-defined]
                    ],
                )
                for name in ("provider", "tier", "gpu_count", "sort")
            ],
            "rows": table,
            "statuses": queries.provider_status(prices_token, now),
            "snapshot_as_of": SNAPSHOT_AS_OF,
            "spark_days": queries.SPARK_DAYS,
        },
    )
