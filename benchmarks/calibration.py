"""Community runs refine the estimator's decode speed per device class and engine.

For every published result with a catalog device, a known quant and a generation speed, the
ratio measured / estimated (our estimate when it was submitted, before any calibration) is
kept. A (device class, engine) group with at least MIN_RUNS results from MIN_SUBMITTERS
different networks (IPv4 /24, IPv6 /64) gets a factor: the median
ratio (one wild result cannot move a median), clamped to CLAMP so a flood of bad data cannot
turn the estimate on its head. Decode estimates for that group are multiplied by the factor
(estimator.throughput.Device.calibration) and pages say how many runs it rests on.
"""

from __future__ import annotations

import hashlib
import statistics
from dataclasses import dataclass

from benchmarks.models import ENGINES, Submission
from estimator.devices import device_class

MIN_RUNS = 5
MIN_SUBMITTERS = 3  # distinct (hashed) /24 or /64 networks
CLAMP = (0.5, 1.5)
CLASS_LABELS = {
    "nvidia": "NVIDIA GPUs",
    "amd": "AMD GPUs",
    "intel": "Intel GPUs",
    "apple": "Apple silicon",
    "cpu": "CPUs",
}


@dataclass(frozen=True)
class Factor:
    value: float
    runs: int


@dataclass(frozen=True)
class Calibration:
    token: str  # the benchmarks revision it was computed for
    factors: dict[tuple[str, str], Factor]  # (device class, engine) -> factor

    @property
    def digest(self) -> str:
        """Changes only when a factor does: pages cached under it stay valid otherwise."""
        text = repr(sorted((k, round(f.value, 4), f.runs) for k, f in self.factors.items()))
        return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()

    def factor(self, cls: str, engine: str = "llama.cpp") -> Factor | None:
        return self.factors.get((cls, engine))

    def by_class(self, engine: str) -> dict[str, float]:
        return {cls: f.value for (cls, e), f in self.factors.items() if e == engine}

    def value(self, cls: str, engine: str = "llama.cpp") -> float:
        f = self.factors.get((cls, engine))
        return f.value if f else 1.0


def compute(token: str) -> Calibration:
    """The factors from the published results (one query)."""
    rows = (
        Submission.objects.published()
        .filter(
            hardware__isnull=False,
            gen_tokens_per_s__isnull=False,
            estimate_gen_tokens_per_s__isnull=False,
        )
        .values_list(
            "hardware__vendor",
            "hardware__kind",
            "runtime",
            "gen_tokens_per_s",
            "estimate_gen_tokens_per_s",
            "ip_hash",
        )
    )
    ratios: dict[tuple[str, str], list[float]] = {}
    people: dict[tuple[str, str], set[str]] = {}
    for vendor, kind, runtime, measured, estimated, ip in rows:
        engine = ENGINES.get(runtime)
        if engine and estimated > 0:
            key = (device_class(vendor, kind), engine)
            ratios.setdefault(key, []).append(measured / estimated)
            people.setdefault(key, set()).add(ip)
    factors = {
        key: Factor(min(max(statistics.median(values), CLAMP[0]), CLAMP[1]), len(values))
        for key, values in ratios.items()
        if len(values) >= MIN_RUNS and len(people[key]) >= MIN_SUBMITTERS
    }
    return Calibration(token, factors)


def note(calib: Calibration, engine: str) -> str:
    """Which decode speeds community runs calibrate for `engine`, by how much, on how many."""
    parts = [
        f"{CLASS_LABELS.get(cls, cls)} x{f.value:.2f} (median of {f.runs} runs)"
        for (cls, e), f in sorted(calib.factors.items())
        if e == engine
    ]
    if not parts:
        return ""
    return f"Decode speeds calibrated by community {engine} results: {'; '.join(parts)}."


_current: Calibration | None = None


def current(token: str) -> Calibration:
    """This process's calibration for the benchmarks revision `token`."""
    global _current
    if _current is None or _current.token != token:
        _current = compute(token)
    return _current
