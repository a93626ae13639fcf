"""The "Community benchmarks" section of model and hardware pages: published results beside
our estimate for the same setup, medians per device and quant, and a chart.

Rendered once per catalog and benchmarks revision, subject and filters, then kept as a part
(catalog.parts). Its filters offer only values some published result has, so they are checked
while rendering, not by a form before it.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from benchmarks import calibration
from benchmarks.models import ENGINES, Runtime, Submission
from benchmarks.plausibility import estimate_gen, setup_of
from catalog import parts
from catalog.charts import Scale
from catalog.models import Hardware, Model, Revision
from estimator.devices import device_class
from estimator.units import tps

SHOWN = 100  # individual results listed, newest first
FILTERS = ("bhw", "bq", "brt")  # device, quant, runtime: apart from the model page's own state


@dataclass(frozen=True)
class Result:
    submission: Submission
    estimate: float | None  # our aggregate decode tokens/s for its setup

    @property
    def ratio(self) -> float | None:
        gen = self.submission.gen_tokens_per_s
        return gen / self.estimate if gen and self.estimate else None


def section(
    params: Mapping[str, str],
    *,
    model: Model | None = None,
    hardware: Hardware | None = None,
    catalog: str | None = None,
    calib: calibration.Calibration | None = None,
) -> SafeString:
    """The section's HTML for a model or a device, filtered by `params` (bhw, bq, brt). The
    model page passes the catalog token and calibration it already holds."""
    if catalog is None or calib is None:
        tokens = Revision.current()
        catalog, calib = tokens.catalog, calibration.current(tokens.benchmarks)
    subject = f"m{model.pk}" if model else f"h{hardware.pk}"  # type: ignore[union-attr]
    chosen = {k: str(params.get(k, ""))[:120] for k in FILTERS}
    key = parts.key("community", catalog, calib.token, subject, sorted(chosen.items()))
    return parts.cached(
        key,
        lambda: render_to_string(
            "benchmarks/_community.html", _context(chosen, calib, model, hardware)
        ),
    )


def _context(
    chosen: dict[str, str],
    calib: calibration.Calibration,
    model: Model | None,
    hardware: Hardware | None,
) -> dict[str, Any]:
    published = Submission.objects.published().select_related("model", "hardware")
    published = published.filter(model=model) if model else published.filter(hardware=hardware)
    everything = list(published.order_by("-created_at", "-id"))
    options = _options(everything, by_model=model is None)
    notes = []
    rows = everything
    for key, label in (("bhw", "device"), ("bq", "quant"), ("brt", "runtime")):
        value = chosen[key]
        if value and value not in dict(options[key]):
            notes.append(f"No published result with that {label}; showing all.")
            chosen[key] = ""
        elif value:
            rows = [r for r in rows if _value(r, key, by_model=model is None) == value]
    results = [Result(s, _estimate(s, calib)) for s in rows]
    groups = _groups(results, by_model=model is None)
    return {
        "model": model,
        "hardware": hardware,
        "total": len(everything),
        "results": [_row(r, by_model=model is None) for r in results[:SHOWN]],
        "more": max(len(results) - SHOWN, 0),
        "groups": groups,
        "chart": _chart(groups),
        "options": options,
        "chosen": chosen,
        "notes": notes,
        "page_url": (model or hardware).get_absolute_url(),  # type: ignore[union-attr]
        "submit_query": f"model={model.slug}" if model else f"hardware={hardware.slug}",  # type: ignore[union-attr]
        "calibrated": " ".join(
            filter(None, (calibration.note(calib, e) for e in sorted(set(ENGINES.values()))))
        ),
        "min_runs": calibration.MIN_RUNS,
        "min_submitters": calibration.MIN_SUBMITTERS,
        "clamp": calibration.CLAMP,
    }


def _value(s: Submission, key: str, *, by_model: bool) -> str:
    if key == "bhw":
        return s.model.slug if by_model else (s.hardware.slug if s.hardware else "other")
    if key == "bq":
        return s.quant or "other"
    return s.runtime


def _options(subs: list[Submission], *, by_model: bool) -> dict[str, list[tuple[str, str]]]:
    """The filter choices: only values some published result has."""
    devices: dict[str, str] = {}
    quants: dict[str, str] = {}
    runtimes: dict[str, str] = {}
    for s in subs:
        if by_model:
            devices[s.model.slug] = s.model.name
        else:
            devices[s.hardware.slug if s.hardware else "other"] = (
                s.hardware.name if s.hardware else "Other devices"
            )
        quants[s.quant or "other"] = s.quant or "Other quants"
        runtimes[s.runtime] = Runtime(s.runtime).label
    return {
        "bhw": sorted(devices.items(), key=lambda kv: kv[1]),
        "bq": sorted(quants.items()),
        "brt": sorted(runtimes.items(), key=lambda kv: kv[1]),
    }


def _estimate(s: Submission, calib: calibration.Calibration) -> float | None:
    engine = ENGINES.get(s.runtime)
    if s.hardware is None or engine is None or not s.gen_tokens_per_s:
        return None
    factor = calib.value(device_class(s.hardware.vendor, s.hardware.kind), engine)
    return estimate_gen(setup_of(s), factor)


def _row(r: Result, *, by_model: bool) -> dict[str, Any]:
    s = r.submission
    settings = [f"ctx {s.context:,}"]
    if s.depth:
        settings.append(f"depth {s.depth:,}")
    if s.batch > 1:
        settings.append(f"batch {s.batch}")
    settings.append("FA " + {True: "on", False: "off", None: "?"}[s.flash_attn])
    if s.kv_type != "f16":
        settings.append(f"KV {s.kv_type}")
    return {
        "subject": s.model.name if by_model else s.device_label,
        "subject_url": s.model.get_absolute_url()
        if by_model
        else (s.hardware.get_absolute_url() if s.hardware else ""),
        "quant": s.quant or s.quant_text,
        "runtime": " ".join(filter(None, [Runtime(s.runtime).label, s.runtime_version])),
        "backend": s.get_backend_display(),
        "test": s.test,
        "settings": ", ".join(settings),
        "pp": tps(s.prompt_tokens_per_s),
        "tg": tps(s.gen_tokens_per_s),
        "estimate": tps(r.estimate),
        "ratio": f"{r.ratio:.2f}" if r.ratio else "—",
        "other": s.hardware is None,
        "name": s.name or "anonymous",
        "date": s.created_at,
        "link": s.link,
        "notes": s.notes,
    }


def _groups(results: list[Result], *, by_model: bool) -> list[dict[str, Any]]:
    """Median generation speed and measured ÷ estimate per device (or model), number of devices,
    quant and batch: generation speed is for all parallel sequences, so batches are never
    mixed. Devices not in the catalog are listed but not aggregated."""
    groups: dict[tuple[Any, ...], list[Result]] = {}
    for r in results:
        s = r.submission
        if s.hardware is None or not s.gen_tokens_per_s or not s.quant:
            continue
        subject = s.model.pk if by_model else s.hardware.pk
        groups.setdefault((subject, s.hardware_count, s.quant, s.batch), []).append(r)
    out = []
    for (_, count, quant, batch), members in groups.items():
        s = members[0].submission
        ratios = [r.ratio for r in members if r.ratio]
        estimates = [r.estimate for r in members if r.estimate]
        subject = s.model.name if by_model else s.device_label
        if by_model and count > 1:
            subject += f" on {count} devices"
        if batch > 1:
            subject += f", batch {batch}"
        out.append(
            {
                "subject": subject,
                "quant": quant,
                "runs": len(members),
                "median": statistics.median(r.submission.gen_tokens_per_s or 0 for r in members),
                "estimate": statistics.median(estimates) if estimates else None,
                "ratio": f"{statistics.median(ratios):.2f}" if ratios else "—",
            }
        )
    out.sort(key=lambda g: -g["median"])
    for g in out:
        g["median_text"] = tps(g["median"])
        g["estimate_text"] = tps(g["estimate"])
    return out


def _chart(groups: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Where the chart (templates/catalog/charts/bars.html) draws each group: a bar of the
    measured median generation tokens/s, our estimate as a tick."""
    if not groups:
        return None
    width, label_w, row_h, pad = 560, 210, 22, 8
    top = max(max(g["median"], g["estimate"] or 0) for g in groups) * 1.1
    x = Scale(0, top, label_w, width - 50)
    height = pad * 2 + row_h * len(groups) + 16
    bars = []
    for i, g in enumerate(groups):
        y = pad + i * row_h
        end = x(g["median"])
        bars.append(
            {
                "group": g,
                "text_y": y + 14,
                "bar_y": y + 3,
                "width": f"{end - label_w:.1f}",
                "value_x": f"{end + 4:.1f}",
                "tick_x": f"{x(g['estimate']):.1f}" if g["estimate"] else "",
                "tick_y": (y + 1, y + 19),
            }
        )
    return {
        "width": width,
        "height": height,
        "pad": pad,
        "label_x": label_w - 6,
        "bar_x": label_w,
        "title_y": height - 4,
        "bars": bars,
    }
