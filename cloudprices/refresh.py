"""Refresh rental prices: fetch each provider, match names to devices, store, keep history.

Each provider succeeds or fails alone. A failed, empty or malformed fetch changes nothing but
the record of the failure: the provider's last good offers stay, and pages mark them stale two
hours after they were fetched. Runs never overlap (`RefreshLock`, which expires).
"""

from __future__ import annotations

import json
import logging
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.models import Hardware, Revision
from cloudprices.aliases import Aliases
from cloudprices.clients import FetchedOffer, ProviderError, azure, runpod, vast
from cloudprices.models import (
    SNAPSHOT_AS_OF,
    FetchRun,
    GpuName,
    Offer,
    PriceHistory,
    RefreshLock,
)

logger = logging.getLogger(__name__)

PROVIDERS = ("runpod", "vast", "azure")
SNAPSHOT_DIR = Path(__file__).parent / "snapshot"
LOCK_TTL = timedelta(minutes=15)
CENT = Decimal("0.0001")

Fetched = tuple[list[FetchedOffer], list[str]]  # offers and the reasons rows were skipped


def _snapshot(name: str) -> Any:
    return json.loads((SNAPSHOT_DIR / name).read_text())


def live_fetchers() -> dict[str, Callable[[], Fetched]]:
    """The providers' live APIs, at the URLs and with the keys in settings."""
    return {
        "runpod": lambda: runpod.fetch_report(
            base_url=settings.RUNPOD_API_URL, api_key=settings.RUNPOD_API_KEY or None
        ),
        "vast": lambda: vast.fetch_report(
            base_url=settings.VAST_API_URL, api_key=settings.VAST_API_KEY or None
        ),
        "azure": lambda: azure.fetch_report(base_url=settings.AZURE_PRICES_URL),
    }


def _vast_snapshot() -> Fetched:
    on_demand, skipped = vast.parse_report(_snapshot("vast_on_demand.json"), tier="on_demand")
    bid, skipped_bid = vast.parse_report(_snapshot("vast_bid.json"), tier="spot")
    return on_demand + bid, skipped + skipped_bid


SNAPSHOT: dict[str, Callable[[], Fetched]] = {
    "runpod": lambda: runpod.parse_report(_snapshot("runpod.json")),
    "vast": _vast_snapshot,
}  # no Azure: no Azure price could be sourced offline (snapshot/README.md)


class RefreshBusy(Exception):
    """Another refresh holds the lock."""


@dataclass(frozen=True)
class Outcome:
    provider: str
    ok: bool
    fetched: int = 0
    matched: int = 0
    unmatched: int = 0
    skipped_rows: int = 0
    kept: int = 0
    error: str = ""
    seconds: float = 0.0
    note: str = ""


def refresh(
    providers: Sequence[str] = PROVIDERS,
    *,
    from_snapshot: bool = False,
    live: dict[str, Callable[[], Fetched]] | None = None,
    progress: Callable[[str], Any] = lambda message: None,
) -> list[Outcome]:
    """Refresh each provider in turn under the lock; raises RefreshBusy if a run is going."""
    holder = acquire_lock()
    if holder is None:
        raise RefreshBusy("another price refresh is running")
    try:
        aliases = Aliases(Hardware.objects.all())
        outcomes = []
        for name in providers:
            renew_lock(holder)  # a slow provider must not let the next run start alongside
            progress(f"{name}: {'loading the snapshot' if from_snapshot else 'fetching'} …")
            outcome = refresh_provider(
                name, aliases, from_snapshot, (live or live_fetchers())[name]
            )
            progress(describe(outcome))
            outcomes.append(outcome)
        return outcomes
    finally:
        release_lock(holder)


def describe(o: Outcome) -> str:
    if not o.ok:
        return f"{o.provider}: FAILED ({o.error}); kept {o.kept} offers from the last good fetch"
    if o.note:
        return f"{o.provider}: {o.note}"
    return (
        f"{o.provider}: {o.fetched} offers, {o.matched} matched to devices, {o.unmatched} "
        f"unmatched, {o.skipped_rows} malformed rows left out ({o.seconds:.1f} s)"
    )


def refresh_provider(
    name: str, aliases: Aliases, from_snapshot: bool, live: Callable[[], Fetched]
) -> Outcome:
    started = timezone.now()
    clock = time.perf_counter()
    if from_snapshot and name not in SNAPSHOT:
        return Outcome(name, ok=True, note="no bundled snapshot; prices come from live fetches")
    if (
        from_snapshot
        and Offer.objects.filter(provider=name, fetched_at__gt=SNAPSHOT_AS_OF).exists()
    ):
        return Outcome(name, ok=True, note="has prices newer than the snapshot; kept them")
    try:
        offers, skipped = SNAPSHOT[name]() if from_snapshot else live()
        if not offers:
            raise ProviderError(
                "no offers in the response"
                + (f" ({len(skipped)} malformed rows)" if skipped else "")
            )
        fetched_at = SNAPSHOT_AS_OF if from_snapshot else timezone.now()
        matched, unmatched = ingest(name, offers, fetched_at, aliases, from_snapshot)
    except Exception as exc:  # one provider's failure must not stop the others
        if not isinstance(exc, ProviderError):
            logger.exception("price refresh of %s failed", name)
        error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ProviderError) else str(exc)
        kept = Offer.objects.filter(provider=name).count()
        FetchRun.objects.create(
            provider=name, started_at=started, finished_at=timezone.now(), ok=False,
            from_snapshot=from_snapshot, kept=kept, error=error[:2000],
        )  # fmt: skip
        return Outcome(name, ok=False, kept=kept, error=error, seconds=time.perf_counter() - clock)
    Revision.bump(Revision.PRICES)  # cached model-page parts show rentals: render them again
    FetchRun.objects.create(
        provider=name, started_at=started, finished_at=timezone.now(), ok=True,
        from_snapshot=from_snapshot, fetched=len(offers), matched=matched, unmatched=unmatched,
        skipped_rows=len(skipped), error="; ".join(skipped[:20])[:2000],
    )  # fmt: skip
    return Outcome(
        name, ok=True, fetched=len(offers), matched=matched, unmatched=unmatched,
        skipped_rows=len(skipped), seconds=time.perf_counter() - clock,
    )  # fmt: skip


@transaction.atomic
def ingest(
    provider: str,
    offers: Sequence[FetchedOffer],
    fetched_at: datetime,
    aliases: Aliases,
    from_snapshot: bool = False,
) -> tuple[int, int]:
    """Make `offers` the provider's current offers; returns (matched, unmatched) offer counts."""
    names = _gpu_names(provider, offers, aliases)
    rows = []
    for o in offers:
        gpu = names[(o.gpu_name, o.memory_bytes_per_gpu or 0)]
        rows.append(
            Offer(
                provider=provider,
                key=o.key,
                gpu_name=gpu,
                hardware_id=gpu.hardware_id,
                gpu_count=o.gpu_count,
                memory_bytes_per_gpu=o.memory_bytes_per_gpu,
                tier=o.tier,
                price_per_gpu_hour=o.price_per_gpu_hour.quantize(CENT),
                region=o.region[:120],
                available=o.available,
                fetched_at=fetched_at,
                from_snapshot=from_snapshot,
            )
        )
    Offer.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["provider", "key"],
        update_fields=[
            "gpu_name",
            "hardware",
            "gpu_count",
            "memory_bytes_per_gpu",
            "tier",
            "price_per_gpu_hour",
            "region",
            "available",
            "fetched_at",
            "from_snapshot",
        ],
        batch_size=2000,
    )
    # Offers the provider no longer lists are gone: every current one was just stamped.
    Offer.objects.filter(provider=provider).exclude(fetched_at=fetched_at).delete()
    _record_history(provider, rows, fetched_at)
    matched = sum(1 for r in rows if r.hardware_id is not None)
    return matched, len(rows) - matched


def _gpu_names(
    provider: str, offers: Sequence[FetchedOffer], aliases: Aliases
) -> dict[tuple[str, int], GpuName]:
    """Every (name, memory) of this fetch as a GpuName row, created or re-matched."""
    now = timezone.now()
    counts = Counter((o.gpu_name, o.memory_bytes_per_gpu or 0) for o in offers)
    existing = {
        (g.name, g.memory_bytes_per_gpu): g for g in GpuName.objects.filter(provider=provider)
    }
    new, changed = [], []
    for (name, memory), count in counts.items():
        gpu = existing.get((name, memory))
        hardware = aliases.match(provider, name, memory or None)
        if gpu is None:
            new.append(
                GpuName(
                    provider=provider,
                    name=name,
                    memory_bytes_per_gpu=memory,
                    hardware=hardware,
                    matched_by="rule" if hardware else "none",
                    offers=count,
                    first_seen=now,
                    last_seen=now,
                )
            )
            continue
        if gpu.matched_by != GpuName.MatchedBy.ADMIN:  # the catalog may have learned the name
            gpu.hardware = hardware
            gpu.matched_by = "rule" if hardware else "none"
        gpu.offers, gpu.last_seen = count, now
        changed.append(gpu)
    GpuName.objects.bulk_create(new)  # sets the new rows' ids (PostgreSQL, SQLite >= 3.35)
    GpuName.objects.bulk_update(changed, ["hardware", "matched_by", "offers", "last_seen"])
    GpuName.objects.filter(provider=provider, last_seen__lt=now).update(offers=0)
    return {(g.name, g.memory_bytes_per_gpu): g for g in [*changed, *new]}


def _record_history(provider: str, rows: Sequence[Offer], fetched_at: datetime) -> None:
    """The hour's minimum and median per device and tier (a later run in the hour replaces it)."""
    prices: dict[tuple[int, str], list[Decimal]] = defaultdict(list)
    for r in rows:
        if r.hardware_id is not None:
            prices[(r.hardware_id, r.tier)].append(r.price_per_gpu_hour)
    hour = fetched_at.replace(minute=0, second=0, microsecond=0)
    PriceHistory.objects.bulk_create(
        [
            PriceHistory(
                hardware_id=hw,
                provider=provider,
                tier=tier,
                hour=hour,
                min_price=min(values),
                median_price=Decimal(statistics.median(values)).quantize(CENT),
                offers=len(values),
            )
            for (hw, tier), values in prices.items()
        ],
        update_conflicts=True,
        unique_fields=["hardware", "provider", "tier", "hour"],
        update_fields=["min_price", "median_price", "offers"],
    )


def acquire_lock(name: str = "prices") -> str | None:
    """A holder token if this run may go ahead; None while another unexpired run holds it."""
    now = timezone.now()
    holder = uuid.uuid4().hex
    RefreshLock.objects.get_or_create(name=name, defaults={"expires_at": now})
    # One conditional UPDATE: of two runs racing here, the database lets exactly one through.
    taken = RefreshLock.objects.filter(name=name, expires_at__lte=now).update(
        holder=holder, expires_at=now + LOCK_TTL
    )
    return holder if taken else None


def renew_lock(holder: str, name: str = "prices") -> None:
    RefreshLock.objects.filter(name=name, holder=holder).update(
        expires_at=timezone.now() + LOCK_TTL
    )


def release_lock(holder: str, name: str = "prices") -> None:
    RefreshLock.objects.filter(name=name, holder=holder).update(
        holder="", expires_at=timezone.now()
    )
