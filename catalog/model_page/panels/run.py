"""How to run it with the current state and the catalog's real repo ids, for every runtime
(llama.cpp, LM Studio, Ollama, vLLM, Transformers, MLX), or why a runtime cannot. The llama.cpp
command places the model as the plan on the user's machine does (-ngl, --n-cpu-moe or
llama.cpp's own tensor overrides, -ts), with -ub and the KV cache type.

The commands' markup is written here rather than in the template (measured hot path: ~0.1 ms
more through the template engine in every slider response, docs/model-page.md)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from django.utils.safestring import mark_safe

from catalog.machine_state import DEFAULT_UBATCH
from catalog.model_page.panels import DEVICE, EVERY_CHANGE, MACHINE, SERVING, Panel
from catalog.models import Model
from estimator.estimate import VLLM_GPU_MEMORY_UTILIZATION
from estimator.machine import FIT_MARGIN
from estimator.memory import MemoryOptions, config_key
from estimator.placement import CPU, Fraction
from estimator.plan import Plan, make_plan
from estimator.plan import model as plan_model
from estimator.units import gib, tokens

if TYPE_CHECKING:
    from catalog.model_page.page import Page


@dataclass(frozen=True)
class Command:
    runtime: str
    text: str = ""  # the command, or "" when the runtime cannot run this model
    note: str = ""  # why not, or what the command assumes
    link: str = ""  # an app deeplink, where the runtime has one


def build(page: Page) -> dict[str, Any]:
    cmds = commands(page)
    return {
        "commands": cmds,
        "html": mark_safe("".join(_details(c, i == 0) for i, c in enumerate(cmds))),
    }


@dataclass(frozen=True)
class Placement:
    """llama-server's placement flags for a plan, and what they amount to."""

    flags: str  # -ngl N [-ts a,b] [--n-cpu-moe K | -ot "..."]
    note: str
    ngl: int  # llama.cpp's -ngl: the layers on the GPUs, the output layer counted as one
    gpu_layers: int  # repeating layers on the GPUs
    experts_in_ram: bool  # MoE experts (some) stay in system RAM


def run_plan(page: Page) -> tuple[Plan, MemoryOptions]:
    """The plan the command is for: the plan panel's for one user; for several, llama.cpp's
    placement of all their slots (-c ctx x users, -np users) on the same machine."""
    s, c = page.state, page.state.computer
    if s.users == 1:
        return page.plan, s.plan_options()
    opts = s.plan_options(n_ctx=s.ctx * s.users, n_seq=s.users)
    plan = make_plan(config_key(page.config), opts, page.machine, ngl=c.ngl, n_cpu_moe=c.ncmoe)
    return plan, opts


def placement(page: Page, plan: Plan, opts: MemoryOptions) -> Placement:
    """-ngl, -ts and the MoE experts' placement that reproduce the plan. Where llama.cpp's --fit
    keeps the experts of a run of whole layers in RAM, `--n-cpu-moe K` with K layers (it takes
    the first ones, --fit the last; the layers are alike) is the same placement, checked: the
    forced plan keeps --fit's free margin on the GPU. Otherwise its own tensor overrides."""
    layout, c, n = plan.layout, page.state.computer, page.inv.n_layers
    n_all = len(layout.layer_device)  # the repeating layers and the output layer
    gpu_layers = sum(u.layers for u in layout.devices)
    if page.machine.gpu is None:
        return Placement("-ngl 0", "A CPU alone: every layer in system RAM.", 0, 0, False)
    experts = page.inv.n_experts > 0 and plan.expert_layers_on_cpu > 0
    ram = f" ({gib(plan.host_bytes)} of RAM in all)"
    if plan.forced:
        ngl = n_all if c.ngl is None else c.ngl
        flags = f"-ngl {ngl}"
        if c.ncmoe is not None and page.inv.n_experts:
            flags += f" --n-cpu-moe {c.ncmoe}"
        note = "The placement you forced; leave the advanced fields blank for llama.cpp's own."
        return Placement(flags, note, ngl, gpu_layers, experts)
    ngl = layout.ngl if layout.ngl >= 0 else n_all
    args = layout.args(page.machine.backend or "CUDA")
    flags, _, overrides = args.partition(f"-c {layout.n_ctx} ")[2].partition(" -ot ")
    flags = flags.replace(f"-ngl {layout.ngl}", f"-ngl {ngl}", 1)
    if not overrides:
        where = (
            f"Every layer on the GPU{'s' if page.machine.gpu_count > 1 else ''}."
            if gpu_layers == n
            else f"{gpu_layers} of {n} layers on the GPU, the rest in system RAM{ram}."
        )
        return Placement(flags, where, ngl, gpu_layers, False)
    k = _n_cpu_moe(page, plan, opts, ngl)
    if k is not None:
        count = plan.expert_layers_on_cpu
        dense = f", {k - count} of which have no experts" if k > count else ""
        note = (
            f"The experts of {count} layers stay in system RAM{ram}, as llama.cpp's own `--fit` "
            f"places them (`--fit` takes the last layers, `--n-cpu-moe` counts from the "
            f"first{dense}; `--fit`'s exact `-ot` is in the plan above)."
        )
        return Placement(f"{flags} --n-cpu-moe {k}", note, ngl, gpu_layers, True)
    note = (
        f"{gpu_layers} of {n} layers on the GPU and, by the tensor overrides (`-ot`) llama.cpp's "
        f"own `--fit` picks, part of the weights in system RAM{ram}."
    )
    return Placement(f"{flags} -ot {overrides}", note, ngl, gpu_layers, experts)


def _n_cpu_moe(page: Page, plan: Plan, opts: MemoryOptions, ngl: int) -> int | None:
    """The --n-cpu-moe K that places what llama.cpp's --fit does (one GPU, the experts of a run
    of whole layers in RAM), or None. --n-cpu-moe counts from the first layer, dense ones (which
    have no experts) included: K starts where the first K layers hold as many expert layers; one
    layer more is tried, for a layer whose other FFN tensors --fit moved as well."""
    n = page.inv.n_layers
    moved = [o for o in plan.layout.overrides if o.layer < n]
    if (
        not plan.fits
        or page.machine.gpu_count != 1
        or any(o.device != CPU or o.fraction not in WHOLE_EXPERTS for o in moved)
    ):
        return None
    layers = sorted(o.layer for o in moved)
    if layers != list(range(layers[0], layers[0] + len(layers))):
        return None
    key = config_key(page.config)
    experts = [layer.expert_bytes > 0 for layer in plan_model(key, opts.file_type).layers]
    first = next((k for k in range(n + 1) if sum(experts[:k]) >= len(layers)), n)
    for k in range(first, min(first + 1, n) + 1):
        forced = make_plan(key, opts, page.machine, ngl=ngl, n_cpu_moe=k)
        margins = zip(forced.layout.devices, forced.free, strict=True)
        if forced.fits and all(u.total <= free - FIT_MARGIN for u, free in margins):
            return k
    return None


# Overflow fractions that move all of a layer's routed experts (ATTN moves every FFN tensor).
WHOLE_EXPERTS = (Fraction.MOE, Fraction.ATTN)


def _details(c: Command, first: bool) -> str:
    runtime = escape(c.runtime)
    missing = "" if c.text else ' <small class="muted">not available</small>'
    text = f'<pre class="copyable"><code>{escape(c.text)}</code></pre>' if c.text else ""
    link = (
        f'<p><a class="button" href="{escape(c.link)}">Open in {runtime}</a></p>' if c.link else ""
    )
    note = f'<p class="src">{_code(c.note)}</p>' if c.note else ""
    summary = f"<summary>{runtime}{missing}</summary>"
    return f"<details{' open' if first else ''}>{summary}{text}{link}{note}</details>"


def _code(text: str) -> str:
    """A note, escaped, with `backticked` commands and flags as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


def commands(page: Page) -> list[Command]:
    model, state = page.model, page.state
    cmds: list[Command] = []
    where = None
    if model.gguf_repo:
        plan, opts = run_plan(page)
        where = placement(page, plan, opts)
        cmds += [_llama_cpp(page, plan, where), _lm_studio(page, where)]
    else:
        no_gguf = "No GGUF build of this model is listed in our catalog."
        cmds += [Command("llama.cpp", note=no_gguf), Command("LM Studio", note=no_gguf)]
    cmds.append(_ollama(page, where))
    rope = rope_scaling(page) if page.beyond_native else None
    if model.transformers_id:
        cmds.append(Command(
            "vLLM",
            f"vllm serve {model.transformers_id} --max-model-len {state.ctx} "
            + (f"{rope.vllm} " if rope else "")
            + f"--gpu-memory-utilization {VLLM_GPU_MEMORY_UTILIZATION} --max-num-seqs {state.users}"
            + (f" --tensor-parallel-size {state.gpu_count}" if state.gpu_count > 1 else ""),
            _vllm_weights(page) + (f" {rope.vllm_note}" if rope else ""),
        ))  # fmt: skip
        cmds.append(Command(
            "Transformers",
            "from transformers import pipeline\n\n"
            f'pipe = pipeline("text-generation", model="{model.transformers_id}", '
            'torch_dtype="auto", device_map="auto")\n'
            'print(pipe("Hello!", max_new_tokens=64)[0]["generated_text"])',
            rope.transformers_note if rope else "",
        ))  # fmt: skip
    else:
        no_hf = "No Transformers checkpoint of this model is listed in our catalog."
        cmds += [Command("vLLM", note=no_hf), Command("Transformers", note=no_hf)]
    if model.mlx_repo:
        cmds.append(Command(
            "MLX",
            f'mlx_lm.generate --model {model.mlx_repo} --prompt "Hello!" --max-tokens 256',
            "Apple silicon only." + (f" {rope.unknown('MLX')}" if rope else ""),
        ))  # fmt: skip
    else:
        cmds.append(
            Command("MLX", note="No MLX conversion of this model is listed in our catalog.")
        )
    return cmds


def _llama_cpp(page: Page, plan: Plan, where: Placement) -> Command:
    state = page.state
    ub = state.computer.ub
    # llama.cpp caps -ub at -b (the logical batch, 2048 by default): a larger -ub needs -b too.
    ub_flags = "" if ub == DEFAULT_UBATCH else f" -b {ub} -ub {ub}" if ub > 2048 else f" -ub {ub}"
    rope = rope_scaling(page) if page.beyond_native else None
    base = (
        f"llama-server -hf {page.model.gguf_repo}:{state.quant} -c {state.ctx * state.users}"
        + (f" -np {state.users}" if state.users > 1 else "")
        + (f" {rope.llama_cpp}" if rope else "")
        + f" -fa {'on' if state.fa else 'off'}"
        + (f" -ctk {state.kv} -ctv {state.kv}" if state.kv != "f16" else "")
        + ub_flags
        + (" --no-mmproj" if state.encoder and not state.media else "")
    )
    notes = [where.note]
    if rope:
        notes.append(rope.llama_cpp_note)
    if state.media:
        encoder = page.est.mmproj_bytes + page.est.mmproj_compute_bytes
        notes.append(
            f"`-hf` also downloads the repository's image/audio encoder (the mmproj file, F16) "
            f"and loads it on the first GPU: {gib(encoder)} with its compute buffer, counted "
            "above; `--no-mmproj` leaves it out for text only."
        )
    if state.users > 1:
        notes.insert(0, f"`-c` is the context of all {state.users} slots of {state.ctx} tokens.")
    if not plan.fits:
        missing = [
            f"{gib(plan.missing_vram)} more GPU memory" if plan.missing_vram else "",
            f"{gib(plan.missing_ram)} more system RAM" if plan.missing_ram else "",
        ]
        notes.append(
            f"It does not fit your machine: it needs {' and '.join(filter(None, missing))}."
        )
    if not plan.forced and page.machine.gpu is not None:
        notes.append(
            "Current llama.cpp reaches the same placement by itself (`--fit on`, its default): "
            f"`{base}` is enough; the flags pin it."
        )
    return Command("llama.cpp", f"{base} {where.flags}", " ".join(notes))


def _lm_studio(page: Page, where: Placement) -> Command:
    """`lms load --gpu` takes how much of the model to offload (0 to 1, off or max: LM Studio's
    docs, lmstudio.ai/docs/cli/load). Its docs name no flag that keeps MoE experts in RAM, so
    for such a plan the command leaves the offload to LM Studio."""
    model, n = page.model, page.inv.n_layers
    note = f"Or search the app for {model.gguf_repo}; `lms load` asks which download to load."
    if page.machine.gpu is None:
        gpu = " --gpu off"
    elif where.experts_in_ram:
        gpu = ""
    elif where.gpu_layers >= n:
        gpu = " --gpu max"
    else:
        gpu = f" --gpu {where.gpu_layers / n:.2f}"
        note += f" `{gpu.strip()}` offloads {where.gpu_layers} of {n} layers."
    if page.beyond_native:
        note += (
            " `lms load` has no rope-scaling flag (its documentation lists --ttl, --gpu, "
            "--context-length, --identifier, --estimate-only). "
        ) + rope_scaling(page).unknown("LM Studio")
    return Command(
        "LM Studio",
        f"lms get {model.gguf_repo}@{page.state.quant}\n"
        f"lms load --context-length {page.state.ctx}{gpu}",
        note,
        f"lmstudio://open_from_hf?model={model.gguf_repo}",
    )


def _ollama(page: Page, where: Placement | None) -> Command:
    """`ollama run` and a Modelfile; with the layers on the GPU (num_gpu: "the number of layers
    to send to the GPU(s)", Ollama's docs/modelfile.md) when the plan offloads whole layers."""
    tag, state = page.model.ollama_tag, page.state
    if not tag:
        return Command(
            "Ollama", note="The Ollama library has no tag for this model in our catalog."
        )
    layers = ""
    if where is not None and not where.experts_in_ram and where.gpu_layers < page.inv.n_layers:
        layers = (
            f"\n# layers on the GPU in our plan at {state.quant}:\nPARAMETER num_gpu {where.ngl}"
        )
    note = "Ollama picks its own quantization for a tag (usually Q4_K_M)."
    if page.beyond_native:
        note += (
            " Its Modelfile documentation (docs/modelfile.md) lists no rope-scaling parameter. "
            + rope_scaling(page).unknown("Ollama")
        )
    return Command(
        "Ollama",
        f"ollama run {tag}\n\n# Modelfile for a {tokens(state.ctx)} context:\n"
        f"FROM {tag}\nPARAMETER num_ctx {state.ctx}{layers}",
        note,
    )


@dataclass(frozen=True)
class RopeScaling:
    """The card's rope scaling as each runtime takes it, for a context beyond the native one."""

    llama_cpp: str  # llama-server's flags
    vllm: str  # vllm serve's --hf-overrides
    native: int
    method: str

    @property
    def llama_cpp_note(self) -> str:
        return (
            f"`{self.llama_cpp}` switches on the {self.method} rope scaling the model's card "
            f"documents beyond its native {self.native:,} tokens (the released config.json, and "
            "so a GGUF converted from it, leaves it out)."
        )

    @property
    def vllm_note(self) -> str:
        return (
            f"Beyond {self.native:,} tokens `--hf-overrides` sets the card's {self.method} rope "
            "scaling as `rope_parameters`, as vLLM's context extension page shows "
            "(docs.vllm.ai/en/stable/features/context_extension; older vLLM took "
            "`--rope-scaling`)."
        )

    @property
    def transformers_note(self) -> str:
        return (
            f"Beyond {self.native:,} tokens add the card's `rope_scaling` ({self.method}) to "
            "config.json first, as the card shows."
        )

    def unknown(self, runtime: str) -> str:
        return (
            f"Whether {runtime} switches on {self.method} beyond {self.native:,} tokens is unknown."
        )


# The formats released checkpoints come in (estimator/safetensors.py sizes them).
RELEASED_FORMATS = {"fp8": "FP8", "mxfp4": "MXFP4 experts", "compressed-tensors": "INT4"}


def _vllm_weights(page: Page) -> str:
    """What vLLM loads: the checkpoint as published, BF16 unless it was released quantized."""
    released = page.est.safetensors_bytes.get("released")
    text = page.model.config.get("text_config")
    config = text if isinstance(text, dict) else page.model.config
    quantization = config.get("quantization_config") or page.model.config.get("quantization_config")
    method = quantization.get("quant_method") if isinstance(quantization, dict) else None
    if released is None or method not in RELEASED_FORMATS:
        return "vLLM serves the original BF16 weights, not a GGUF quant."
    return (
        f"vLLM serves the checkpoint as released, in {RELEASED_FORMATS[method]} "
        f"({gib(released)}), not a GGUF quant."
    )


def rope_scaling(page: Page) -> RopeScaling:
    """The card's rope scaling as llama.cpp's flags (common/arg.cpp: --rope-scaling
    {none,linear,yarn}, --rope-scale N "expands context by a factor of N", --yarn-orig-ctx N)
    and vLLM's --hf-overrides (rope_parameters replace the config's, so rope_theta comes
    along, as vLLM's context extension page shows)."""
    model = page.model
    assert model.native_context_length is not None and model.rope_scaling_factor is not None
    method, factor = model.rope_scaling, model.rope_scaling_factor
    yarn = method == Model.RopeScaling.YARN
    flags = f"--rope-scaling {method} --rope-scale {factor:g}"
    text = model.config.get("text_config")
    config = text if isinstance(text, dict) else model.config
    # The config's own rope parameters stay (Qwen3.5 keeps rope_theta and its M-RoPE sections
    # in them); only the scaling changes, as the model cards' vLLM commands write it.
    current = config.get("rope_parameters") or config.get("rope_scaling") or {}
    params: dict[str, Any] = {k: v for k, v in current.items() if k not in ("rope_type", "type")}
    params |= {"rope_type": method, "factor": factor}
    if yarn:
        flags += f" --yarn-orig-ctx {model.rope_scaling_original_context}"
        params["original_max_position_embeddings"] = model.rope_scaling_original_context
    if "rope_theta" in config:
        params["rope_theta"] = config["rope_theta"]
    overrides: dict[str, Any] = {"rope_parameters": params}
    if config is not model.config:
        overrides = {"text_config": overrides}
    return RopeScaling(
        llama_cpp=flags,
        vllm=f"--hf-overrides '{json.dumps(overrides)}'",
        native=model.native_context_length,
        method=model.get_rope_scaling_display(),
    )


PANEL = Panel("run", 80, EVERY_CHANGE | DEVICE | SERVING | MACHINE, build)
