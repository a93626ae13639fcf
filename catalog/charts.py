"""Geometry of the site's SVG charts: scales that map values to a viewBox and the path data of
a series. Templates draw the elements (templates/catalog/charts/); this module only computes
where they go, as strings ready to place in attributes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """A linear map from [low, high] onto [start, end] (end < start for a y axis)."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.high - self.low or 1.0
        return self.start + (self.end - self.start) * (value - self.low) / span


def path(points: Sequence[tuple[float, float]]) -> str:
    """SVG path data through the points: M x,y L x,y ... (one decimal)."""
    return " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(points))
