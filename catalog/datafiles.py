"""The catalog's data files (catalog/data/*.toml, format: docs/catalog-data.md): read, every
field checked and typed, into records for the loader (catalog/loader.py). Nothing here touches
the database. Errors name the file and the field:
``meta.toml: models[2] (meta-llama/X): context_length ...``.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog.models import Hardware, Model
from estimator.config import ConfigError
from estimator.encoders import vit_params
from estimator.limits import check_config

DATA_DIR = Path(__file__).resolve().parent / "data"
MODALITIES = ("text", "image", "audio", "video")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
HF_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
URL_RE = re.compile(r"^https?://[^\s/]+\.[^\s]+$")


class CatalogError(ValueError):
    """A catalog file is malformed; the message names the file and the field."""


def model_slug(hf_id: str) -> str:
    """The repo name, lowercased, dots turned into hyphens: Phi-3.5-vision -> phi-3-5-vision."""
    return hf_id.split("/", 1)[-1].lower().replace(".", "-")


class _Fields:
    """Typed, named access to one TOML table; every error says where it happened."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise CatalogError(f"{where}: must be a table")
        self.data = data
        self.where = where

    def _fail(self, name: str, message: str) -> CatalogError:
        return CatalogError(f"{self.where}: field '{name}' {message}")

    def str(self, name: str, *, required: bool = True, max_length: int = 300) -> str:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self._fail(name, "is missing")
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise self._fail(name, f"must be a non-empty string, got {value!r}")
        if len(value) > max_length:
            raise self._fail(name, f"is longer than {max_length} characters")
        return value.strip()

    def url(self, name: str, *, required: bool = False) -> str:
        value = self.str(name, required=required)
        if value and not value.startswith(("https://", "http://")):
            raise self._fail(name, f"must be an http(s) URL, got {value!r}")
        return value

    def slug(self, name: str) -> str:
        value = self.str(name, max_length=60)
        if not SLUG_RE.match(value):
            raise self._fail(name, f"must be a lowercase slug, got {value!r}")
        return value

    def int(self, name: str, *, required: bool = True, minimum: int = 1) -> int | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self._fail(name, "is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._fail(name, f"must be an integer >= {minimum}, got {value!r}")
        return value

    def number(self, name: str, *, required: bool = True) -> float | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self._fail(name, "is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise self._fail(name, f"must be a positive number, got {value!r}")
        return float(value)

    def bool(self, name: str) -> bool:
        value = self.data.get(name)
        if not isinstance(value, bool):
            raise self._fail(name, f"must be true or false, got {value!r}")
        return value

    def date(self, name: str) -> dt.date | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise self._fail(name, f"must be a TOML date like 2024-07-23, got {value!r}")
        return value

    def choice(self, name: str, choices: Iterable[str]) -> str:
        value = self.str(name)
        allowed = list(choices)
        if value not in allowed:
            raise self._fail(name, f"must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def str_list(self, name: str, *, allowed: Iterable[str] | None = None) -> list[str]:
        value = self.data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(name, f"must be a list of strings, got {value!r}")
        if allowed is not None:
            options = set(allowed)
            bad = [v for v in value if v not in options]
            if bad:
                raise self._fail(name, f"has unknown values {bad}; allowed: {sorted(options)}")
        return list(value)

    def table(self, name: str, *, required: bool = False) -> dict[str, Any]:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self._fail(name, "is missing")
            return {}
        if not isinstance(value, dict):
            raise self._fail(name, "must be a table")
        return value

    def tables(self, name: str) -> list[dict[str, Any]]:
        value = self.data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self._fail(name, "must be an array of tables ([[...]])")
        return value


@dataclass
class ModelRecord:
    fields: dict[str, Any]
    input_modalities: list[str]
    output_modalities: list[str]
    encoders: list[dict[str, Any]]
    scores: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ProviderRecord:
    fields: dict[str, Any]
    families: list[dict[str, Any]]
    models: list[ModelRecord]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path.name}: not valid TOML: {exc}") from None


def _sources(f: _Fields, name: str) -> dict[str, str]:
    sources = f.table(name, required=True)
    for key, value in sources.items():
        if not isinstance(value, str) or not value.strip():
            raise CatalogError(f"{f.where}: field '{name}.{key}' must be a non-empty string")
    return {k: v.strip() for k, v in sources.items()}


def _parse_encoder(data: Any, config: dict[str, Any], where: str) -> dict[str, Any]:
    """An encoder's count is stated with a source, or counted from a nested vision config."""
    e = _Fields(data, where)
    params = e.int("params", required=False)
    counted_from = e.str("counted_from", required=False)
    if counted_from:
        try:
            counted = vit_params(_Fields(config, where).table(counted_from, required=True))
        except ConfigError as exc:
            raise CatalogError(
                f"{where}: field 'counted_from' config.{counted_from}: {exc}"
            ) from None
        if params is not None and params != counted:
            raise CatalogError(
                f"{where}: field 'params' says {params} but config.{counted_from} counts {counted}"
            )
        params = counted
    return {
        "name": e.str("name", max_length=200),
        "modality": e.choice("modality", MODALITIES),
        "params": params,
        "source": e.str("source"),
    }


SCORE_KINDS = ("card", "paper", "leaderboard", "blog")
NO_CONTEXT_EXTENSION = {
    "native_context_length": None, "rope_scaling": "", "rope_scaling_factor": None,
    "rope_scaling_original_context": None, "rope_scaling_caveat": "",
}  # fmt: skip


def _parse_context_extension(
    f: _Fields, context_length: int, config: dict[str, Any], sources: dict[str, str]
) -> dict[str, Any]:
    """The native context and the rope scaling beyond it, for a model whose card documents a
    scaling that its released config.json leaves out; each with a URL that states it."""
    native = f.int("native_context_length", required=False)
    table = f.table("rope_scaling")
    if native is None and not table:
        return NO_CONTEXT_EXTENSION
    where = f.where
    if native is None or not table:
        raise CatalogError(
            f"{where}: field 'native_context_length' and table 'rope_scaling' go together"
        )
    if native >= context_length:
        raise CatalogError(
            f"{where}: field 'native_context_length' ({native}) must be less than "
            f"context_length ({context_length})"
        )
    for name in ("native_context_length", "rope_scaling"):
        if not URL_RE.match(sources.get(name, "")):
            raise CatalogError(
                f"{where}: field 'sources.{name}' must be the URL of the card that states it"
            )
    for cfg in (config, config.get("text_config") or {}):
        scaling = cfg.get("rope_scaling") or cfg.get("rope_parameters") or {}
        if scaling.get("rope_type", scaling.get("type", "default")) != "default":
            raise CatalogError(
                f"{where}: table 'rope_scaling' is for a scaling config.json leaves out; this "
                "config.json has one, which runtimes apply themselves"
            )
    r = _Fields(table, f"{where}: rope_scaling")
    factor = r.number("factor")
    original = r.int("original_context")
    assert factor is not None and original is not None  # required
    if factor <= 1 or factor * original < context_length:
        raise CatalogError(
            f"{r.where}: factor {factor:g} x original_context {original} must reach "
            f"context_length ({context_length})"
        )
    return {
        "native_context_length": native,
        "rope_scaling": r.choice("method", Model.RopeScaling.values),
        "rope_scaling_factor": factor,
        "rope_scaling_original_context": original,
        "rope_scaling_caveat": r.str("caveat", required=False, max_length=600),
    }


def _parse_score(data: Any, where: str) -> dict[str, Any]:
    """A published benchmark score with the URL that states it."""
    s = _Fields(data, where)
    value = s.number("value")
    return {
        "benchmark": s.str("benchmark", max_length=60),
        "setting": s.str("setting", required=False, max_length=80),
        "value": value,
        "unit": s.str("unit", required=False, max_length=10) or "%",
        "source": s.url("source", required=True),
        "source_kind": s.choice("kind", SCORE_KINDS) if "kind" in data else "card",
    }


THINKING = ("none", "always", "switchable")
CAPABILITIES = (
    "tool_calling",
    "thinking",
    "languages",
    "images_per_prompt",
    "image_tokens",
    "audio",
)


def _parse_capabilities(data: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """What the model can do, each fact with the public URL that states it (format:
    docs/catalog-data.md). A fact left out is unknown."""
    unknown = sorted(set(data) - set(CAPABILITIES))
    if unknown:
        raise CatalogError(f"{where}: unknown facts {unknown}; allowed: {list(CAPABILITIES)}")
    facts = {}
    for name, table in data.items():
        c = _Fields(table, f"{where}.{name}")
        value: Any
        if name == "tool_calling":
            value = c.bool("value")
        elif name == "thinking":
            value = c.choice("value", THINKING)
        elif name == "languages":
            value = c.str_list("value")
            count = c.int("count", required=False)
            if not value and count is None:
                raise c._fail("value", "must list languages, or 'count' must say how many")
            if count is not None and value and count < len(value):
                raise c._fail("count", f"is less than the {len(value)} languages listed")
            facts[name] = {"value": value, "count": count or len(value)}
        elif name == "images_per_prompt":
            value = c.int("value")
        else:  # image_tokens, audio: what the card says, in words
            value = c.str("value", max_length=300)
        facts.setdefault(name, {"value": value})
        facts[name] |= {
            "source": c.url("source", required=True),
            "note": c.str("note", required=False, max_length=600),
        }
    return facts


def parse_model(data: Any, where: str) -> ModelRecord:
    f = _Fields(data, where)
    hf_id = f.str("hf_id", max_length=200)
    if not HF_ID_RE.match(hf_id):
        raise CatalogError(f"{where}: field 'hf_id' must look like owner/name, got {hf_id!r}")
    f.where = where = f"{where} ({hf_id})"
    config = f.table("config", required=True)
    try:
        inventory = check_config(config)
    except ConfigError as exc:
        raise CatalogError(f"{where}: field 'config' {exc}") from None
    encoders = [
        _parse_encoder(enc, config, f"{where}: encoders[{i}]")
        for i, enc in enumerate(f.tables("encoders"))
    ]
    scores = [
        _parse_score(score, f"{where}: scores[{i}]") for i, score in enumerate(f.tables("scores"))
    ]
    params_language = inventory.params_total
    encoder_params = sum(e["params"] or 0 for e in encoders)
    params_total = params_language + encoder_params
    run = _Fields(f.table("run"), f"{where}: run")
    sources = _sources(f, "sources")
    if "config" not in sources:
        raise CatalogError(
            f"{where}: field 'sources.config' is missing (where config.json came from)"
        )
    context_length = f.int("context_length")
    assert context_length is not None  # required
    fields = {
        "hf_id": hf_id,
        "slug": model_slug(hf_id),
        "name": f.str("name", max_length=200),
        "family": f.slug("family"),
        "release_date": f.date("release_date"),
        "license": f.str("license", max_length=120),
        "license_url": f.url("license_url"),
        "commercial_use": f.bool("commercial_use"),
        "license_note": f.str("license_note", required=False),
        "context_length": context_length,
        "description": f.str("description", required=False, max_length=2000),
        "params_language": params_language,
        "params_total": params_total,
        "params_active": inventory.params_active + encoder_params,
        "params_complete": all(e["params"] is not None for e in encoders),
        "params_official": f.int("params_official", required=False),
        "params_official_source": f.str("params_official_source", required=False),
        "model_type": inventory.model_type,
        "architecture_exact": inventory.exact,
        "config": config,
        "sources": sources,
        "gguf_repo": run.str("gguf_repo", required=False, max_length=200),
        "gguf_file": run.str("gguf_file", required=False, max_length=200),
        "ollama_tag": run.str("ollama_tag", required=False, max_length=120),
        "mlx_repo": run.str("mlx_repo", required=False, max_length=200),
        "transformers_id": run.str("transformers_id", required=False, max_length=200),
        "capabilities": _parse_capabilities(f.table("capabilities"), f"{where}: capabilities"),
    }
    fields |= _parse_context_extension(f, context_length, config, sources)
    if fields["params_official"] is not None and not fields["params_official_source"]:
        raise CatalogError(f"{where}: field 'params_official_source' is missing")
    return ModelRecord(
        fields=fields,
        input_modalities=f.str_list("input_modalities", allowed=MODALITIES) or ["text"],
        output_modalities=f.str_list("output_modalities", allowed=MODALITIES) or ["text"],
        encoders=encoders,
        scores=scores,
    )


def parse_provider_file(path: Path) -> ProviderRecord:
    data = _read_toml(path)
    name = path.name
    top = _Fields(data, name)
    p = _Fields(top.table("provider", required=True), f"{name}: provider")
    provider = {
        "slug": p.slug("slug"),
        "name": p.str("name", max_length=120),
        "url": p.url("url"),
        "hf_org": p.str("hf_org", required=False, max_length=120),
        "description": p.str("description", required=False, max_length=2000),
    }
    families = []
    for i, fam in enumerate(top.tables("families")):
        ff = _Fields(fam, f"{name}: families[{i}]")
        families.append(
            {
                "slug": ff.slug("slug"),
                "name": ff.str("name", max_length=120),
                "description": ff.str("description", required=False, max_length=2000),
            }
        )
    models = [parse_model(m, f"{name}: models[{i}]") for i, m in enumerate(top.tables("models"))]
    return ProviderRecord(provider, families, models)


# A device's facts that need a source when given, beside memory and bandwidth (always given).
HARDWARE_SOURCED = ("fp16_tflops", "tdp_watts", "memory_channels", "runpod_names", "vast_names")


def _hardware_sources(h: _Fields, record: dict[str, Any]) -> dict[str, str]:
    """Each fact's source: one public URL (how the figure was read from it goes in the file's
    `provenance` table, which pages do not show); every fact given has one."""
    sources = _sources(h, "sources")
    for key, value in sources.items():
        if key not in Hardware.SOURCE_LABELS:
            allowed = ", ".join(Hardware.SOURCE_LABELS)
            raise CatalogError(f"{h.where}: field 'sources.{key}' is not one of {allowed}")
        if not URL_RE.match(value):
            raise CatalogError(f"{h.where}: field 'sources.{key}' must be one URL, got {value!r}")
    needed = ["memory", "bandwidth", *(k for k in HARDWARE_SOURCED if record[k])]
    missing = [k for k in needed if k not in sources]
    if missing:
        raise CatalogError(f"{h.where}: field 'sources' lacks {', '.join(missing)}")
    provenance = h.table("provenance")
    for key, value in provenance.items():
        if key not in sources or not isinstance(value, str):
            raise CatalogError(f"{h.where}: field 'provenance.{key}' explains no source")
    return sources


def parse_hardware_file(path: Path) -> list[dict[str, Any]]:
    data = _read_toml(path)
    top = _Fields(data, path.name)
    records = []
    for i, hw in enumerate(top.tables("hardware")):
        h = _Fields(hw, f"{path.name}: hardware[{i}]")
        h.where = f"{h.where} ({h.str('slug')})"
        options = hw.get("memory_options_bytes", [])
        if not isinstance(options, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in options
        ):
            raise CatalogError(f"{h.where}: field 'memory_options_bytes' must be positive integers")
        record = {
            "slug": h.slug("slug"),
            "name": h.str("name", max_length=120),
            "vendor": h.str("vendor", max_length=40),
            "kind": h.choice("kind", Hardware.Kind.values),
            "segment": h.choice("segment", Hardware.Segment.values),
            "architecture": h.str("architecture", required=False, max_length=60),
            "release_year": h.int("release_year", required=False, minimum=1990),
            "memory_bytes": h.int("memory_bytes"),
            "memory_options_bytes": options,
            "bandwidth_gbps": h.number("bandwidth_gbps"),
            "fp16_tflops": h.number("fp16_tflops", required=False),
            "tdp_watts": h.int("tdp_watts", required=False),
            "memory_type": h.str("memory_type", required=False, max_length=40),
            "memory_channels": h.int("memory_channels", required=False),
            "runpod_names": h.str_list("runpod_names"),
            "vast_names": h.str_list("vast_names"),
            "note": h.str("note", required=False),
        }
        record["sources"] = _hardware_sources(h, record)
        records.append(record)
    return records
