"""Which catalog device a provider's GPU name means.

RunPod and Vast.ai names come from the catalog (`Hardware.runpod_names`, `Hardware.vast_names`,
in catalog/data/hardware.toml); Azure's are the names our Azure client gives its VM sizes. A name
can stand for several devices (Vast.ai's "A100 PCIE" is the 40 GB and the 80 GB card): then the
memory the provider reports decides, and without it the name stays unmatched.
"""

from __future__ import annotations

from collections.abc import Iterable

from catalog.models import Hardware

AZURE_NAMES: dict[str, tuple[str, ...]] = {
    "A100 80GB PCIe": ("a100-80gb-pcie",),
    "A100 40GB SXM": ("a100-40gb-sxm",),
    "A100 80GB SXM": ("a100-80gb-sxm",),
    "V100 16GB": ("v100-16gb-pcie",),
    "T4": ("t4",),
    "H100 80GB SXM": ("h100-sxm",),
    "H100 NVL": ("h100-nvl",),
}
MEMORY_TOLERANCE = 0.15  # reported sizes run a little under the spec (32607 MiB for 32 GB)


class Aliases:
    """Provider name -> candidate devices, built once per refresh from the catalog."""

    def __init__(self, devices: Iterable[Hardware]) -> None:
        self.by_name: dict[tuple[str, str], list[Hardware]] = {}
        by_slug = {}
        for hw in devices:
            by_slug[hw.slug] = hw
            for provider, names in (("runpod", hw.runpod_names), ("vast", hw.vast_names)):
                for name in names or ():
                    self.by_name.setdefault((provider, name.lower()), []).append(hw)
        for name, slugs in AZURE_NAMES.items():
            self.by_name[("azure", name.lower())] = [by_slug[s] for s in slugs if s in by_slug]

    def match(self, provider: str, name: str, memory_bytes: int | None) -> Hardware | None:
        """The device, or None when the name is unknown or ambiguous."""
        candidates = self.by_name.get((provider, name.lower()), [])
        if memory_bytes:
            candidates = [
                hw
                for hw in candidates
                if abs(hw.memory_bytes - memory_bytes) <= MEMORY_TOLERANCE * hw.memory_bytes
            ]
            if candidates:
                closest = min(abs(hw.memory_bytes - memory_bytes) for hw in candidates)
                candidates = [
                    hw for hw in candidates if abs(hw.memory_bytes - memory_bytes) == closest
                ]
        # Two devices of the same size under one name (V100 SXM2 and PCIe) stay unmatched.
        return candidates[0] if len(candidates) == 1 else None
