"""What runs on one device: per model the most precise quant that fits (with headroom when any
does) at a chosen context, its memory, decode speed and grade; for 1, 2, 4 or 8 of the device
and, on Apple chips, each memory configuration. Computed once per catalog revision and settings,
then cached; the device's facts are rendered once per catalog revision (`facts_content`), the
section once per settings (`runs_content`), the rentals once per prices revision
(`rent_content`)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils import timezone

from catalog import parts
from catalog.forms import LenientForm
from catalog.models import Hardware, Model
from catalog.snapshot import Snapshot, class_of
from cloudprices.queries import offers_of
from estimator import units
from estimator.devices import from_hardware
from estimator.fit import fit
from estimator.memory import MemoryOptions, estimate_memory, inventory, with_file_type
from estimator.units import gib, params, tokens

CONTEXTS = (4096, 8192, 32768, 131072)
COUNTS = (1, 2, 4, 8)
# Most precise first: the first that fits is the one to download.
QUANT_LADDER = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "IQ4_XS", "Q3_K_M", "Q2_K", "IQ2_XXS")
SORTS = {"speed": "Fastest", "params": "Largest", "newest": "Newest", "name": "Name"}
CACHE_SECONDS = 3600


@dataclass(frozen=True)
class Settings:
    ctx: int
    count: int
    memory: int  # bytes per device: the catalog's, or an Apple configuration
    fits: bool  # only models that fit (at some quant)
    sort: str
    q: str
    notes: tuple[str, ...]

    @property
    def memory_gib(self) -> int:
        return self.memory >> 30

    def query(self, **changes: Any) -> str:
        values = {
            "ctx": self.ctx,
            "count": self.count,
            "mem": self.memory >> 30,
            "all": "" if self.fits else "1",
            "sort": self.sort,
            "q": self.q,
        } | changes
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def memory_options(hw: Hardware) -> list[int]:
    return sorted(set(hw.memory_options_bytes or []) | {hw.memory_bytes})


class SettingsForm(LenientForm):
    """The hardware page's settings; the device counts and memory sizes a device offers are
    set on a subclass per device (`settings_form`)."""

    ctx = forms.TypedChoiceField(
        label="Context", coerce=int, choices=[(c, tokens(c)) for c in CONTEXTS], initial=8192
    )
    count = forms.TypedChoiceField(label="Devices", coerce=int, choices=[], initial=1)
    mem = forms.TypedChoiceField(label="Memory", coerce=int, choices=[])
    sort = forms.ChoiceField(label="Sort", choices=list(SORTS.items()), initial="speed")
    q = forms.CharField(label="Model", max_length=60, required=False, initial="")
    all = forms.BooleanField(label="Also what does not fit", required=False, initial=False)

    def settings(self) -> Settings:
        values = self.read()
        return Settings(
            values["ctx"], values["count"], values["mem"] << 30, not values["all"],
            values["sort"], values["q"], tuple(self.notes),
        )  # fmt: skip


@lru_cache(maxsize=256)
def settings_form(kind: str, memories: tuple[int, ...], memory: int) -> type[SettingsForm]:
    """The settings form of a device of this kind with these memory sizes (GiB; `memory` the
    catalog's): a lenient form's fields are shared, so they are set on a subclass."""
    counts = COUNTS if kind == "gpu" else (1,)
    return type(
        "DeviceSettingsForm",
        (SettingsForm,),
        {
            "count": forms.TypedChoiceField(
                label="Devices", coerce=int, choices=[(n, str(n)) for n in counts], initial=1
            ),
            "mem": forms.TypedChoiceField(
                label="Memory", coerce=int, choices=[(m, f"{m} GiB") for m in memories],
                initial=memory,
            ),
        },
    )  # fmt: skip


def parse(params_: Mapping[str, str], hw: Hardware) -> tuple[Settings, SettingsForm]:
    """The page's settings from its query string (bad values are noted and replaced), and the
    form that read them (its fields are the page's controls)."""
    memories = tuple(m >> 30 for m in memory_options(hw))
    form = settings_form(hw.kind, memories, hw.memory_bytes >> 30)(params_)
    return form.settings(), form


def facts_content(hw: Hardware, snap: Snapshot) -> str:
    """The device's facts with their sources, once per catalog revision."""
    return parts.cached(
        parts.key("device-facts", snap.revision, hw.slug),
        lambda: render_to_string("catalog/hardware_detail.html#facts", {"device": hw}),
    )


def runs_content(hw: Hardware, settings: Settings, form: SettingsForm, snap: Snapshot) -> str:
    """The "what runs on it" section: once per catalog revision, device and settings (not kept
    when the settings needed corrections)."""
    key = None if settings.notes else parts.key("device-runs", snap.revision, hw.slug,
                                                 settings.query())  # fmt: skip

    def render() -> str:
        shown = rows(hw, settings, snap)
        context = {
            "device": hw,
            "settings": settings,
            "fields": form.fields,
            "rows": shown,
            "fitting": sum(r["fits"] for r in shown),
        }
        return render_to_string("catalog/hardware_detail.html#runs", context)

    return parts.cached(key, render)


def rent_content(hw: Hardware, prices: str) -> str:
    """The device's cheapest rentals: once per prices revision and minute (an offer's age
    shows as stale after two hours)."""
    now = timezone.now()

    def render() -> str:
        context = {"offers": offers_of(hw), "now": now}
        return render_to_string("catalog/hardware_detail.html#rent", context)

    return parts.cached(parts.key("device-rent", prices, hw.slug, f"{now:%Y-%m-%d %H:%M}"), render)


def rows(hw: Hardware, settings: Settings, snap: Snapshot) -> list[dict[str, Any]]:
    """Every catalog model on this device at these settings (filter and sort applied)."""
    base = replace(settings, fits=False, sort="speed", q="", notes=())
    key = f"device-page:{snap.revision}:{hw.slug}:{base.query()}"
    digest = f"device-page:{hashlib.blake2b(key.encode(), digest_size=16).hexdigest()}"
    all_rows: list[dict[str, Any]] | None = cache.get(digest)
    if all_rows is None:
        all_rows = _compute(hw, settings, snap)
        cache.set(digest, all_rows, CACHE_SECONDS)
    shown = [r for r in all_rows if r["fits"] or not settings.fits]
    if settings.q:
        words = settings.q.lower().split()
        shown = [r for r in shown if all(w in r["search"] for w in words)]
    key_of = {
        "speed": lambda r: (-(r["tps_value"] or 0), r["name"]),
        "params": lambda r: (-r["params_value"], r["name"]),
        "newest": lambda r: (r["released"] == "", -r["release_ordinal"], r["name"]),
        "name": lambda r: (r["name"].lower(),),
    }[settings.sort]
    return sorted(shown, key=key_of)


def _compute(hw: Hardware, settings: Settings, snap: Snapshot) -> list[dict[str, Any]]:
    device = from_hardware(
        replace_memory(hw, settings.memory),
        settings.count,
        snap.calibration.value(class_of(hw)),
    )
    out = []
    models = Model.objects.select_related("provider").only(
        "slug", "name", "config", "context_length", "params_total", "params_active",
        "params_language", "release_date", "provider__name", "provider__slug",
    ).order_by("name")  # fmt: skip
    for model in models:
        config = model.estimator_config
        inv = inventory(config)
        ctx = min(settings.ctx, model.context_length)
        first = estimate_memory(config, MemoryOptions(file_type=QUANT_LADDER[0], n_ctx=ctx))
        # The most precise quant that fits with headroom, else the most precise that fits tightly.
        best = tight = None
        for quant in QUANT_LADDER:
            est = with_file_type(config, first, quant)
            f = fit(inv, est, device)
            if f.status == "fits":
                best = (quant, est, f)
                break
            if f.status == "tight" and tight is None:
                tight = (quant, est, f)
        best = best or tight
        if best is None:  # nothing fits on the GPU: the smallest quant's offload or failure
            quant = QUANT_LADDER[-1]
            est = with_file_type(config, first, quant)
            best = (quant, est, fit(inv, est, device))
        quant, est, f = best
        release = model.release_date
        out.append(
            {
                "slug": model.slug,
                "name": model.name,
                "url": model.get_absolute_url(),
                "provider": model.provider.name,
                "search": f"{model.name} {model.provider.name} {model.slug}".lower(),
                "params": params(model.params_total),
                "params_value": model.params_total,
                "released": release.isoformat() if release else "",
                "release_ordinal": release.toordinal() if release else 0,
                "ctx": tokens(ctx),
                "ctx_capped": ctx < settings.ctx,
                "quant": quant,
                "total": gib(est.total_bytes),
                "grade": f.grade,
                "reason": f.reason,
                "tps_value": f.decode_tokens_per_s,
                "tps": units.tps(f.decode_tokens_per_s or None),
                "fits": f.status in ("fits", "tight"),
                "query": f"quant={quant}&ctx={ctx}&gpu={hw.slug}&gpu_count={settings.count}",
            }
        )
    return out


def replace_memory(hw: Hardware, memory: int) -> Hardware:
    """The device with another memory configuration (Apple chips come in several)."""
    if memory == hw.memory_bytes:
        return hw
    copy = Hardware(**{f.attname: getattr(hw, f.attname) for f in hw._meta.concrete_fields})
    copy.memory_bytes = memory
    return copy
