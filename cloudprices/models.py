"""Rental GPU offers, the provider GPU names behind them, hourly price history, fetch runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from catalog.models import Hardware

STALE_AFTER = timedelta(hours=2)
SNAPSHOT_AS_OF = datetime(2026, 11, 22, tzinfo=UTC)  # the bundled prices; snapshot/README.md


class Provider(models.TextChoices):
    RUNPOD = "runpod", "RunPod"
    VAST = "vast", "Vast.ai"
    AZURE = "azure", "Azure"


class Tier(models.TextChoices):
    ON_DEMAND = "on_demand", "On-demand"
    COMMUNITY = "community", "Community"
    SPOT = "spot", "Spot (interruptible)"


class GpuName(models.Model):
    """A GPU as a provider names it (with the memory it reports) and the catalog device it is.

    Every name a fetch brings is kept, matched or not; unmatched names are counted and listed in
    the admin, where a person can point them at a device (`matched_by = admin` then sticks).
    """

    class MatchedBy(models.TextChoices):
        RULE = "rule", "Alias rule"
        ADMIN = "admin", "Admin"
        NONE = "none", "Not matched"

    provider = models.CharField(max_length=20, choices=Provider.choices)
    name = models.CharField(max_length=200)
    memory_bytes_per_gpu = models.BigIntegerField(
        default=0, help_text="as the provider reports it; 0 when it does not"
    )
    hardware = models.ForeignKey(
        Hardware, null=True, blank=True, on_delete=models.SET_NULL, related_name="gpu_names"
    )
    matched_by = models.CharField(max_length=10, choices=MatchedBy.choices, default="none")
    offers = models.PositiveIntegerField(default=0, help_text="offers with this name, last fetch")
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["provider", "name", "memory_bytes_per_gpu"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "name", "memory_bytes_per_gpu"], name="unique_gpu_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()}: {self.name}"


class OfferQuerySet(models.QuerySet["Offer"]):
    def matched(self) -> OfferQuerySet:
        return self.filter(hardware__isnull=False)


class Offer(models.Model):
    """One current price: the last good fetch of its provider (kept when a later fetch fails)."""

    provider = models.CharField(max_length=20, choices=Provider.choices)
    key = models.CharField(max_length=200, help_text="the provider's id for this offer")
    gpu_name = models.ForeignKey(GpuName, on_delete=models.PROTECT, related_name="offer_rows")
    hardware = models.ForeignKey(
        Hardware, null=True, blank=True, on_delete=models.SET_NULL, related_name="offers"
    )
    gpu_count = models.PositiveSmallIntegerField()
    memory_bytes_per_gpu = models.BigIntegerField(null=True, blank=True)
    tier = models.CharField(max_length=10, choices=Tier.choices)
    price_per_gpu_hour = models.DecimalField(max_digits=10, decimal_places=4)
    region = models.CharField(max_length=120, blank=True)
    available = models.BooleanField(null=True)
    fetched_at = models.DateTimeField(help_text="when the provider gave this price")
    from_snapshot = models.BooleanField(default=False)

    objects = OfferQuerySet.as_manager()

    class Meta:
        ordering = ["price_per_gpu_hour"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "key"], name="unique_offer_per_provider_key"
            ),
            models.CheckConstraint(condition=Q(price_per_gpu_hour__gt=0), name="price_positive"),
            models.CheckConstraint(condition=Q(gpu_count__gte=1), name="gpu_count_positive"),
        ]
        indexes = [
            # The prices page and the model page's rentals: cheapest offers per device.
            models.Index(
                fields=["hardware", "price_per_gpu_hour"], name="offer_hardware_price_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.key} ${self.price_per_gpu_hour}/GPU-h"

    def is_stale(self, now: datetime | None = None) -> bool:
        return (now or timezone.now()) - self.fetched_at > STALE_AFTER

    @property
    def where(self) -> str:
        return f"{self.get_provider_display()} · {self.get_tier_display()}"

    def age(self, now: datetime | None = None) -> tuple[str, str]:
        """How pages show the price's age: (badge class, or "" for a fresh price; text)."""
        if self.from_snapshot:
            return "warn", f"snapshot {self.fetched_at:%Y-%m-%d}"
        if self.is_stale(now):
            return "warn", f"stale: {self.fetched_at:%Y-%m-%d %H:%M} UTC"
        return "", f"{self.fetched_at:%H:%M} UTC"


class PriceHistory(models.Model):
    """Minimum and median price per GPU-hour of one device, provider and tier, per hour."""

    hardware = models.ForeignKey(Hardware, on_delete=models.CASCADE, related_name="price_history")
    provider = models.CharField(max_length=20, choices=Provider.choices)
    tier = models.CharField(max_length=10, choices=Tier.choices)
    hour = models.DateTimeField(help_text="start of the hour (UTC)")
    min_price = models.DecimalField(max_digits=10, decimal_places=4)
    median_price = models.DecimalField(max_digits=10, decimal_places=4)
    offers = models.PositiveIntegerField()

    class Meta:
        ordering = ["hour"]
        verbose_name_plural = "price history"
        constraints = [
            models.UniqueConstraint(
                fields=["hardware", "provider", "tier", "hour"], name="unique_price_history_hour"
            ),
            models.CheckConstraint(condition=Q(min_price__gt=0), name="history_price_positive"),
        ]
        indexes = [
            # Sparklines read one device's recent hours.
            models.Index(fields=["hardware", "hour"], name="history_hardware_hour_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.hardware_id} {self.provider} {self.tier} {self.hour:%Y-%m-%d %H}h"


class FetchRun(models.Model):
    """One provider's part of a refresh: what came back, or why nothing did."""

    provider = models.CharField(max_length=20, choices=Provider.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    from_snapshot = models.BooleanField(default=False)
    fetched = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    unmatched = models.PositiveIntegerField(default=0)
    skipped_rows = models.PositiveIntegerField(default=0, help_text="malformed rows left out")
    kept = models.PositiveIntegerField(
        default=0, help_text="offers kept from the last good fetch after a failure"
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # The status section reads the latest run and the latest good run of each provider.
            models.Index(fields=["provider", "-started_at"], name="fetchrun_provider_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.started_at:%Y-%m-%d %H:%M} {'ok' if self.ok else 'failed'}"


class RefreshLock(models.Model):
    """Refreshes never overlap: a run holds this row until it finishes or the lock expires."""

    name = models.CharField(max_length=40, primary_key=True)
    holder = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder or 'nobody'} until {self.expires_at}"
