"""What a model can do, from sourced facts only: the catalog's capabilities (tool calling,
thinking, languages, image and audio specifics: docs/catalog-data.md) and, for coding and
maths, its published scores against those of models of similar size.

A score is compared only with scores of the same benchmark, the same setting as printed, and
the same unit; where the setting is not printed, only with scores from the same source page
(one evaluation). "Similar size" is half to twice the total parameters. Nothing is inferred
from a model's name: a fact without a source is unknown."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass

from catalog.models import Model, Score
from catalog.snapshot import Snapshot
from estimator.units import params

CODING = ("humaneval", "humaneval+", "mbpp", "mbpp+", "livecodebench", "multipl-e",
          "swe-bench verified", "aider-polyglot", "bigcodebench", "evalplus")  # fmt: skip
MATHS = ("math", "math-500", "gsm8k", "aime 2024", "aime 2025", "aime24", "aime25")
DOMAINS = {"coding": CODING, "maths": MATHS}
SIMILAR = 2.0  # similar size: within this factor of the total parameters


@dataclass(frozen=True)
class Entry:
    pk: int
    name: str
    params_total: int
    benchmark: str
    setting: str
    value: float
    unit: str
    source: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What makes two scores comparable (the source only when the setting is unstated)."""
        setting = self.setting.strip().lower()
        return (_norm(self.benchmark), setting, self.unit, "" if setting else self.source)


@dataclass(frozen=True)
class Standing:
    """A model's score against models of similar size on one benchmark and setting."""

    entry: Entry
    rank: int  # 1 = best among them
    of: int  # models with a comparable score, this one included
    median: float  # of the others
    low: int  # the size range compared, parameters
    high: int

    @property
    def verdict(self) -> str:
        if self.rank <= max(1, self.of // 3):
            return "strong"
        if self.rank > self.of - max(1, self.of // 3):
            return "weak"
        return "middling"

    @property
    def text(self) -> str:
        e = self.entry
        setting = f" ({e.setting})" if e.setting else ""
        return (
            f"{e.benchmark}{setting}: {e.value:g}{_unit(e.unit)}, {_ordinal(self.rank)} of "
            f"{self.of} models of {params(self.low)} to {params(self.high)} with a published score "
            f"in the same setting (median of the others {self.median:g}{_unit(e.unit)}; source "
            f"{e.source})"
        )


def _norm(benchmark: str) -> str:
    return " ".join(benchmark.lower().replace("_", " ").split())


def _unit(unit: str) -> str:
    return "%" if unit == "%" else f" {unit}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def entries(snap: Snapshot) -> dict[tuple[str, str, str, str], list[Entry]]:
    """Every published score by what makes it comparable, read once per catalog revision."""

    def read() -> dict[tuple[str, str, str, str], list[Entry]]:
        models = {pk: (name, size) for pk, name, size in
                  Model.objects.values_list("pk", "name", "params_total")}  # fmt: skip
        out: dict[tuple[str, str, str, str], list[Entry]] = defaultdict(list)
        for pk, bench, setting, value, unit, source in Score.objects.values_list(
            "model", "benchmark", "setting", "value", "unit", "source"
        ):
            e = Entry(pk, *models[pk], bench, setting, value, unit, source)
            out[e.key].append(e)
        return dict(out)

    return snap.remember("capabilities-scores", read)


def standing(snap: Snapshot, model: Model, domain: str) -> Standing | None:
    """The model's best-evidenced standing in `domain` (coding, maths): on the benchmark where
    the most models of similar size publish a comparable score; None with fewer than three
    (the model and two others)."""
    low, high = int(model.params_total / SIMILAR), int(model.params_total * SIMILAR)
    best = None
    for key, group in entries(snap).items():
        if key[0] not in DOMAINS[domain]:
            continue
        mine = [e for e in group if e.pk == model.pk]
        peers = {e.pk: e for e in group if e.pk != model.pk and low <= e.params_total <= high}
        if not mine or len(peers) < 2:
            continue
        me = mine[0]
        others = sorted(e.value for e in peers.values())
        rank = 1 + sum(v > me.value for v in others)
        s = Standing(me, rank, len(others) + 1, statistics.median(others), low, high)
        if best is None or s.of > best.of:
            best = s
    return best


def by_model(snap: Snapshot) -> dict[int, dict[tuple[str, str, str, str], Entry]]:
    """Each model's scores by what makes them comparable, once per catalog revision."""

    def index() -> dict[int, dict[tuple[str, str, str, str], Entry]]:
        out: dict[int, dict[tuple[str, str, str, str], Entry]] = defaultdict(dict)
        for key, group in entries(snap).items():
            for e in group:
                out[e.pk].setdefault(key, e)
        return dict(out)

    return snap.remember("capabilities-by-model", index)


def versus(snap: Snapshot, model: Model, other_pk: int) -> list[tuple[Entry, Entry]]:
    """Scores both models publish in the same benchmark, setting and unit."""
    index = by_model(snap)
    mine, theirs = index.get(model.pk, {}), index.get(other_pk, {})
    pairs = [(mine[k], theirs[k]) for k in mine.keys() & theirs.keys()]
    return sorted(pairs, key=lambda p: (p[0].benchmark.lower(), p[0].setting))


THINKING = {
    "always": "Yes: it always reasons before answering (a thinking model)",
    "switchable": "Yes, switchable: thinking can be turned on and off",
    "none": "No: it answers without a thinking phase",
}


def fact(model: Model, name: str) -> dict[str, object] | None:
    found = model.capabilities.get(name)
    return found if isinstance(found, dict) else None


def languages_text(model: Model) -> str | None:
    f = fact(model, "languages")
    if f is None:
        return None
    names = list(f["value"])  # type: ignore[call-overload]
    count = int(f.get("count") or len(names))  # type: ignore[call-overload]
    if not names:
        return f"{count} languages"
    listed = ", ".join(names)
    more = f" ({count} in all)" if count > len(names) else ""
    return f"{listed}{more}"
