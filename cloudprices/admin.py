from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from catalog.models import Revision
from cloudprices.models import FetchRun, GpuName, Offer, PriceHistory


@admin.register(GpuName)
class GpuNameAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "provider", "memory_bytes_per_gpu", "hardware", "matched_by", "offers"]
    list_filter = ["provider", "matched_by", ("hardware", admin.EmptyFieldListFilter)]
    search_fields = ["name"]
    readonly_fields = ["offers", "first_seen", "last_seen"]

    def save_model(self, request: HttpRequest, obj: GpuName, form: Any, change: bool) -> None:
        """A person's choice sticks (the hourly rules leave it alone) and moves the offers now."""
        obj.matched_by = GpuName.MatchedBy.ADMIN if obj.hardware else GpuName.MatchedBy.NONE
        super().save_model(request, obj, form, change)
        obj.offer_rows.update(hardware=obj.hardware)
        Revision.bump(Revision.PRICES)  # pages showing these offers render them again


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "provider", "gpu_name", "hardware", "gpu_count", "tier", "price_per_gpu_hour", "region",
        "fetched_at", "from_snapshot",
    ]  # fmt: skip
    list_filter = ["provider", "tier", "from_snapshot", ("hardware", admin.EmptyFieldListFilter)]
    search_fields = ["key", "gpu_name__name", "region"]
    list_select_related = ["gpu_name", "hardware"]


@admin.register(FetchRun)
class FetchRunAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "provider", "started_at", "ok", "from_snapshot", "fetched", "matched", "unmatched",
        "skipped_rows", "kept", "error",
    ]  # fmt: skip
    list_filter = ["provider", "ok", "from_snapshot"]


@admin.register(PriceHistory)
class PriceHistoryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["hardware", "provider", "tier", "hour", "min_price", "median_price", "offers"]
    list_filter = ["provider", "tier"]
    list_select_related = ["hardware"]
