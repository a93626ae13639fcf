"""What runs on one device and the machine around it: per model the most precise quant that
runs at a chosen context (catalog.runs: whole in the device's memory, else with MoE experts or
layers in system RAM), its memory, decode speed and grade; for 1, 2, 4 or 8 of the device,
with the machine's RAM (catalog.machine_state's parameters) and, on Apple chips, each memory
configuration. The device's facts are rendered once per catalog revision (`facts_content`), the
section once per settings and machine (`runs_content`), the rentals once per prices revision
(`rent_content`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit

from django import forms
from django.template.loader import render_to_string
from django.utils import timezone

from benchmarks import published
from catalog import machines, parts, runs
from catalog.forms import LenientForm
from catalog.machine_state import MachineState
from catalog.models import Hardware, Model
from catalog.snapshot import Snapshot
from cloudprices.queries import offers_of
from estimator import units
from estimator.units import gib, params, tokens

CONTEXTS = (4096, 8192, 32768, 131072)
COUNTS = (1, 2, 4, 8)
SORTS = {"speed": "Fastest", "params": "Largest", "newest": "Newest", "name": "Name"}


@dataclass(frozen=True)
class Settings:
    ctx: int
    count: int
    memory: int  # bytes per device: the catalog's, or an Apple configuration
    fits: bool  # only models that fit (at some quant)
    sort: str
    q: str
    notes: tuple[str, ...]
    machine: MachineState = field(default_factory=MachineState)  # the RAM around the device
    show_all: bool = False  # every published measurement, not the first ones

    @property
    def memory_gib(self) -> int:
        return self.memory >> 30

    def chosen(self, hw: Hardware) -> machines.Chosen:
        """The machine: this device at these settings with the machine's RAM."""
        return machines.Chosen(hw, self.count, self.memory, self.machine)

    def query(self, hw: Hardware, **changes: Any) -> str:
        values = {
            "ctx": self.ctx,
            "count": self.count,
            "mem": self.memory >> 30,
            "all": "" if self.fits else "1",
            "sort": self.sort,
            "q": self.q,
            "pub": "all" if self.show_all else "",
            **self.chosen(hw).machine_items(),
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
    all = forms.BooleanField(label="Also what does not run", required=False, initial=False)
    pub = forms.ChoiceField(
        label="Published measurements", choices=[("", "the first"), ("all", "all")], initial=""
    )

    def settings(self) -> Settings:
        values = self.read()
        return Settings(
            values["ctx"], values["count"], values["mem"] << 30, not values["all"],
            values["sort"], values["q"], tuple(self.notes), show_all=values["pub"] == "all",
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
    settings = form.settings()
    machine = machines.read_state(params_, machines.kind_of(hw))
    return replace(settings, machine=machine, notes=settings.notes + machine.notes), form


class SourceLink(NamedTuple):
    label: str  # the fact: "Memory"
    url: str
    host: str  # where it is stated: "nvidia.com"


def source_links(hw: Hardware) -> dict[str, SourceLink]:
    """Each of the device's facts' sources as a short labelled link ("Memory: nvidia.com"): the
    notes on how a figure was read stay in the data file."""
    links = {}
    for fact, label in Hardware.SOURCE_LABELS.items():
        url = hw.sources.get(fact)
        if url:
            host = urlsplit(url).hostname or url
            links[fact] = SourceLink(label, url, host.removeprefix("www."))
    return links


def facts_content(hw: Hardware, snap: Snapshot) -> str:
    """The device's facts with their sources, once per catalog revision."""
    context = {"device": hw, "sources": source_links(hw)}
    return parts.cached(
        parts.key("device-facts", snap.revision, hw.slug),
        lambda: render_to_string("catalog/hardware_detail.html#facts", context),
    )


def runs_content(hw: Hardware, settings: Settings, form: SettingsForm, snap: Snapshot) -> str:
    """The "what runs on it" section and the published measurements on the device after it:
    once per catalog revision, device, settings and machine (not kept when the settings needed
    corrections)."""
    key = None if settings.notes else parts.key("device-runs", snap.revision, hw.slug,
                                                 published.index().token,
                                                 settings.query(hw))  # fmt: skip

    def render() -> str:
        shown = rows(hw, settings, snap)
        chosen = settings.chosen(hw)
        context = {
            "device": hw,
            "settings": settings,
            "chosen": chosen,
            "fields": form.fields,
            "rows": shown,
            "running": sum(r["runs"] for r in shown),
            "in_ram": sum(r["in_ram"] for r in shown),
            "machine_controls": machines.controls(settings.machine, (chosen.kind,)),
            "usable": runs.USABLE_TPS,
            "p": published.for_hardware(snap, hw.slug, settings.show_all)
            | {"all_query": settings.query(hw, pub="all"), "anchor": "published", "by_model": True},
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
    """Every catalog model on this machine at these settings (filter and sort applied)."""
    chosen = settings.chosen(hw)
    cells = runs.table(chosen, settings.ctx, snap)
    link = {"gpu": hw.slug, "gpu_count": settings.count, **chosen.machine_items()}
    shown = []
    for model in listing(snap):
        cell = cells.get(model["slug"])
        if cell is None or not (cell.runs or not settings.fits):
            continue
        shown.append(
            model
            | {
                "ctx": tokens(cell.ctx),
                "ctx_capped": cell.ctx < settings.ctx,
                "quant": cell.quant,
                "total": gib(cell.total_bytes),
                "grade": cell.grade,
                "reason": cell.reason,
                "tps_value": cell.tps,
                "tps": units.tps(cell.tps or None),
                "runs": cell.runs,
                "in_ram": cell.status == "offload",
                "query": urlencode({"quant": cell.quant, "ctx": cell.ctx, **link}),
            }
        )
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


def listing(snap: Snapshot) -> list[dict[str, Any]]:
    """What the list shows of every model besides its fit: read once per catalog revision."""

    def read() -> list[dict[str, Any]]:
        models = Model.objects.select_related("provider").only(
            "slug", "name", "params_total", "release_date", "provider__name", "provider__slug",
        ).order_by("name")  # fmt: skip
        return [
            {
                "slug": m.slug,
                "name": m.name,
                "url": m.get_absolute_url(),
                "provider": m.provider.name,
                "search": f"{m.name} {m.provider.name} {m.slug}".lower(),
                "params": params(m.params_total),
                "params_value": m.params_total,
                "released": m.release_date.isoformat() if m.release_date else "",
                "release_ordinal": m.release_date.toordinal() if m.release_date else 0,
            }
            for m in models
        ]

    return snap.remember("device-page-listing", read)
