"""Fine-tune it: GPU memory per GPU for LoRA, QLoRA and full fine-tuning at the page's run
settings (rank, sequence length, micro-batch, checkpointing, optimizer) on the chosen GPUs
(estimator.finetune, FSDP over several), whether each fits, and the cheapest current rental
that fits the chosen method."""

from __future__ import annotations

from dataclasses import replace
from html import escape
from typing import TYPE_CHECKING, Any

from django.utils.safestring import mark_safe

from catalog.model_page.panels import DEVICE, Panel
from cloudprices.rentals import groups
from estimator import limits
from estimator.finetune import FinetuneMemory, finetune_fit, finetune_memory
from estimator.units import gib

if TYPE_CHECKING:
    from catalog.model_page.page import Page

CONTROLS = frozenset({"ft", "ft_rank", "ft_seq", "ft_batch", "ft_gc", "ft_opt"})
LABELS = {
    "lora": "LoRA (BF16 base)",
    "qlora": "QLoRA (4-bit NF4 base)",
    "full": "Full fine-tuning",
}
PARTS = ("weights", "adapter", "gradient", "optimizer", "activation")


def build(page: Page) -> dict[str, Any]:
    s = page.state
    rows = []
    for method in limits.FINETUNE:
        memory = finetune_memory(page.config, s.recipe(method))
        f = finetune_fit(memory, page.device)
        rows.append(
            {
                "method": method,
                "label": LABELS[method],
                "total": gib(memory.total_bytes),
                "parts": {p: gib(getattr(memory, f"{p}_bytes")) for p in PARTS},
                "status": f.status,
                "reason": f.reason,
                "chosen": method == s.ft,
                "query": escape(s.query(ft=method)),
            }
        )
    return {
        "rows": rows,
        "rows_html": mark_safe("".join(map(_row, rows))),
        "rental": cheapest_rental(page),
        "per_gpu": s.gpu_count > 1,
    }


def cheapest_rental(page: Page) -> dict[str, Any] | None:
    """The cheapest current offer (any provider, 1-8 GPUs, FSDP over them) whose every GPU
    holds the chosen method's run; None when no offer does."""
    s, snap = page.state, page.snap
    by_count: dict[int, FinetuneMemory] = {}
    best = None
    for g in groups(page.prices):
        hw = snap.by_pk.get(g.hardware_id)
        if hw is None or hw.slug not in snap.single:
            continue
        if best is not None and g.price_per_hour >= best[0]:
            continue
        if g.gpu_count not in by_count:
            recipe = replace(s.recipe(), n_gpus=g.gpu_count)
            by_count[g.gpu_count] = finetune_memory(page.config, recipe)
        f = finetune_fit(by_count[g.gpu_count], snap.single[hw.slug])
        if f.status == "fits":
            best = (g.price_per_hour, g, hw, f)
    if best is None:
        return None
    price, g, hw, f = best
    tag, age = g.offer.age()
    return {
        "gpus": g.gpu_count,
        "link": snap.links[hw.slug],
        "where": g.offer.where,
        "price": f"${price:.2f}",
        "reason": f.reason,
        "tag": tag,
        "age": age,
    }


def _row(r: dict[str, Any]) -> str:
    chosen = ' class="current" aria-current="true"' if r["chosen"] else ""
    parts = " · ".join(f"{name} {value}" for name, value in r["parts"].items())
    grade = {"fits": "A", "tight": "C", "no": "F"}.get(r["status"], "")
    status = f'<span class="grade g{grade}">{r["status"]}</span>' if grade else r["status"]
    return (
        f'<tr{chosen}><th scope="row"><a href="?{r["query"]}" hx-get="?{r["query"]}" '
        f'hx-target="#live" hx-swap="outerHTML" hx-push-url="true">{r["label"]}</a>'
        f'<br><small class="muted">{parts}</small></th>'
        f'<td class="num"><strong>{r["total"]}</strong></td>'
        f"<td>{status} {escape(r['reason'])}</td></tr>"
    )


PANEL = Panel("finetune", 45, DEVICE | CONTROLS, build)
