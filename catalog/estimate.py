"""Estimating a model that is not in the catalog: a pasted config.json, or one read from the
Hub, kept under a digest so its page can be shared, and turned into an unsaved model for the
same live panels as a catalog model's page."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from catalog.models import EstimateConfig, EstimatedModel
from config import safejson
from estimator.config import Config, ConfigError, text_config
from estimator.inventory import Inventory
from estimator.limits import MAX_CONFIG_CHARS, check_config
from estimator.memory import MemoryOptions, estimate_memory

DEFAULT_CONTEXT = 4096  # when a config names no maximum context


class BadConfig(ValueError):
    """The config cannot be estimated; the message says why."""


def parse(text: str) -> dict[str, Any]:
    """A config.json from pasted text, or BadConfig naming what is wrong."""
    if len(text) > MAX_CONFIG_CHARS:
        raise BadConfig(f"The config is over {MAX_CONFIG_CHARS:,} characters; is it a config.json?")
    try:
        config = safejson.loads(text, max_bytes=MAX_CONFIG_CHARS)
    except safejson.JsonError as exc:
        raise BadConfig(str(exc)) from exc
    if not isinstance(config, dict):
        raise BadConfig("A config.json is a JSON object ({...}); this is not.")
    check(config)
    return config


def check(config: dict[str, Any]) -> Inventory:
    """The config's tensor inventory, or BadConfig unless the estimator can estimate it cheaply
    (estimator.limits: one check for every way a config gets in)."""
    try:
        inventory = check_config(config)
        context = Config(text_config(config)).get_int(
            "max_position_embeddings", default=DEFAULT_CONTEXT
        )
        estimate_memory(config, MemoryOptions(n_ctx=min(context, DEFAULT_CONTEXT)))
    except (ConfigError, ArithmeticError, ValueError, TypeError, KeyError) as exc:
        raise BadConfig(f"We cannot estimate this config: {exc}") from exc
    return inventory


def store(config: dict[str, Any], name: str, repo_id: str = "") -> EstimateConfig:
    """The stored config (the same config under the same name always gets the same key)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
    text = f"{repo_id}\n{name}\n{canonical}"
    key = hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
    stored, _ = EstimateConfig.objects.get_or_create(
        key=key, defaults={"name": name[:200], "repo_id": repo_id, "config": config}
    )
    return stored


def model(stored: EstimateConfig) -> EstimatedModel:
    """An unsaved model with what the config says; everything else unknown. BadConfig when the
    stored config no longer passes today's checks (it was stored under older rules)."""
    inv = check(stored.config)
    try:
        context = Config(text_config(stored.config)).get_int("max_position_embeddings")
    except ConfigError:
        context = DEFAULT_CONTEXT
    return EstimatedModel(
        slug=stored.key,
        hf_id=stored.repo_id,
        name=stored.name,
        license="unknown (not in our catalog)",
        commercial_use=False,
        context_length=context,
        params_language=inv.params_total,
        params_total=inv.params_total,
        params_active=inv.params_active,
        params_complete=True,
        model_type=inv.model_type,
        architecture_exact=inv.exact,
        config=stored.config,
        sources={"config": f"https://huggingface.co/{stored.repo_id}/blob/main/config.json"}
        if stored.repo_id
        else {},
        transformers_id=stored.repo_id,
    )
