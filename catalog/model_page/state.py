"""The model page's state: what the query string asks for, read by a lenient form (out-of-range
values are clamped and noted, never refused), and the URL of any other state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from typing import Any, ClassVar

from django import forms

from catalog.forms import LenientForm
from catalog.machine_state import MachineState, read_machine
from catalog.snapshot import DEFAULT_GPU, Brief
from estimator import limits
from estimator.finetune import Recipe
from estimator.machine import Machine
from estimator.memory import MemoryOptions
from estimator.quant import FILE_TYPES
from estimator.serving import DEFAULT_KWH_PRICE
from estimator.throughput import Device

# About 1.5x apart: fine where most people work, a dozen steps up to a million tokens.
CONTEXT_STOPS = (
    512, 1024, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152, 65536, 98304,
    131072, 196608, 262144, 393216, 524288, 786432, 1048576,
)  # fmt: skip
USER_STOPS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
KV_TYPES = ("f16", "q8_0", "q4_0")
# Every file type but the ones nobody downloads (llama.cpp keeps them for completeness).
QUANTS = tuple(q for q in FILE_TYPES if q not in ("Q2_K_S", "IQ3_S", "IQ3_XS", "IQ2_S"))
RUNTIMES = limits.RUNTIMES
GPU_BACKENDS = limits.GPU_BACKENDS
SORTS = ("memory", "speed")
# The serving target (estimator.serving.Target) and the electricity price: a reading speed per
# user, a wait for the first token and a prompt a chat turn with some history has; the price's
# source is estimator.serving.KWH_PRICE_SOURCE.
DEFAULT_TPS, DEFAULT_TTFT = 20.0, 2.0
TARGET_TPS = limits.FloatRange(0.5, 500.0, DEFAULT_TPS, "tokens/s every user must see")
TARGET_TTFT = limits.FloatRange(0.1, 600.0, DEFAULT_TTFT, "seconds to the first token")
PROMPT_TOKENS = limits.Range(1, 262_144, 1024, "tokens in a new user's prompt")
KWH_PRICE = limits.FloatRange(0.0, 5.0, DEFAULT_KWH_PRICE, "electricity, $ per kWh")
# Fine-tuning (estimator.finetune): the page's bounds where they are narrower than the API's.
FT_SEQ = limits.Range(128, 131_072, limits.SEQ_LEN.default, "tokens per training sequence")
FT_BATCH = limits.Range(1, 64, limits.MICRO_BATCH.default, "sequences per GPU per step")


@dataclass(frozen=True)
class PageState:
    quant: str
    ctx: int
    kv: str
    fa: bool
    users: int
    gpu: str
    gpu_count: int
    runtime: str
    backend: str = ""  # llama.cpp's GPU backend; "" the device's default (throughput.BACKENDS)
    per_user_tps: float = DEFAULT_TPS  # serving target: tokens/s per user
    ttft_s: float = DEFAULT_TTFT  # serving target: seconds to the first token
    prompt_tokens: int = PROMPT_TOKENS.default  # ... for a prompt this long
    kwh_price: float = DEFAULT_KWH_PRICE  # $/kWh for the cost on your own machine
    fits: bool = False  # devices panel: only devices where it fits
    sort: str = "memory"  # devices panel: by memory or by speed
    pub: str = ""  # published measurements: the first rows, or "all"
    # Fine-tuning: method, LoRA rank, sequence length, micro-batch, checkpointing, optimizer.
    ft: str = "lora"
    ft_rank: int = limits.LORA_RANK.default
    ft_seq: int = limits.SEQ_LEN.default
    ft_batch: int = limits.MICRO_BATCH.default
    ft_gc: str = "on"
    ft_opt: str = "adamw"
    # Images/audio: llama.cpp loads the model's encoder (mmproj, F16 as published) beside it.
    # On by default for a model that has one; `encoder` says whether it has.
    media: bool = False
    encoder: bool = False
    # The machine around the GPU: RAM, GPU memory in use, forced placement, -ub (machine_state).
    computer: MachineState = field(default_factory=MachineState)
    notes: tuple[str, ...] = field(default=())
    # The serving target's and the price's bounds, for the form's inputs.
    bounds: ClassVar[dict[str, limits.Range | limits.FloatRange]] = {
        "per_user_tps": TARGET_TPS,
        "ttft_s": TARGET_TTFT,
        "prompt_tokens": PROMPT_TOKENS,
        "kwh_price": KWH_PRICE,
        "ft_rank": limits.LORA_RANK,
        "ft_seq": FT_SEQ,
        "ft_batch": FT_BATCH,
    }

    def options(self, **changes: Any) -> MemoryOptions:
        """llama.cpp options for one user at this context (the serving plan passes n_seq)."""
        values = {
            "file_type": self.quant,
            "n_ctx": self.ctx,
            "type_k": self.kv,
            "type_v": self.kv,
            "flash_attn": self.fa,
            "mmproj": "f16" if self.media else "none",
        }
        return MemoryOptions(**(values | changes))

    def plan_options(self, **changes: Any) -> MemoryOptions:
        """`options` at the machine's -ub: what the plan on this machine is for."""
        return self.options(n_ubatch=self.computer.ub, **changes)

    def machine(self, device: Device, count: int = 1) -> Machine:
        """The user's machine (RAM, RAM type, GPU memory in use, wired limit) around `device`."""
        return self.computer.machine(device, count)

    def query(self, **changes: Any) -> str:
        """The query string of this state with some values changed (the devices view and the
        machine only where they differ from the defaults)."""
        values: dict[str, Any] = {
            "quant": self.quant,
            "ctx": self.ctx,
            "kv": self.kv,
            "fa": "on" if self.fa else "off",
            "users": self.users,
            "gpu": self.gpu,
            "gpu_count": self.gpu_count,
            "runtime": self.runtime,
            "backend": self.backend,
            **self.computer.query_items(),
            **self.target_items(),
            **self.finetune_items(),
            "media": "off" if self.encoder and not self.media else "",
            "fits": "1" if self.fits else "",
            "sort": "" if self.sort == "memory" else self.sort,
            "pub": self.pub,
        }
        values.update(changes)
        return "&".join(f"{k}={v}" for k, v in values.items() if v != "")

    def finetune_items(self) -> dict[str, Any]:
        """The fine-tuning settings where they differ from the defaults."""
        return {
            f.name: value
            for f in fields(self)
            if f.name.startswith("ft") and (value := getattr(self, f.name)) != f.default
        }

    def recipe(self, method: str | None = None) -> Recipe:
        """The fine-tuning run these settings describe, over the chosen GPUs."""
        return Recipe(
            method=method or self.ft, lora_rank=self.ft_rank, seq_len=self.ft_seq,
            micro_batch=self.ft_batch, grad_checkpointing=self.ft_gc == "on",
            optimizer=self.ft_opt, n_gpus=self.gpu_count,
        )  # fmt: skip

    def target_items(self) -> dict[str, Any]:
        """The serving target and electricity price where they differ from the defaults."""
        out: dict[str, Any] = {}
        for name, default in (
            ("per_user_tps", TARGET_TPS.default),
            ("ttft_s", TARGET_TTFT.default),
            ("prompt_tokens", PROMPT_TOKENS.default),
            ("kwh_price", KWH_PRICE.default),
        ):
            value = getattr(self, name)
            if value != default:
                out[name] = f"{value:g}"
        return out


def _bounded(label: str, r: limits.Range | limits.FloatRange) -> forms.Field:
    """A number field with the range's bounds and default."""
    kind = forms.IntegerField if isinstance(r, limits.Range) else forms.FloatField
    return kind(label=label, min_value=r.low, max_value=r.high, initial=r.default)


def _choice(label: str, values: Sequence[str], initial: str) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, choices=[(v, v) for v in values], initial=initial)


class StateForm(LenientForm):
    """The query string of a model page; bounds from the estimator's limits (estimator.limits)."""

    quant = forms.ChoiceField(label="Quant", initial="Q4_K_M")
    ctx = forms.IntegerField(label="Context")  # bounds from the model (__init__)
    kv = _choice("KV cache type", KV_TYPES, "f16")
    fa = forms.CharField(label="Flash attention", initial="on")
    users = _bounded("Users", limits.PAGE_USERS)
    gpu = forms.ChoiceField(label="GPU", initial=DEFAULT_GPU)
    gpu_count = _bounded("GPU count", limits.PAGE_GPU_COUNT)
    runtime = _choice("Runtime", RUNTIMES, "llama.cpp")
    backend = forms.ChoiceField(
        label="Backend", choices=[("", "default"), *((b, b) for b in GPU_BACKENDS)], initial=""
    )
    per_user_tps = _bounded("Speed per user (tokens/s)", TARGET_TPS)
    ttft_s = _bounded("Time to first token (s)", TARGET_TTFT)
    prompt_tokens = _bounded("Prompt (tokens)", PROMPT_TOKENS)
    kwh_price = _bounded("Electricity price ($/kWh)", KWH_PRICE)
    fits = forms.CharField(label="Only devices where it fits", initial="")
    sort = _choice("Sort", SORTS, "memory")
    pub = forms.ChoiceField(
        label="Published measurements", choices=[("", "the first"), ("all", "all")], initial=""
    )
    ft = _choice("Fine-tuning method", limits.FINETUNE, "lora")
    ft_rank = _bounded("LoRA rank", limits.LORA_RANK)
    ft_seq = _bounded("Sequence length", FT_SEQ)
    ft_batch = _bounded("Micro-batch", FT_BATCH)
    ft_gc = _choice("Gradient checkpointing", ("on", "off"), "on")
    ft_opt = _choice("Optimizer", limits.FT_OPTIMIZERS, "adamw")

    def state(self) -> PageState:
        values = self.read()
        fa = values["fa"] not in ("off", "0", "false")
        if values["kv"] != "f16" and not fa:
            self.notes.append("A quantized KV cache needs flash attention; flash attention is on.")
            fa = True
        if values["prompt_tokens"] > values["ctx"]:
            self.notes.append(
                f"A prompt of {values['prompt_tokens']} tokens is longer than the context; "
                f"using {values['ctx']}."
            )
            values["prompt_tokens"] = values["ctx"]
        return PageState(
            **(values | {"fa": fa, "fits": values["fits"] == "1"}), notes=tuple(self.notes)
        )


def read_state(params: Mapping[str, str], model: Brief, gpus: Sequence[str]) -> PageState:
    """The page state a query string asks for, with the machine around the GPU; every correction
    is in `notes`."""
    state = _form(model.context_length, model.is_moe, tuple(gpus))(params).state()
    computer = read_machine(params)
    media = model.encoder and params.get("media", "on").lower() not in ("off", "0", "false")
    return replace(
        state,
        computer=computer,
        media=media,
        encoder=model.encoder,
        notes=state.notes + computer.notes,
    )


@lru_cache(maxsize=512)
def _form(context_length: int, is_moe: bool, gpus: tuple[str, ...]) -> type[StateForm]:
    """The state form of models with this maximum context and kind, on these devices: the
    bounds and choices that depend on them are set once on a subclass (see SharedFields)."""
    return type(
        "ModelStateForm",
        (StateForm,),
        {
            "ctx": forms.IntegerField(
                label="Context", min_value=min(512, context_length), max_value=context_length,
                initial=min(context_length, 8192),
            ),
            "quant": forms.ChoiceField(
                label="Quant", choices=[(q, q) for q in _quants(is_moe)], initial="Q4_K_M"
            ),
            "gpu": forms.ChoiceField(
                label="GPU", choices=[(g, g) for g in gpus], initial=DEFAULT_GPU
            ),
        },
    )  # fmt: skip


def quant_choices(model: Brief) -> tuple[str, ...]:
    """File types worth offering: MXFP4_MOE only for mixture-of-experts models."""
    return _quants(model.is_moe)


def _quants(is_moe: bool) -> tuple[str, ...]:
    return QUANTS if is_moe else tuple(q for q in QUANTS if q != "MXFP4_MOE")


def context_stops(max_context: int, native: int | None = None) -> list[int]:
    """The context slider's stops up to the model's maximum context, with its native context
    (beyond which it needs rope scaling) among them."""
    stops = {s for s in CONTEXT_STOPS if s < max_context} | ({native} if native else set())
    return [*sorted(stops), max_context]
