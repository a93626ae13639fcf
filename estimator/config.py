"""Typed access to a Hugging Face config.json, text model first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A config.json lacks a field the architecture needs, or has a bad value."""


# Multimodal wrappers keep the language model under one of these keys.
TEXT_CONFIG_KEYS = ("text_config", "llm_config", "language_config")


def text_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Return the language model's config: the nested text config merged over the top level."""
    for key in TEXT_CONFIG_KEYS:
        nested = raw.get(key)
        if isinstance(nested, Mapping):
            merged = {k: v for k, v in raw.items() if k not in TEXT_CONFIG_KEYS}
            merged.update(nested)
            # The wrapper's model_type names the wrapper (e.g. gemma3); the text one wins.
            merged["model_type"] = nested.get("model_type", raw.get("model_type"))
            return merged
    return dict(raw)


@dataclass(frozen=True)
class Config:
    """A config dict with typed getters that accept the field's historical aliases."""

    data: Mapping[str, Any]

    def has(self, *names: str) -> bool:
        return any(self.data.get(name) is not None for name in names)

    def get_int(self, *names: str, default: int | None = None) -> int:
        for name in names:
            value = self.data.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} must be an integer, got {value!r}")
            if value < 0:
                raise ConfigError(f"{name} must not be negative, got {value}")
            return value
        if default is None:
            raise ConfigError(f"config.json has no {' / '.join(names)}")
        return default

    def get_float(self, *names: str, default: float) -> float:
        for name in names:
            value = self.data.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name} must be a number, got {value!r}")
            return float(value)
        return default

    def get_bool(self, *names: str, default: bool) -> bool:
        for name in names:
            value = self.data.get(name)
            if value is None:
                continue
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be true or false, got {value!r}")
            return value
        return default

    def get_str(self, *names: str, default: str = "") -> str:
        for name in names:
            value = self.data.get(name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise ConfigError(f"{name} must be a string, got {value!r}")
            return value
        return default

    def widest_int(self, *names: str, default: int | None = None) -> int:
        """An integer field that some configs give per layer (Gemma 3n's intermediate_size):
        the value, or the largest of the list."""
        for name in names:
            if isinstance(self.data.get(name), Sequence) and not isinstance(
                self.data.get(name), (str, bytes)
            ):
                values = self.int_list(name) or []
                if not values or min(values) < 0:
                    raise ConfigError(f"{name} must list non-negative integers")
                return max(values)
        return self.get_int(*names, default=default)

    def int_list(self, name: str) -> list[int] | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
            raise ConfigError(f"{name} must be a list, got {value!r}")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{name} must be a list of integers")
        return list(value)

    def str_list(self, name: str) -> list[str] | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
            raise ConfigError(f"{name} must be a list, got {value!r}")
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{name} must be a list of strings")
        return list(value)
