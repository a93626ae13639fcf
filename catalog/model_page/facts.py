"""What a model page shows whatever the state: specifications with their sources, the
published GGUF files beside our estimate, where the parameters are, and the config.json.
Rendered once per catalog revision."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from catalog import capabilities, parts
from catalog.models import Model
from catalog.snapshot import Brief, Snapshot
from estimator.memory import MemoryOptions, estimate_memory, inventory
from estimator.quant import FILE_TYPES

TEMPLATE = "catalog/model_detail.html"


def facts(snap: Snapshot, brief: Brief) -> tuple[SafeString, SafeString]:
    """The parts above the live panels ("facts") and below them ("facts-more"); the model and
    its relations are read once for both."""
    model: list[Model] = []

    def render(part: str) -> str:
        if not model:
            model.append(
                Model.objects.select_related("provider", "family")
                .prefetch_related("input_modalities", "output_modalities", "encoders__modality")
                .get(pk=brief.pk)
            )
        return _render(model[0], part, snap)

    return (
        parts.cached(parts.key("model-facts", snap.revision, brief.slug, "facts"),
                     lambda: render("facts")),
        parts.cached(parts.key("model-facts", snap.revision, brief.slug, "facts-more"),
                     lambda: render("facts-more")),
    )  # fmt: skip


def _render(model: Model, part: str, snap: Snapshot) -> str:
    return render_to_string(
        f"{TEMPLATE}#{part}",
        {
            "model": model,
            "capabilities": capability_rows(model, snap) if part == "facts" else [],
            "published": published_gguf(model),
            **breakdown(model),
            "nested_configs": [
                (k, v) for k, v in sorted(model.config.items()) if isinstance(v, dict)
            ],
            "siblings": model.family.models.exclude(pk=model.pk).select_related("provider")[:12],
        },
    )


def capability_rows(model: Model, snap: Snapshot) -> list[tuple[str, str, str]]:
    """(what, the sourced fact or "unknown", its source) for the capabilities table."""
    rows = []
    tools = capabilities.fact(model, "tool_calling")
    rows.append((
        "Function calling (tools)",
        "unknown" if tools is None else ("yes" if tools["value"] else "no")
        + (f" — {tools['note']}" if tools.get("note") else ""),
        str(tools["source"]) if tools else "",
    ))  # fmt: skip
    thinking = capabilities.fact(model, "thinking")
    rows.append((
        "Thinking (reasoning) mode",
        "unknown" if thinking is None else {"always": "always on", "switchable": "switchable",
                                             "none": "none"}[str(thinking["value"])]
        + (f" — {thinking['note']}" if thinking.get("note") else ""),
        str(thinking["source"]) if thinking else "",
    ))  # fmt: skip
    languages = capabilities.languages_text(model)
    source = capabilities.fact(model, "languages")
    rows.append(("Languages", languages or "unknown", str(source["source"]) if source else ""))
    for name, label in (("images_per_prompt", "Images per prompt"),
                        ("image_tokens", "Tokens per image"), ("audio", "Audio")):  # fmt: skip
        f = capabilities.fact(model, name)
        if f is not None:
            rows.append((label, str(f["value"]), str(f["source"])))
    for domain, label in (("coding", "Coding, for its size"), ("maths", "Maths, for its size")):
        st = capabilities.standing(snap, model, domain)
        rows.append((
            label,
            "unknown (too few comparable published scores)" if st is None
            else f"{st.verdict}: {st.text.rsplit('; source', 1)[0]})",
            st.entry.source if st else "",
        ))  # fmt: skip
    return rows


def breakdown(model: Model) -> dict[str, Any]:
    """The tensor inventory, parameters per part and the config's plain fields of a model."""
    tensors = inventory(model.estimator_config)
    groups: dict[str, int] = {}
    for tensor in tensors.tensors:
        group = tensor_group(tensor.name)
        groups[group] = groups.get(group, 0) + tensor.n_elements
    return {
        "inventory": tensors,
        "param_groups": sorted(groups.items(), key=lambda kv: -kv[1]),
        "config_rows": sorted(
            (k, v) for k, v in model.config.items() if not isinstance(v, (dict, list))
        ),
    }


def published_gguf(model: Model) -> list[dict[str, object]]:
    """The GGUF files quantizers published (catalog/hub.py), each beside our estimate."""
    rows = []
    for g in model.published_gguf:
        if g.get("quant") not in FILE_TYPES:
            continue
        ours = estimate_memory(model.estimator_config, MemoryOptions(file_type=g["quant"]))
        diff = 100 * (ours.file_bytes / g["size"] - 1)
        rows.append(g | {"estimate": ours.file_bytes, "diff": f"{diff:+.1f} %"})
    return rows


def tensor_group(name: str) -> str:
    """Group a GGUF tensor name for the parameter breakdown."""
    part = name.split(".")[2] if name.startswith("blk.") else name.split(".")[0]
    if part in {"token_embd"}:
        return "Token embeddings"
    if part == "output":
        return "Output head"
    if part.endswith("_exps") or part == "exp_probs_b":
        return "Routed experts"
    if part.endswith("_shexp") or part == "ffn_gate_inp_shexp":
        return "Shared experts"
    if part == "ffn_gate_inp":
        return "Expert routers"
    if "norm" in part:
        return "Norms"
    if part.startswith("ssm_"):
        return "Linear attention / state space"
    if part.startswith("attn_"):
        return "Attention"
    return "Feed-forward"
