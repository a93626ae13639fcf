"""The model page's live panels: one module and one template (templates/catalog/panels/) each.

A panel module defines `PANEL = Panel(...)`: its name (the section is `#panel-<name>` and the
template `catalog/panels/<name>.html`), its place on the page, the controls whose change
re-renders it (an HTMX request gets back only those panels), and `build(page)`, which returns
what its template shows. Every module in this package is a panel: adding a file adds a panel.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from catalog.model_page.page import Page

# Quant, context, KV type and flash attention change every panel; panels are for one user
# except the serving plan and what follows from it.
EVERY_CHANGE = frozenset({"quant", "ctx", "kv", "fa", "media"})
DEVICE = frozenset({"gpu", "gpu_count", "backend"})
SERVING = frozenset({"users", "runtime"})
# The machine around the GPU (catalog.machine_state): its memory changes every fit; a forced
# placement changes the chosen device's plan and the serving plan on it; -ub only the plan for
# one user (and what states it).
HOST = frozenset({"ram", "ram_type", "ram_gbps", "reserved", "wired"})
FORCED = frozenset({"ngl", "ncmoe"})
MACHINE = HOST | FORCED | frozenset({"ub"})


@dataclass(frozen=True)
class Panel:
    name: str
    order: int
    changed_by: frozenset[str]
    build: Callable[[Page], Mapping[str, Any]]

    @property
    def template(self) -> str:
        return f"catalog/panels/{self.name}.html"


def _discover() -> tuple[Panel, ...]:
    found = [
        importlib.import_module(f"{__name__}.{module.name}").PANEL
        for module in pkgutil.iter_modules(__path__)
    ]
    return tuple(sorted(found, key=lambda p: p.order))


PANELS = _discover()
BY_NAME = {p.name: p for p in PANELS}
NAMES = tuple(BY_NAME)
CONTROLS = frozenset().union(*(p.changed_by for p in PANELS))


def changed_by(control: str) -> tuple[str, ...]:
    """The panels a control can change, in page order."""
    return tuple(p.name for p in PANELS if control in p.changed_by)
