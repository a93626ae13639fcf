"""This process's copy of what many pages share, for one catalog revision and one calibration
from community runs: every device (as a catalog row and as the estimator sees it), a brief of
every model, and room for results a page computes once per revision (`remember`).

Reading it costs nothing while the revision holds; a new revision (an edit anywhere in the
catalog, or a calibration factor that moved) builds a new one on the next request.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.utils.html import format_html

from benchmarks import calibration
from benchmarks.models import ENGINES
from catalog.models import Hardware, Model, Revision
from estimator.devices import device_class, from_hardware
from estimator.mmproj import mmproj_bytes
from estimator.throughput import Device

T = TypeVar("T")
DEFAULT_GPU = "rtx-4090"  # a popular 24 GB GPU
SEGMENT_GROUPS = (
    ("Consumer GPUs", ("consumer",)),
    ("Workstation and datacenter GPUs", ("workstation", "datacenter")),
    ("Apple silicon", ("apple",)),
    ("Unified-memory PCs", ("unified",)),
    ("CPUs", ("cpu",)),
)


@dataclass(frozen=True)
class Brief:
    """What reading a model page's state and finding a cached rendering take: no config, no
    joins."""

    pk: int
    slug: str
    context_length: int
    is_moe: bool
    encoder: bool = False  # llama.cpp loads an image/audio encoder (mmproj) for it


@dataclass
class Snapshot:
    revision: str
    models: dict[str, Brief]
    devices: tuple[Hardware, ...]
    by_slug: dict[str, Hardware]
    by_pk: dict[int, Hardware]
    single: dict[str, Device]  # one of each device, as the estimator sees it
    links: dict[str, str]  # device slug -> its escaped <a> (rows built in Python)
    calibration: calibration.Calibration  # community runs' factors on decode speed
    full: dict[int, Model] = field(default_factory=dict)  # model pk -> the row, read once
    memo: dict[Hashable, Any] = field(default_factory=dict)

    def model(self, pk: int) -> Model:
        """A model for computing panels (its config is parsed and keyed once per revision)."""
        if pk not in self.full:
            self.full[pk] = Model.objects.get(pk=pk)
        return self.full[pk]

    def remember(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`, once per revision and key (results that depend on the catalog only)."""
        if key not in self.memo:
            self.memo[key] = compute()
        value: T = self.memo[key]
        return value


_snapshot: Snapshot | None = None


def has_encoder(config: Any) -> bool:
    """Whether llama.cpp has an image/audio encoder (mmproj) for a model with this config."""
    try:
        return isinstance(config, dict) and mmproj_bytes(config, "f16") is not None
    except (ValueError, KeyError, TypeError):
        return False


def snapshot() -> tuple[Snapshot, str]:
    """The snapshot for the current catalog revision and calibration, and the prices token."""
    global _snapshot
    tokens = Revision.current()
    calib = calibration.current(tokens.benchmarks)
    revision = f"{tokens.catalog}.{calib.digest}"  # decode speeds change with the calibration
    snap = _snapshot
    if snap is None or snap.revision != revision:
        devices = tuple(Hardware.objects.all())
        rows = Model.objects.values_list(
            "pk", "slug", "context_length", "params_active", "params_language", "config"
        )
        snap = Snapshot(
            revision,
            {
                slug: Brief(pk, slug, ctx, active < lang, has_encoder(config))
                for pk, slug, ctx, active, lang, config in rows
            },
            devices,
            {d.slug: d for d in devices},
            {d.pk: d for d in devices},
            {d.slug: from_hardware(d, 1, calib.value(class_of(d))) for d in devices},
            {
                d.slug: format_html('<a href="{}">{}</a>', d.get_absolute_url(), d.name)
                for d in devices
            },
            calib,
        )
        _snapshot = snap
    snap.calibration = calib  # the same factors; its token names the current benchmarks
    return snap, tokens.prices


def class_of(hw: Hardware) -> str:
    """The device class (nvidia, amd, apple, cpu) whose speed constants apply."""
    return device_class(hw.vendor, hw.kind)


def engine(runtime: str) -> str:
    """The engine whose calibration applies to a runtime of the pages (llama.cpp or vLLM)."""
    return ENGINES[runtime]


def device_groups(snap: Snapshot) -> list[tuple[str, list[Hardware]]]:
    """The catalog's devices by segment group, for device pickers and device tables."""
    groups = []
    for label, segments in SEGMENT_GROUPS:
        members = [d for d in snap.devices if d.segment in segments]
        if members:
            groups.append((label, members))
    return groups
