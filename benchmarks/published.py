"""Published measurements: public llama-bench, llama-batched-bench, llama-server and vLLM results
(estimator/data/published/*.csv, each row with its source, build and settings; the older
calibration set estimator/data/llama_cpp_tps_calibration.csv too), shown on model and hardware
pages beside our estimate for the same setting, apart from community submissions.

The files are read once per process (`index()`), rows indexed by catalog model and device. A row
that does not parse (a missing number, a URL that is not https://, a slug that is not one) is
skipped and counted, never shown: a bad line cannot break a page. A page computes our estimate
for the few rows it shows, once per catalog revision (Snapshot.remember).
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import hashlib
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.urls import reverse

from catalog.models import Hardware, Model
from catalog.snapshot import Snapshot, class_of, engine
from estimator.devices import from_hardware
from estimator.memory import MemoryOptions, estimate_memory, inventory
from estimator.quant import FILE_TYPES
from estimator.throughput import BACKENDS, Device
from estimator.units import tps
from estimator.validation import LABELS, backend_of, generation_start, setting_tps

DATA = Path(__file__).resolve().parent.parent / "estimator" / "data"
DIRECTORY = DATA / "published"
OLDER = DATA / "llama_cpp_tps_calibration.csv"
# The older file's device names -> catalog slugs.
CALIBRATION_DEVICES: dict[str, dict[str, Any]] = tomllib.loads(
    (DATA / "calibration_devices.toml").read_text()
)["devices"]
HEADER = [
    "device", "hardware_slug", "n_devices", "backend", "gpu_arch", "engine", "model",
    "model_slug", "quant", "model_size_gib", "model_params_b", "test", "n_prompt", "n_gen",
    "depth", "batch", "flash_attn", "n_ubatch", "tps", "build", "date", "url", "notes",
]  # fmt: skip
OLDER_HEADER = [
    "device", "n_devices", "backend", "engine", "model", "quant", "model_size_gib",
    "model_params_b", "test", "n_prompt", "n_gen", "depth", "batch", "tps", "build", "source",
    "source_type", "notes",
]  # fmt: skip
SHOWN = 20  # rows a page shows; "all N" shows the rest
SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")
PP = re.compile(r"pp(\d+)$")  # llama-bench's prompt test, maybe "pp512 @ d4096" (depth apart)
TG = re.compile(r"tg(\d+)$")
ENGINES = ("llama.cpp", "llama.cpp-batched-bench", "llama.cpp-server", "vllm")


@dataclass(frozen=True)
class Measurement:
    device: str
    hardware_slug: str
    n_devices: int
    backend: str
    gpu_arch: str
    engine: str
    model: str
    model_slug: str
    quant: str
    test: str
    n_prompt: int
    n_gen: int
    depth: int
    batch: int
    flash_attn: bool | None
    n_ubatch: int | None
    tps: float
    build: str
    date: datetime.date | None
    url: str
    notes: str
    order: int = field(default=0, compare=False)  # its place in the files, for a stable sort

    @property
    def kind(self) -> str:
        """The speed it measures: "pp" (prompt), "tg" (generation), "" (pp+tg: neither)."""
        name = self.test.split(" @ ")[0].strip()
        if name in ("bb_tg", "serve_tg") or TG.match(name):
            return "tg"
        if name == "bb_pp" or PP.match(name):
            return "pp"
        return ""

    @property
    def settings(self) -> str:
        """The run's settings in words: prompt and generated tokens, depth, batch, FA, -ub."""
        out = []
        if self.test in ("bb_tg", "bb_pp", "serve_tg"):
            out.append(f"prompt {self.n_prompt:,}, generate {self.n_gen:,}")
        if self.depth and " @ " not in self.test:
            out.append(f"depth {self.depth:,}")
        if self.batch > 1:
            out.append(f"batch {self.batch}")
        if self.flash_attn is not None:
            out.append(f"FA {'on' if self.flash_attn else 'off'}")
        if self.n_ubatch:
            out.append(f"-ub {self.n_ubatch}")
        return ", ".join(out)


@dataclass(frozen=True)
class Index:
    rows: tuple[Measurement, ...]
    skipped: int  # rows (or files) that did not parse
    by_model: Mapping[str, tuple[Measurement, ...]]
    by_hardware: Mapping[str, tuple[Measurement, ...]]
    token: str = ""  # changes with the files' bytes: keys of pages rendered from them


def read(directory: Path, older: Path | None = None) -> Index:
    """Every row of the CSVs in `directory` (and of the older calibration file), newest first."""
    rows: list[Measurement] = []
    skipped = 0
    sources: list[tuple[Path, bool]] = [(p, False) for p in sorted(directory.glob("*.csv"))]
    if older is not None and older.exists():
        sources.append((older, True))
    digest = hashlib.blake2b(digest_size=8)
    for path, is_older in sources:
        with contextlib.suppress(OSError):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        parsed, bad = _read_file(path, is_older, len(rows))
        rows += parsed
        skipped += bad
    rows.sort(key=_newest_first)
    by_model: dict[str, list[Measurement]] = {}
    by_hardware: dict[str, list[Measurement]] = {}
    for r in rows:
        if r.model_slug:
            by_model.setdefault(r.model_slug, []).append(r)
        if r.hardware_slug:
            by_hardware.setdefault(r.hardware_slug, []).append(r)
    return Index(
        tuple(rows),
        skipped,
        {k: tuple(v) for k, v in by_model.items()},
        {k: tuple(v) for k, v in by_hardware.items()},
        digest.hexdigest(),
    )


@lru_cache(maxsize=1)
def index() -> Index:
    """This process's index of the published measurements (read on first use)."""
    return read(DIRECTORY, OLDER)


def _newest_first(r: Measurement) -> tuple[Any, ...]:
    """Dated rows (the published files) before the older undated calibration set; among them
    single-user runs from an empty cache first (the pp and tg figures people compare), then by
    date of publication, newest first."""
    deeper = r.depth > 0 or r.batch > 1
    return (r.date is None, deeper, -(r.date.toordinal() if r.date else 0), r.order)


def _read_file(path: Path, is_older: bool, start: int) -> tuple[list[Measurement], int]:
    """A file's rows and how many did not parse (a file with another header: all of them)."""
    raw: list[list[str]] = []
    broken = 0
    try:
        with path.open(newline="", encoding="utf-8") as f:
            for line in csv.reader(f):  # the lines before a broken one are kept
                raw.append(line)
    except (OSError, UnicodeDecodeError, csv.Error):
        broken = 1
    if not raw:
        return [], broken
    header, lines = raw[0], [line for line in raw[1:] if any(cell.strip() for cell in line)]
    if header != (OLDER_HEADER if is_older else HEADER):
        return [], max(len(lines), 1)
    out, bad = [], broken
    for i, line in enumerate(lines):
        if len(line) != len(header):
            bad += 1
            continue
        values = dict(zip(header, line, strict=True))
        try:
            row = _older(values) if is_older else _row(values)
        except (ValueError, KeyError, OverflowError):
            bad += 1
            continue
        out.append(Measurement(**(row | {"order": start + i})))
    return out, bad


def _row(v: Mapping[str, str]) -> dict[str, Any]:
    """The typed fields of a row in the published schema; ValueError when one is malformed."""
    url = v["url"].strip()
    if not url.startswith("https://") or not urlsplit(url).hostname:
        raise ValueError(f"not a public URL: {url!r}")
    engine = _text(v["engine"], 40)
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r}")
    return {
        "device": _required(v["device"], 120),
        "hardware_slug": _slug(v["hardware_slug"]),
        "n_devices": _count(v["n_devices"], 1, low=1),
        "backend": _text(v["backend"], 40),
        "gpu_arch": _text(v["gpu_arch"], 60),
        "engine": engine,
        "model": _required(v["model"], 160),
        "model_slug": _slug(v["model_slug"]),
        "quant": _text(v["quant"], 40),
        "test": _required(v["test"], 60),
        "n_prompt": _count(v["n_prompt"], 0),
        "n_gen": _count(v["n_gen"], 0),
        "depth": _count(v["depth"], 0),
        "batch": _count(v["batch"], 1, low=1),
        "flash_attn": {"1": True, "0": False, "": None}[v["flash_attn"].strip()],
        "n_ubatch": _count(v["n_ubatch"], 0, low=1) if v["n_ubatch"].strip() else None,
        "tps": _speed(v["tps"]),
        "build": _text(v["build"], 80),
        "date": datetime.date.fromisoformat(v["date"].strip()) if v["date"].strip() else None,
        "url": url,
        "notes": _text(v["notes"], 1000),
    }


def _older(v: Mapping[str, str]) -> dict[str, Any]:
    """A row of the older calibration file: its source has no scheme ("github.com/... (how
    read)") and its devices map to catalog slugs through calibration_devices.toml; its models
    are generic LLaMA shapes (no catalog model)."""
    source = v["source"].strip().split(" ")[0]
    if not source or "/" not in source:
        raise ValueError(f"source {v['source']!r}")
    device = _required(v["device"], 120)
    test = _required(v["test"], 60)
    return {
        "device": device,
        "hardware_slug": CALIBRATION_DEVICES.get(device, {}).get("slug", ""),
        "n_devices": _count(v["n_devices"], 1, low=1),
        "backend": _text(v["backend"], 40).removeprefix("llama.cpp "),
        "gpu_arch": "",
        "engine": _text(v["engine"], 40),
        "model": _required(v["model"], 160),
        "model_slug": "",
        "quant": _text(v["quant"], 40),
        "test": test,
        "n_prompt": _count(v["n_prompt"], 0),
        "n_gen": _count(v["n_gen"], 0),
        "depth": _count(v["depth"], 0),
        "batch": _count(v["batch"], 1, low=1),
        "flash_attn": None,
        "n_ubatch": None,
        "tps": _speed(v["tps"]),
        "build": _text(v["build"], 80),
        "date": None,
        "url": "https://" + source,
        "notes": _text(v["notes"], 1000),
    }


def _text(value: str, most: int) -> str:
    return value.strip()[:most]


def _required(value: str, most: int) -> str:
    text = _text(value, most)
    if not text:
        raise ValueError("empty")
    return text


def _slug(value: str) -> str:
    text = value.strip()
    if text and not SLUG.fullmatch(text):
        raise ValueError(f"not a slug: {text!r}")
    return text


def _count(value: str, default: int, low: int = 0) -> int:
    text = value.strip()
    number = int(text) if text else default
    if number < low or number > 1 << 24:
        raise ValueError(f"{number} out of range")
    return number


def _speed(value: str) -> float:
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"tokens/s {value!r}")
    return number


# Display.


def estimate(r: Measurement, model: Model, hw: Hardware, factor: float = 1.0) -> float | None:
    """Our tokens/s for the measurement's setting, by the rule the speed validation uses
    (estimator.validation.setting_tps); None for a test that is neither (pp+tg), a quant we do
    not model, or a device whose compute rate is unknown (prefill)."""
    quant = LABELS.get(r.quant, r.quant)
    if not r.kind or quant not in FILE_TYPES:
        return None
    config = model.estimator_config
    if r.kind == "pp":
        test = "bb_pp" if r.test.startswith("bb_pp") else "pp"
    else:
        test = "vllm" if r.engine == "vllm" else "bb_tg" if r.test.startswith(
            ("bb_tg", "serve_tg")) else "tg"  # fmt: skip
    fa = r.flash_attn is not False
    per_seq = generation_start(test, r.n_prompt, r.depth) + r.n_gen
    opts = MemoryOptions(file_type=quant, n_ctx=max(per_seq, 1), flash_attn=fa)
    est = estimate_memory(config, opts)
    return setting_tps(
        inventory(config), est.weights, est.kv, _device(r, hw, factor),
        test=test, n_prompt=r.n_prompt, n_gen=r.n_gen, depth=r.depth, batch=r.batch,
        n_ubatch=r.n_ubatch or 512, flash_attn=fa,
        runtime="vllm" if r.engine == "vllm" else "llama.cpp",
    )  # fmt: skip


def _device(r: Measurement, hw: Hardware, factor: float) -> Device:
    """The catalog device on the measurement's backend (where the device runs it)."""
    device = from_hardware(hw, r.n_devices, factor)
    backend = backend_of(r.backend)
    if backend in BACKENDS.get(device.device_class, ()):
        device = replace(device, backend=backend)
    return device


def for_model(snap: Snapshot, slug: str, show_all: bool = False) -> dict[str, Any]:
    """What a model page shows of its published measurements."""
    return _shown(snap, index().by_model.get(slug, ()), show_all)


def for_hardware(snap: Snapshot, slug: str, show_all: bool = False) -> dict[str, Any]:
    """What a hardware page shows of the published measurements on that device."""
    return _shown(snap, index().by_hardware.get(slug, ()), show_all)


def _shown(snap: Snapshot, rows: tuple[Measurement, ...], show_all: bool) -> dict[str, Any]:
    shown = rows if show_all else rows[:SHOWN]
    return {
        "rows": [_display(snap, r) for r in shown],
        "total": len(rows),
        "more": len(rows) - len(shown),
    }


def _display(snap: Snapshot, r: Measurement) -> dict[str, Any]:
    """A row as a page shows it, with our estimate (once per catalog revision and row)."""
    hw = snap.by_slug.get(r.hardware_slug)
    brief = snap.models.get(r.model_slug)
    ours = None
    if hw is not None and brief is not None:
        runtime = "vllm" if r.engine == "vllm" else "llama.cpp"
        factor = snap.calibration.value(class_of(hw), engine(runtime))
        ours = snap.remember(
            ("published-estimate", r.order, r.tps),
            lambda: estimate(r, snap.model(brief.pk), hw, factor),
        )
    host = urlsplit(r.url).hostname or ""
    return {
        "m": r,
        "device_url": hw.get_absolute_url() if hw else "",
        "model_url": reverse("catalog:model_detail", args=[brief.slug]) if brief else "",
        "devices": f"{r.n_devices} \u00d7 " if r.n_devices > 1 else "",
        "backend": " ".join(filter(None, [r.backend, f"({r.gpu_arch})" if r.gpu_arch else ""])),
        "tps": tps(r.tps),
        "estimate": tps(ours),
        "ratio": f"{r.tps / ours:.2f}" if ours else "—",
        "source": host.removeprefix("www."),
    }
