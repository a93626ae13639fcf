"""What the plan on the user's machine costs a context-slider fragment (make bench): the update
part of the model page rendered in-process for contexts never seen before, with and without the
plan panel, in CPU time (time.process_time: other processes on the machine do not count).

Two cases: a model that fits whole on the default GPU (the plan is llama.cpp's "no changes
needed"), and gpt-oss-120b on an RTX 4090, which does not: every plan runs llama.cpp's --fit with
the experts in system RAM, the panel adds the prompt speed at -ub 4096 (a --fit of its own) and
the command checks its --n-cpu-moe by planning it. The plan for one user is the devices panel's
for this device (estimator.plan keeps it), so the panel adds only what is its own. Prints
figures; asserts nothing about time (target: the plan adds at most 1 ms to a fragment).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest

from catalog.model_page import panels
from catalog.model_page.page import LiveParts
from catalog.model_page.state import read_state
from catalog.snapshot import snapshot

CASES = {
    "llama-3.1-8B, fits whole on the RTX 4090": ("llama-3-1-8b-instruct", {}),
    "gpt-oss-120b MXFP4_MOE on the RTX 4090 + 64 GiB": ("gpt-oss-120b", {"quant": "MXFP4_MOE"}),
}
REPEAT = 60


def cpu_ms(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return (time.process_time() - start) * 1000


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES)
def test_bench_what_the_plan_adds_to_a_slider_fragment(case: str) -> None:
    slug, extra = CASES[case]
    snap, prices = snapshot()
    brief = snap.models[slug]
    snap.model(brief.pk)  # read once per revision, as a worker does
    every = panels.changed_by("ctx")
    without = tuple(name for name in every if name != "plan")

    def fragment(ctx: int, names: tuple[str, ...]) -> float:
        state = read_state({"ctx": str(ctx), **extra}, brief, list(snap.by_slug))
        live = LiveParts(snap, prices, brief, state)
        # Rendered, not read from or stored in the cache: the work of a state never seen.
        return cpu_ms(lambda: live._render("update", names))

    fragment(20001, every)  # warm: templates, the model's inventory and weights
    with_plan, without_plan, added, run = [], [], [], []
    for i in range(REPEAT):  # interleaved, every context new to each
        a, b = fragment(30001 + 6 * i, every), fragment(30003 + 6 * i, without)
        with_plan.append(a)
        without_plan.append(b)
        added.append(a - b)
        # The command alone: it carries the plan and checks a --n-cpu-moe equivalent by planning.
        run.append(fragment(30005 + 6 * i, ("run",)))
    print(
        f"\n{case}: slider fragment {statistics.median(with_plan):.2f} ms with the plan panel, "
        f"{statistics.median(without_plan):.2f} ms without: the panel adds "
        f"{statistics.median(added):+.2f} ms (median of {REPEAT} pairs, contexts never seen, CPU "
        f"time); the run panel alone, which plans the command, {statistics.median(run):.2f} ms"
    )
