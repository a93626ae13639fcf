"""Questions people ask, answered from the numbers the other panels show (never computed
separately), with schema.org FAQPage data for search engines. The items' markup is written
here (measured hot path, as the other panels' rows)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from django.utils.safestring import mark_safe

from catalog import capabilities
from catalog.model_page.panels import DEVICE, EVERY_CHANGE, MACHINE, Panel
from estimator import quality
from estimator.units import gib, params, tokens, tps

if TYPE_CHECKING:
    from catalog.model_page.page import Page


def build(page: Page) -> dict[str, Any]:
    items = answers(page)
    return {
        "items": items,
        "html": mark_safe("".join(f"<dt>{escape(q)}</dt><dd>{escape(a)}</dd>" for q, a in items)),
        "jsonld": mark_safe(jsonld(items)),
    }


def answers(page: Page) -> list[tuple[str, str]]:
    model, state, est = page.model, page.state, page.est
    quants: Sequence[Mapping[str, Any]] = page.data("quants")["rows"]
    rows = {g["label"]: g["rows"] for g in page.data("devices")["groups"]}
    at = f"At {state.quant} with a {tokens(state.ctx)} context"
    items = [(
        f"How much memory does {model.name} need?",
        f"{at}: {gib(est.total_bytes)} in all — {gib(est.weights_bytes)} of weights, "
        f"{gib(est.kv.bytes)} of KV cache and "
        f"{gib(est.compute_buffer_bytes + est.output_buffer_bytes)} of buffers (llama.cpp).",
    )]  # fmt: skip
    items.append(on_your_machine(page))
    items.append((f"Which quantization should I use on {page.device_label}?", page.advice.text))
    consumer = [r for r in rows.get("Consumer GPUs", []) if r["grade"] in "ABC"]
    if consumer:
        smallest = min(consumer, key=lambda r: (r["memory_bytes"], -(r["tps_value"] or 0)))
        fastest = max(consumer, key=lambda r: r["tps_value"] or 0)
        answer = (
            f"{at}, the smallest consumer GPU in our catalog that runs it well is the "
            f"{smallest['name']} (grade {smallest['grade']}, {smallest['tps']} t/s); the "
            f"fastest is the {fastest['name']} ({fastest['tps']} t/s)."
        )
    else:
        answer = f"{at}, no consumer GPU in our catalog runs it with a grade of C or better."
    items.append((f"Which GPU do I need for {model.name}?", answer))
    apple = rows.get("Apple silicon", [])
    good = [r for r in apple if r["grade"] in "ABC"]
    if apple:
        answer = (
            f"Yes: it runs on {len(good)} of {len(apple)} Apple chips in our catalog at these "
            f"settings, e.g. {good[0]['name']} at about {good[0]['tps']} t/s."
            if good
            else "Not at these settings: no Apple chip in our catalog fits it with headroom."
        )
        items.append((f"Can I run {model.name} on a Mac?", answer))
    cpus = rows.get("CPUs", [])
    if cpus:
        ok = [r for r in cpus if r["status"] in ("fits", "tight")]
        ram = f"{state.computer.ram} GiB of RAM"  # a CPU entry runs in the user's RAM
        answer = (
            f"It fits in {ram} ({gib(est.total_bytes)}), but decode is bound by RAM "
            f"bandwidth: {', '.join(f'{r["name"]}: {r["tps"]} t/s' for r in ok)}."
            if ok
            else f"Not with {ram}: it needs {gib(est.total_bytes)}."
        )
        items.append((f"Can I run {model.name} on a CPU?", answer))
    items.append((f"Does {model.name} run on a phone?", phone(quants, state.ctx)))
    items.append((f"What is the context length of {model.name}?", context_length(page)))
    if page.model.pk is not None:  # the same whatever the state: once per catalog revision
        items += page.snap.remember(("faq-capabilities", page.model.pk),
                                    lambda: capability_answers(page))  # fmt: skip
    if not model.in_catalog:
        licence = "We do not know: it is not in our catalog. Read its licence before any use."
    else:
        licence = f"{'Yes' if model.commercial_use else 'No'}: {model.license}." + (
            f" {model.license_note}" if model.license_note else ""
        )
    items.append((f"Can {model.name} be used commercially?", licence))
    items.append((
        f"How many parameters does {model.name} have?",
        f"{params(model.params_total)} in total"
        + (f", {params(model.params_active)} active per token" if model.is_moe else "") + ".",
    ))  # fmt: skip
    return items


def capability_answers(page: Page) -> list[tuple[str, str]]:
    """Function calling, thinking, languages, coding, maths and a similar model: from sourced
    facts and published scores only (catalog.capabilities), else "unknown"."""
    model, name = page.model, page.model.name
    unknown = "Unknown: none of our sources states it."
    items = []
    tools = capabilities.fact(model, "tool_calling")
    items.append((
        f"Does {name} support function calling (tool use)?",
        unknown if tools is None else
        ("Yes" if tools["value"] else "No") + f", per {tools['source']}"
        + (f" ({tools['note']})." if tools.get("note") else "."),
    ))  # fmt: skip
    thinking = capabilities.fact(model, "thinking")
    items.append((
        f"Does {name} have a thinking (reasoning) mode?",
        unknown if thinking is None else
        f"{capabilities.THINKING[str(thinking['value'])]}, per {thinking['source']}.",
    ))  # fmt: skip
    languages = capabilities.languages_text(model)
    source = (capabilities.fact(model, "languages") or {}).get("source")
    items.append((
        f"Which languages does {name} support?",
        unknown if languages is None else f"{languages}, per {source}.",
    ))  # fmt: skip
    for domain, question in (("coding", "good for coding"), ("maths", "good at maths")):
        s = capabilities.standing(page.snap, model, domain)
        items.append((
            f"Is {name} {question}?",
            "Unknown: no published score of it and of two or more models of similar size in "
            "the same benchmark and setting."
            if s is None else
            f"For its size, {s.verdict}: {s.text}.",
        ))  # fmt: skip
    items += versus_answer(page)
    return items


def versus_answer(page: Page) -> list[tuple[str, str]]:
    """The similar model (of the similar panel's, which are the same in every state) sharing
    the most comparable scores with it."""
    model = page.model
    others = [r["model"] for r in page.data("similar")["rows"] if not r["current"]]
    best = max(
        ((o, capabilities.versus(page.snap, model, o.pk)) for o in others if o.pk),
        key=lambda pair: len(pair[1]), default=None,
    )  # fmt: skip
    if best is None or not best[1]:
        return []
    other, pairs = best
    shown = "; ".join(
        f"{a.benchmark}{f' ({a.setting})' if a.setting else ''} {a.value:g} vs {b.value:g}"
        for a, b in pairs[:5]
    )
    ahead = sum(a.value > b.value for a, b in pairs)
    return [(
        f"How does {model.name} compare with {other.name}?",
        f"On the {len(pairs)} benchmark{'s' * (len(pairs) != 1)} both publish in the same "
        f"setting, {model.name} scores higher on {ahead}: {shown} (higher is better; sources "
        "on the models' pages).",
    )]  # fmt: skip


def phone(quants: Sequence[Mapping[str, Any]], ctx: int) -> str:
    """The smallest total at a quant above the quality cliff (estimator.quality): a smaller
    file is not worth running."""
    sane = [q for q in quants if q["bpw"] >= quality.CLIFF_BPW]
    smallest = min(sane or quants, key=lambda q: q["total_bytes"])
    return (
        f"Only if the phone can give it {smallest['total']}: that is the smallest total worth "
        f"running, {smallest['quant']} at a {tokens(ctx)} context"
        + (f" ({smallest['quality']['ppl']} perplexity)" if smallest["quality"] else "")
        + f". Below {quality.CLIFF_BPW:g} bits per weight quality falls off a cliff. We do not "
        "list phones, so we do not grade them."
    )


def context_length(page: Page) -> str:
    """The maximum context, and for a model that reaches it by rope scaling its released
    config.json leaves out, the native context and what going beyond it takes."""
    model, ctx = page.model, page.state.ctx
    maximum = f"{tokens(model.context_length)} tokens ({model.context_length:,})"
    native = model.native_context_length
    if native is None:
        return f"{maximum}."
    method = model.get_rope_scaling_display()
    return (
        f"{maximum} with {method} rope scaling (factor {model.rope_scaling_factor:g}), which "
        f"its released config.json leaves out; natively {tokens(native)} ({native:,}). Beyond "
        f"{native:,} tokens llama.cpp and vLLM need {method} switched on"
        + (
            f", as the commands for this {tokens(ctx)} context do."
            if page.beyond_native
            else f"; up to it (this {tokens(ctx)} context) nothing is needed."
        )
    )


def on_your_machine(page: Page) -> tuple[str, str]:
    """Whether it runs and how fast on the chosen device in the user's machine: the plan
    panel's grade and reason (llama.cpp's placement, experts or layers in RAM)."""
    s, f, m = page.state, page.plan_fit, page.machine
    where = page.device_label
    if not m.unified:  # an Apple chip or a unified-memory PC is its own RAM
        where += f" with {s.computer.ram} GiB of RAM"
    at = f"at {s.quant} with a {tokens(s.ctx)} context"
    forced = " (with the placement you forced)" if page.plan.forced else ""
    if f.status == "no":
        answer = f"No, not {at}{forced}: it {f.reason}."
    else:
        answer = f"Yes, {at}{forced}: {f.reason}."
        if page.plan.prefill_tokens_per_s:
            answer += (
                f" Prompts run at about {tps(page.plan.prefill_tokens_per_s)} tokens/s "
                f"(-ub {s.computer.ub})."
            )
    return f"Can I run {page.model.name} on {where}?", answer


def jsonld(items: Sequence[tuple[str, str]]) -> str:
    """schema.org FAQPage as JSON safe to embed in a <script type="application/ld+json">."""
    data = {
        "@context": "https://schema.org",
        "@type": "FAQPage",
        "mainEntity": [
            {"@type": "Question", "name": q, "acceptedAnswer": {"@type": "Answer", "text": a}}
            for q, a in items
        ],
    }
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


PANEL = Panel("faq", 70, EVERY_CHANGE | DEVICE | MACHINE, build)
