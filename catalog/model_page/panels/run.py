"""How to run it with the current state and the catalog's real repo ids, for every runtime
(llama.cpp, LM Studio, Ollama, vLLM, Transformers, MLX), or why a runtime cannot.

The commands' markup is written here rather than in the template (measured hot path: ~0.1 ms
more through the template engine in every slider response, docs/model-page.md)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from django.utils.safestring import mark_safe

from catalog.model_page.panels import DEVICE, EVERY_CHANGE, SERVING, Panel
from catalog.models import Model
from estimator.estimate import VLLM_GPU_MEMORY_UTILIZATION
from estimator.units import tokens

if TYPE_CHECKING:
    from catalog.model_page.page import Page
    from catalog.model_page.state import PageState


@dataclass(frozen=True)
class Command:
    runtime: str
    text: str = ""  # the command, or "" when the runtime cannot run this model
    note: str = ""  # why not, or what the command assumes
    link: str = ""  # an app deeplink, where the runtime has one


def build(page: Page) -> dict[str, Any]:
    cmds = commands(page.model, page.state)
    return {
        "commands": cmds,
        "html": mark_safe("".join(_details(c, i == 0) for i, c in enumerate(cmds))),
    }


def _details(c: Command, first: bool) -> str:
    runtime = escape(c.runtime)
    missing = "" if c.text else ' <small class="muted">not available</small>'
    text = f'<pre class="copyable"><code>{escape(c.text)}</code></pre>' if c.text else ""
    link = (
        f'<p><a class="button" href="{escape(c.link)}">Open in {runtime}</a></p>' if c.link else ""
    )
    note = f'<p class="src">{escape(c.note)}</p>' if c.note else ""
    summary = f"<summary>{runtime}{missing}</summary>"
    return f"<details{' open' if first else ''}>{summary}{text}{link}{note}</details>"


def commands(model: Model, state: PageState) -> list[Command]:
    fa = "on" if state.fa else "off"
    kv_flags = f" -ctk {state.kv} -ctv {state.kv}" if state.kv != "f16" else ""
    np_flag = f" -np {state.users}" if state.users > 1 else ""
    cmds: list[Command] = []
    if model.gguf_repo:
        slots = f" ({state.users} slots of {state.ctx} tokens)" if state.users > 1 else ""
        cmds.append(Command(
            "llama.cpp",
            f"llama-server -hf {model.gguf_repo}:{state.quant} -c {state.ctx * state.users}"
            f"{np_flag} -fa {fa}{kv_flags} -ngl 999",
            f"-c is the context of all slots together{slots}.",
        ))  # fmt: skip
        cmds.append(Command(
            "LM Studio",
            f"lms get {model.gguf_repo}@{state.quant}\n"
            f"lms load --context-length {state.ctx} --gpu max",
            f"Or search the app for {model.gguf_repo}; `lms load` asks which download to load.",
            f"lmstudio://open_from_hf?model={model.gguf_repo}",
        ))  # fmt: skip
    else:
        no_gguf = "No GGUF build of this model is listed in our catalog."
        cmds += [Command("llama.cpp", note=no_gguf), Command("LM Studio", note=no_gguf)]
    if model.ollama_tag:
        cmds.append(Command(
            "Ollama",
            f"ollama run {model.ollama_tag}\n\n# Modelfile for a {tokens(state.ctx)} context:\n"
            f"FROM {model.ollama_tag}\nPARAMETER num_ctx {state.ctx}",
            "Ollama picks its own quantization for a tag (usually Q4_K_M).",
        ))  # fmt: skip
    else:
        cmds.append(
            Command("Ollama", note="The Ollama library has no tag for this model in our catalog.")
        )
    if model.transformers_id:
        cmds.append(Command(
            "vLLM",
            f"vllm serve {model.transformers_id} --max-model-len {state.ctx} "
            f"--gpu-memory-utilization {VLLM_GPU_MEMORY_UTILIZATION} --max-num-seqs {state.users}"
            + (f" --tensor-parallel-size {state.gpu_count}" if state.gpu_count > 1 else ""),
            "vLLM serves the original BF16 weights, not a GGUF quant.",
        ))  # fmt: skip
        cmds.append(Command(
            "Transformers",
            "from transformers import pipeline\n\n"
            f'pipe = pipeline("text-generation", model="{model.transformers_id}", '
            'torch_dtype="auto", device_map="auto")\n'
            'print(pipe("Hello!", max_new_tokens=64)[0]["generated_text"])',
        ))  # fmt: skip
    else:
        no_hf = "No Transformers checkpoint of this model is listed in our catalog."
        cmds += [Command("vLLM", note=no_hf), Command("Transformers", note=no_hf)]
    if model.mlx_repo:
        cmds.append(Command(
            "MLX",
            f'mlx_lm.generate --model {model.mlx_repo} --prompt "Hello!" --max-tokens 256',
            "Apple silicon only.",
        ))  # fmt: skip
    else:
        cmds.append(
            Command("MLX", note="No MLX conversion of this model is listed in our catalog.")
        )
    return cmds


PANEL = Panel("run", 80, EVERY_CHANGE | DEVICE | SERVING, build)
