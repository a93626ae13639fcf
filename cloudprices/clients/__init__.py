"""One small client per cloud provider behind one interface.

Each module has `NAME`, `fetch(...) -> list[FetchedOffer]` (the live API, fixed timeout, its own
error type) and `parse(payload) -> list[FetchedOffer]` (typed parsing of the provider's exact
response format; `fetch` uses it, and so does loading the bundled snapshot).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

TIERS = ("on_demand", "community", "spot")


class ProviderError(Exception):
    """A fetch failed: network, timeout, HTTP status, or a payload that does not parse."""


@dataclass(frozen=True)
class FetchedOffer:
    """One price as a provider lists it, normalised; matched to catalog hardware later."""

    provider: str  # "runpod", "vast", "azure"
    key: str  # stable id of the offer within the provider (unique within one fetch)
    gpu_name: str  # the provider's own GPU name string, exactly as given
    gpu_count: int  # GPUs in the offer, >= 1
    memory_bytes_per_gpu: int | None  # as the provider reports it (GB/GiB/MB converted), or None
    tier: str  # one of TIERS: on_demand (RunPod secure), community, spot (interruptible)
    price_per_gpu_hour: Decimal  # USD per GPU per hour, > 0
    region: str = ""  # "" when the provider does not say
    available: bool | None = None  # None when the provider does not say

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise ValueError(f"tier must be one of {TIERS}, got {self.tier!r}")
        if self.gpu_count < 1:
            raise ValueError(f"gpu_count must be >= 1, got {self.gpu_count}")
        if self.price_per_gpu_hour <= 0:
            raise ValueError(f"price must be > 0, got {self.price_per_gpu_hour}")
