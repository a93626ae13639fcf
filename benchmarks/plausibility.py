"""Is a submitted result physically possible for its setup? Judged against the estimator.

- Generation: a decode step reads the active weights and each sequence's KV cache; no engine
  moves those bytes faster than the devices' memory bandwidth (all `hardware_count` devices
  together, as if tensor-parallel). Above that roofline x GEN_MARGIN the result is held for a
  moderator. The margin covers a quant file a little smaller than llama-quantize's default mix
  and a bandwidth figure rounded down by its vendor.
- Generation far below our estimate (under LOW_RATIO of it) is held too: part of the model on
  the CPU, another device than the one named, or a typo.
- Prompt processing: above the FLOPs per token at 4x the devices' dense FP16 peak (the INT8
  rate llama.cpp's quantized kernels can use) x PROMPT_MARGIN, it is held.
- A device not in the catalog, an unknown quant, or a setup our estimate says does not fit
  cannot be checked: held, with that reason, for a moderator.
Nothing is thrown away: a held result is stored and listed in the admin with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from catalog.models import Hardware, Model
from estimator.devices import from_hardware
from estimator.fit import fit
from estimator.memory import MemoryOptions, estimate_memory, inventory
from estimator.quant import FILE_TYPES
from estimator.throughput import decode_roofline, prefill_roofline

GEN_MARGIN = 1.2
PROMPT_MARGIN = 1.2
LOW_RATIO = 0.25
PROMPT_TOKENS = 512  # llama-bench's default prompt; a form result does not say its length


@dataclass(frozen=True)
class Setup:
    model: Model
    quant: str  # a FILE_TYPES name, or "" when unknown
    hardware: Hardware | None
    hardware_count: int
    context: int
    depth: int
    batch: int
    flash_attn: bool | None
    kv_type: str
    prompt_tokens_per_s: float | None
    gen_tokens_per_s: float | None


SETUP_FIELDS = tuple(f.name for f in fields(Setup))


def setup_of(source: Any) -> Setup:
    """The Setup of a stored Submission, or of a mapping with the same names (a form's data)."""
    if isinstance(source, Mapping):
        return Setup(**{name: source[name] for name in SETUP_FIELDS})
    return Setup(**{name: getattr(source, name) for name in SETUP_FIELDS})


@dataclass(frozen=True)
class Verdict:
    published: bool
    reason: str  # why it is held ("" when published)
    estimate_gen: float | None  # aggregate decode tokens/s we expect for this setup
    roofline_gen: float | None
    roofline_prompt: float | None


def estimate_gen(setup: Setup, calibration: float = 1.0) -> float | None:
    """Aggregate decode tokens/s the estimator expects for the setup, None when it cannot say
    (unknown device or quant, or the setup does not fit)."""
    if setup.hardware is None or setup.quant not in FILE_TYPES:
        return None
    config = setup.model.estimator_config
    est = estimate_memory(config, _options(setup))
    device = from_hardware(setup.hardware, setup.hardware_count, calibration)
    f = fit(inventory(config), est, device, depth=setup.depth, batch=setup.batch)
    return f.decode_tokens_per_s * setup.batch if f.decode_tokens_per_s else None


def judge(setup: Setup) -> Verdict:
    """Published, or held with the reason a moderator sees."""
    if setup.hardware is None:
        return Verdict(False, "device not in the catalog: it cannot be checked", None, None, None)
    if setup.quant not in FILE_TYPES:
        return Verdict(False, "quant not recognised: it cannot be checked", None, None, None)
    config = setup.model.estimator_config
    inv = inventory(config)
    est = estimate_memory(config, _options(setup))
    device = from_hardware(setup.hardware, setup.hardware_count)
    expected = estimate_gen(setup)
    roof_gen = decode_roofline(inv, est.weights, est.kv, device, setup.depth, setup.batch)
    roof_prompt = prefill_roofline(inv, PROMPT_TOKENS, setup.depth, device)
    reasons = []
    if (gen := setup.gen_tokens_per_s) is not None:
        if gen > roof_gen * GEN_MARGIN:
            reasons.append(
                f"generation {gen:g} tokens/s is {gen / roof_gen:.1f}x the memory-bandwidth "
                f"roofline of {roof_gen:.0f} tokens/s for this setup (held above "
                f"{GEN_MARGIN:g}x)"
            )
        elif expected is None:
            reasons.append("our estimate says this setup does not fit in the device's memory")
        elif gen < expected * LOW_RATIO:
            reasons.append(
                f"generation {gen:g} tokens/s is {gen / expected:.2f}x our estimate of "
                f"{expected:.0f} tokens/s (held below {LOW_RATIO:g}x): CPU offload, another "
                "device or a typo?"
            )
    prompt = setup.prompt_tokens_per_s
    if prompt is not None and roof_prompt is not None and prompt > roof_prompt * PROMPT_MARGIN:
        reasons.append(
            f"prompt processing {prompt:g} tokens/s is {prompt / roof_prompt:.1f}x the compute "
            f"roofline of {roof_prompt:.0f} tokens/s (held above {PROMPT_MARGIN:g}x)"
        )
    return Verdict(not reasons, "; ".join(reasons), expected, roof_gen, roof_prompt)


def _options(setup: Setup) -> MemoryOptions:
    return MemoryOptions(
        file_type=setup.quant,
        n_ctx=setup.context * setup.batch,  # `context` is per sequence
        type_k=setup.kv_type,
        type_v=setup.kv_type,
        flash_attn=setup.flash_attn is not False or setup.kv_type != "f16",
        n_seq=setup.batch,
    )
