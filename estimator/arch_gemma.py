"""Architectures read exactly as current llama.cpp reads them (see estimator/inventory.py)."""

from __future__ import annotations

from collections.abc import Callable

from estimator.config import Config
from estimator.inventory import Inventory

BUILDERS: dict[str, Callable[[Config, str], Inventory]] = {}
