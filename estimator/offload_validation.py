"""The plan's speed (estimator.plan) against measured llama.cpp runs with weights in system RAM,
on unified memory and on CPUs alone: the data its tests assert on and /methodology/ shows.

Reads `data/offload_measurements.csv` (one measured run per row, each with its public source),
`data/offload_machines.toml` (the machines' figures, each with its source; how each source
measured; quant names; flagged rows; the calibration / held-out split) and
`data/offload_configs.json` (the models' config.json, each with its URL). For every row and test
(decode "tg", prefill "pp") with a measured value it either compares `make_plan`'s tokens/s
under the row's placement (its -ngl / --n-cpu-moe, else llama.cpp's own fit) with the
measurement, or says why not (docs/offload.md explains the method and the results).
"""

from __future__ import annotations

import csv
import json
import re
import statistics
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from estimator import machine as machines
from estimator.config import text_config
from estimator.inventory import builders
from estimator.machine import Machine, machine_for
from estimator.memory import MemoryOptions, config_key
from estimator.plan import Plan, make_plan
from estimator.quant import FILE_TYPES
from estimator.throughput import Device
from estimator.units import GIB

HERE = Path(__file__).parent
MEASUREMENTS = HERE / "data" / "offload_measurements.csv"
FACTS = HERE / "data" / "offload_machines.toml"
CONFIGS = HERE / "data" / "offload_configs.json"

# The targets, judged on the held-out half.
DECODE_MEDIAN_TARGET = 0.25  # median |predicted / measured - 1| of every decode row
DECODE_RATIO_TARGET = 2.0  # no decode row off by more than this factor
PREFILL_RAM_MEDIAN_TARGET = 0.40  # prefill with experts in system RAM
CATEGORIES = ("gpu_ram_moe", "gpu_ram_dense", "cpu_only", "unified")
EXPERTS_IN_RAM = "experts in RAM"  # the prefill target's rows: MoE experts held in system RAM
DEFAULT_CTX = 4096
DEFAULT_UBATCH = 512  # llama.cpp's default -ub


@dataclass(frozen=True)
class Row:
    """One measured run, as the CSV gives it (`index`: its data row, the line number minus 2)."""

    index: int
    category: str
    model: str
    hf_repo: str
    quant: str
    gpu: str
    ram_gb: float | None
    ram_bandwidth_gbps: float | None
    cpu: str
    ngl: int | None
    n_cpu_moe: int | None
    placement: str
    ubatch: int | None
    n_prompt: int | None
    n_depth: int
    pp_tps: float | None
    tg_tps: float | None
    source: str
    notes: str

    @property
    def publisher(self) -> str:
        """The GitHub repository, or the web site, the row comes from."""
        url = urlparse(self.source)
        host = url.netloc.removeprefix("www.")
        if host == "github.com":
            return "/".join(url.path.strip("/").split("/")[:2])
        return host


@dataclass(frozen=True)
class Check:
    """One test of one row: our tokens/s beside the measured, or why they are not compared."""

    row: Row
    test: str  # "tg" (decode) or "pp" (prefill)
    measured: float
    split: str  # "calibration" or "held_out"
    predicted: float | None = None
    excluded: str = ""  # the reason it is not compared ("" when it is)
    experts_in_ram: bool = False  # MoE experts held in system RAM under the row's placement
    fits_as_stated: bool = True  # our fit accepts the stated placement with the default reserve

    @property
    def compared(self) -> bool:
        return not self.excluded

    @property
    def error(self) -> float:
        """predicted / measured - 1."""
        assert self.predicted is not None
        return self.predicted / self.measured - 1

    @property
    def ratio(self) -> float:
        """How many times off, either way (1.0 = exact)."""
        assert self.predicted is not None
        return max(self.predicted / self.measured, self.measured / self.predicted)


@dataclass(frozen=True)
class Summary:
    category: str  # a CSV category, or EXPERTS_IN_RAM
    test: str
    split: str  # "all", "calibration" or "held_out"
    n: int
    median_error: float  # median |predicted / measured - 1|
    max_ratio: float  # the worst row's max(predicted / measured, measured / predicted)


@dataclass(frozen=True)
class Target:
    name: str
    split: str
    n: int  # rows judged
    value: float
    limit: float

    @property
    def met(self) -> bool:
        return self.n > 0 and self.value <= self.limit


def _int(text: str) -> int | None:
    return int(float(text)) if text.strip() else None


def _float(text: str) -> float | None:
    return float(text) if text.strip() else None


@lru_cache(maxsize=1)
def rows() -> tuple[Row, ...]:
    """Every row of the CSV."""
    with MEASUREMENTS.open(newline="") as f:
        return tuple(
            Row(
                index=i,
                category=r["category"],
                model=r["model"],
                hf_repo=r["hf_repo"],
                quant=r["quant"],
                gpu=r["gpu"],
                ram_gb=_float(r["ram_gb"]),
                ram_bandwidth_gbps=_float(r["ram_bandwidth_gbps"]),
                cpu=r["cpu"],
                ngl=_int(r["ngl"]),
                n_cpu_moe=_int(r["n_cpu_moe"]),
                placement=r["placement"],
                ubatch=_int(r["ubatch"]),
                n_prompt=_int(r["n_prompt"]),
                n_depth=_int(r["n_depth"]) or 0,
                pp_tps=_float(r["pp_tps"]),
                tg_tps=_float(r["tg_tps"]),
                source=r["source"],
                notes=r["notes"],
            )
            for i, r in enumerate(csv.DictReader(f))
        )


@lru_cache(maxsize=1)
def facts() -> dict[str, Any]:
    """offload_machines.toml: machine figures, runs, quant names, flagged rows, the split."""
    return tomllib.loads(FACTS.read_text())


@lru_cache(maxsize=1)
def configs() -> dict[str, dict[str, Any]]:
    """hf_repo -> {"source": URL of its config.json, "config": the config}."""
    data: dict[str, dict[str, Any]] = json.loads(CONFIGS.read_text())
    return data


def split_of(row: Row) -> str:
    """The row's half, as offload_machines.toml states it."""
    split = facts()["split"]
    if row.index in split["held_out_rows"]:
        return "held_out"
    if row.publisher in split["held_out"]:
        return "held_out"
    if row.publisher in split["calibration"]:
        return "calibration"
    raise ValueError(f"row {row.index}: publisher {row.publisher!r} is in neither half")


@dataclass(frozen=True)
class Run:
    """How a source measured."""

    tool: str  # "llama-bench" decodes after n_depth cached tokens; a server after the prompt
    n_gen: int  # tokens generated per decode measurement


def run_of(row: Row) -> Run:
    """The row's source's way of measuring (by source URL, then publisher; else a server run of
    128 tokens)."""
    runs = facts()["runs"]
    run = runs.get(row.source) or runs.get(row.publisher) or {}
    return Run(str(run.get("tool", "llama-server")), int(run.get("n_gen", 128)))


def file_type(row: Row, test: str) -> tuple[str | None, str]:
    """(our file type, "") or (None, why the quant is not one of ours for this test)."""
    if row.quant in FILE_TYPES:
        return row.quant, ""
    named = facts()["quants"].get(row.quant)
    if named:
        return named, ""
    prefill_only = facts()["prefill_only_quants"].get(row.quant)
    if prefill_only:
        if test == "pp":
            return prefill_only, ""
        return (
            None,
            f"quant {row.quant!r}: F16 non-expert tensors, ours are Q8_0 (decode reads them)",
        )
    return None, f"quant {row.quant!r} is not one of ours"


def model_problem(row: Row) -> str:
    """Why the row's model cannot be estimated ("" when it can)."""
    if not row.hf_repo:
        return f"model {row.model!r}: no Hugging Face repository named, no config.json"
    uncopied = facts()["uncopied_models"].get(row.hf_repo)
    if uncopied:
        return str(uncopied)
    if row.hf_repo not in configs():
        return f"model {row.hf_repo!r}: config.json not in offload_configs.json"
    model_type = text_config(configs()[row.hf_repo]["config"]).get("model_type")
    if model_type not in builders():
        return f"architecture {model_type!r} is not one the estimator builds"
    return ""


def flagged(row: Row) -> str:
    """Why the row's measurement does not show what the plan models ("" when it does)."""
    for flag in facts()["flagged"]:
        if row.index in flag["rows"]:
            if flag["source"] != row.source:
                raise ValueError(f"flagged row {row.index} is not from {flag['source']}")
            return str(flag["reason"])
    return ""


def _device(name: str) -> Device | None:
    """The GPU or unified chip of that name as a Device (None: not in our figures)."""
    gpu = facts()["gpus"].get(name)
    if gpu is None:
        return None
    return Device(
        gpu["memory_bytes"],
        gpu["bandwidth_gbps"],
        gpu.get("fp16_tflops"),
        gpu["device_class"],
        gpu["segment"],
    )


def ram_bandwidth(row: Row) -> float | None:
    """The row's system RAM bandwidth: stated in the CSV, else from the host's figures."""
    if row.ram_bandwidth_gbps:
        return row.ram_bandwidth_gbps
    host = facts()["hosts"].get(row.cpu)
    return float(host["ram_bandwidth_gbps"]) if host else None


def machine_of(row: Row, reserved: bool = True) -> Machine | None:
    """The row's machine (None: its GPU is not in our figures). RAM size not stated: the
    default 64 GiB; RAM bandwidth not stated: the default kit's (callers exclude decode that
    reads RAM then). `reserved` False gives llama.cpp the GPU's whole memory."""
    ram = int(row.ram_gb * GIB) if row.ram_gb else None
    bandwidth = ram_bandwidth(row)
    if not row.gpu:
        ram = ram or machines.DEFAULT_RAM_BYTES
        bandwidth = bandwidth or machines.RAM_PRESETS[machines.DEFAULT_RAM_PRESET][1]
        return Machine(None, 0, ram, bandwidth, 0)
    device = _device(row.gpu)
    if device is None:
        return None
    gpu = facts()["gpus"][row.gpu]
    if gpu.get("unified") or device.device_class == "apple":
        return machine_for(device, ram_bytes=ram, unified=True)
    return machine_for(
        device,
        ram_bytes=ram,
        ram_bandwidth_gbps=bandwidth,
        reserved_bytes=None if reserved else 0,
        pcie_gbps=machines.PCIE_GBPS[gpu["pcie"]],
    )


_CTX = (
    re.compile(r"(?:^|\s)-c (\d+)"),
    re.compile(r"\bctx (\d+)(K?)\b"),
    re.compile(r"\b(\d+)(K) ctx\b"),
)
_KV = re.compile(r"-ct([kv]) (\w+)")
_KV_BOTH = re.compile(r"\b(q\d_\d) K/V\b")


def options(row: Row, test: str, quant: str) -> MemoryOptions:
    """The llama.cpp options of the row: context, cache types, ubatch, flash attention."""
    n_gen = run_of(row).n_gen
    n_ctx = 0
    for text in (row.placement, row.notes):
        for pattern in _CTX:
            match = pattern.search(text)
            if match and not n_ctx:
                n_ctx = int(match.group(1)) * (1024 if match.group(2) else 1)
    if not n_ctx:
        n_ctx = max(DEFAULT_CTX, (row.n_prompt or 0) + row.n_depth + n_gen)
    types = {"k": "f16", "v": "f16"}
    both = _KV_BOTH.search(row.placement)
    if both:
        types = {"k": both.group(1), "v": both.group(1)}
    for which, kind in _KV.findall(row.placement):
        types[which] = kind
    ubatch = row.ubatch or DEFAULT_UBATCH
    if test == "pp" and row.n_prompt:
        ubatch = min(ubatch, row.n_prompt)  # a prompt shorter than -ub is one smaller ubatch
    return MemoryOptions(
        file_type=quant,
        n_ctx=n_ctx,
        type_k=types["k"],
        type_v=types["v"],
        flash_attn="no FA" not in row.notes,
        n_ubatch=ubatch,
    )


def decode_depth(row: Row) -> int:
    """Average cached tokens while the row's tokens were generated."""
    run = run_of(row)
    before = row.n_depth if run.tool == "llama-bench" else (row.n_prompt or 0) + row.n_depth
    return before + run.n_gen // 2


def plan_of(row: Row, test: str, quant: str, reserved: bool = False) -> Plan | None:
    """make_plan for the row: its placement when it states one, else llama.cpp's fit. A stated
    placement ran, so it fitted: the GPU gets its whole memory unless `reserved`."""
    forced = row.ngl is not None or row.n_cpu_moe is not None
    m = machine_of(row, reserved or not forced)
    if m is None:
        return None
    config = configs()[row.hf_repo]["config"]
    return make_plan(
        config_key(config),
        options(row, test, quant),
        m,
        ngl=row.ngl if forced else None,
        n_cpu_moe=row.n_cpu_moe,
        depth=decode_depth(row),
    )


def check(row: Row, test: str) -> Check | None:
    """The row's `test` compared, or excluded with the first reason that applies."""
    measured = row.tg_tps if test == "tg" else row.pp_tps
    if measured is None:
        return None
    base = Check(row, test, measured, split_of(row))
    quant, why = file_type(row, test)
    why = why or model_problem(row) or flagged(row)
    if not why and _device(row.gpu) is None and row.gpu:
        why = f"GPU {row.gpu!r}: not in our machine figures"
    if why or quant is None:
        return _excluded(base, why)
    p = plan_of(row, test, quant)
    assert p is not None
    experts_in_ram = p.expert_layers_on_cpu > 0
    if not p.fits:
        return _excluded(base, "our memory model says the stated placement does not fit")
    predicted = p.decode_tokens_per_s if test == "tg" else p.prefill_tokens_per_s
    host_read = p.layout.host.read > 0
    if test == "tg" and host_read and ram_bandwidth(row) is None:
        why = "RAM bandwidth not stated"
    elif test == "pp" and predicted is None:
        why = f"FP16 peak of {row.gpu or row.cpu!r} unknown: the estimator gives no prefill"
    if why:
        return _excluded(base, why, experts_in_ram)
    forced = row.ngl is not None or row.n_cpu_moe is not None
    as_stated = plan_of(row, test, quant, reserved=True) if forced else p
    return Check(
        row,
        test,
        measured,
        base.split,
        predicted,
        "",
        experts_in_ram,
        bool(as_stated and as_stated.fits),
    )


def _excluded(base: Check, why: str, experts_in_ram: bool = False) -> Check:
    return Check(base.row, base.test, base.measured, base.split, None, why, experts_in_ram)


@lru_cache(maxsize=1)
def checks() -> tuple[Check, ...]:
    """Every measured value of every row, compared or excluded."""
    out = []
    for row in rows():
        for test in ("tg", "pp"):
            c = check(row, test)
            if c is not None:
                out.append(c)
    return tuple(out)


def compared(test: str, split: str = "all", category: str = "") -> list[Check]:
    """Compared checks of one test, in one half ("all": both) and category (EXPERTS_IN_RAM:
    every row whose MoE experts are in system RAM; "": every category)."""
    return [
        c
        for c in checks()
        if c.compared
        and c.test == test
        and split in ("all", c.split)
        and (
            not category
            or c.row.category == category
            or (category == EXPERTS_IN_RAM and c.experts_in_ram)
        )
    ]


def summarize(items: list[Check], category: str, test: str, split: str) -> Summary:
    """n, median |error| and worst ratio of these checks."""
    errors = [abs(c.error) for c in items]
    return Summary(
        category,
        test,
        split,
        len(items),
        statistics.median(errors) if errors else 0.0,
        max((c.ratio for c in items), default=0.0),
    )


def summary(split: str = "all") -> list[Summary]:
    """n, median |error| and worst ratio per category and test (categories without a compared
    row are left out); prefill also for the rows with experts in RAM."""
    out = []
    for test in ("tg", "pp"):
        groups = [*CATEGORIES, EXPERTS_IN_RAM] if test == "pp" else list(CATEGORIES)
        for category in groups:
            items = compared(test, split, category)
            if items:
                out.append(summarize(items, category, test, split))
        out.append(summarize(compared(test, split), "all", test, split))
    return out


def targets(split: str = "held_out") -> list[Target]:
    """The issue's targets on one half."""
    decode = compared("tg", split)
    prefill = compared("pp", split, EXPERTS_IN_RAM)
    median = summarize(decode, "all", "tg", split).median_error
    worst = summarize(decode, "all", "tg", split).max_ratio
    ram = summarize(prefill, EXPERTS_IN_RAM, "pp", split).median_error
    return [
        Target("decode: median error", split, len(decode), median, DECODE_MEDIAN_TARGET),
        Target("decode: worst ratio", split, len(decode), worst, DECODE_RATIO_TARGET),
        Target("prefill, experts in RAM: median error", split, len(prefill), ram,
               PREFILL_RAM_MEDIAN_TARGET),
    ]  # fmt: skip


def exclusions() -> list[Check]:
    """Every measured value that is not compared, each with its reason."""
    return [c for c in checks() if not c.compared]
