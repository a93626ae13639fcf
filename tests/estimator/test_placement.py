"""llama.cpp's own placement (estimator/placement.py) traced by hand against common/fit.cpp and
src/llama-model.cpp (llama-cpp-python 0.3.36).

The synthetic models keep the arithmetic readable. Each repeating layer holds attention (4 x 10 MiB)
and either a dense FFN (up, gate, down: 3 x 320 MiB; the layer is 1000 MiB) or routed experts
(a 1 MiB router + up, gate, down stacks of 3 x 300 MiB; the layer is 941 MiB, 41 MiB of it dense);
the output layer is 500 MiB and the token embedding 500 MiB (always in system memory). The KV
cache is 1 MiB per layer at -c 4096. With `DIMS`, a ubatch of 512 tokens needs 33 MiB of compute
where the logits are computed and 13 MiB on any other GPU with layers. For ubatches of 32 tokens
or more GPU0 also holds the copies of the host weights it computes with (ggml's op offload): a
host layer but its largest tensor (dense: 1000 - 320 = 680 MiB; MoE: 941 - 300 - 1 = 640 MiB,
tensors of 1 MiB or less are not counted), the experts of a dense-only layer but the largest
(600 MiB), or the logits with a copy of the output matrix (33 + 500 MiB) when the output layer
stays on the host.

Each trace lists the candidates fit.cpp measures (`get_memory_for_layers`) in order, written
`n_layer/n_part OVERFLOW>device` per device (`2/1 UP>CUDA1 | 7/6`) with the MiB each device then
uses. The false-position step is `delta * (target - mem_low) / (mem_high - mem_low)`, clamped to
[1, delta - 1]; a candidate is kept when it uses at most the target (strictly less for the extra
partial layer of step 4).
"""

from __future__ import annotations

import dataclasses
import re
import struct
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from catalog.loader import DATA_DIR, parse_provider_file
from estimator.inventory import CacheLayer, Inventory, Tensor
from estimator.memory import MemoryOptions, Shape, config_key, inventory, shape
from estimator.placement import (
    CPU,
    MIB,
    FitError,
    FitResult,
    Fraction,
    Layout,
    Model,
    Override,
    Sizer,
    SizerAt,
    _Ngl,
    _overrides,
    fit_params,
    model_bytes,
    n_cpu_moe_overrides,
)
from estimator.plan import model as plan_model
from estimator.quant import TypedTensor, Weights, quantize

MARGIN = 1024 * MIB  # --fit-target default (common/common.h fit_params_target)
# Compute buffers at -ub 512 with flash attention: logits 512 x 16384 x 4 = 32 MiB, FFN
# 512 x 4 x 3 x 2048 = 12 MiB, each plus two 512 x 256 x 4 hidden states (1 MiB).
DIMS = Shape(hidden=256, vocab=16384, ff=2048, q_width=256, softcap=0.0, n_ctx_train=4096)


def tensor(name: str, mib: float, experts: int = 1) -> TypedTensor:
    """A weight of `mib` MiB: placement reads only its name, bytes and expert count."""
    return TypedTensor(Tensor(name, (1,), experts), "F16", int(mib * MIB))


def make_model(
    n_layers: int = 8,
    *,
    experts: int = 0,
    ffn_mib: float = 320,
    attn_mib: float = 10,
    out_mib: float = 500,
    kv_width: int = 64,
    n_ctx_train: int = 4096,
) -> tuple[Model, Inventory]:
    """A model through `model_bytes`, and an inventory whose layers each cache `kv_width` K and V
    elements per token in F16 (64: 256 bytes per token, 1 MiB per layer at -c 4096).
    With `experts`, the FFN tensors are expert stacks of `ffn_mib` each, with a 1 MiB router."""
    weights = [tensor("token_embd.weight", 500)]
    for il in range(n_layers):
        weights += [
            tensor(f"blk.{il}.attn_{n}.weight", attn_mib) for n in ("q", "k", "v", "output")
        ]
        if experts:
            weights.append(tensor(f"blk.{il}.ffn_gate_inp.weight", 1))
        suffix = "_exps" if experts else ""
        weights += [
            tensor(f"blk.{il}.ffn_{n}{suffix}.weight", ffn_mib, experts or 1)
            for n in ("up", "gate", "down")
        ]
    weights.append(tensor("output.weight", out_mib))
    layer = CacheLayer("full", kv_width, kv_width)
    inv = Inventory(
        model_type="llama",
        tensors=(),
        n_layers=n_layers,
        n_heads=1,
        n_kv_heads=1,
        n_experts=experts,
        n_experts_used=4 if experts else 0,
        cache=(layer,) * n_layers,
        cache_groups=((layer, n_layers),),
    )
    return model_bytes(inv, Weights("F16", tuple(weights)), n_ctx_train), inv


def make_moe(**overrides: Any) -> tuple[Model, Inventory]:
    return make_model(**({"experts": 64, "ffn_mib": 300} | overrides))


def gpus(*free_mib: float) -> list[int]:
    return [int(f * MIB) for f in free_mib]


def sizer_at(
    model: Model,
    inv: Inventory,
    free: Sequence[int],
    *,
    host: int = 64 << 30,
    dims: Shape = DIMS,
    file_type: str = "F16",
    probes: list[str] | None = None,
) -> SizerAt:
    """Sizers at any context; with `probes`, each candidate fit_params measures is written there."""

    class Recorder(Sizer):
        def totals(self, ngls: Sequence[_Ngl], bufts: Sequence[int]) -> list[int]:
            used = super().totals(ngls, bufts)
            if probes is not None:
                probes.append(
                    f"{candidate(ngls, bufts)} = {' | '.join(f'{u / MIB:g}' for u in used)}"
                )
            return used

    def at(n_ctx: int) -> Sizer:
        opts = MemoryOptions(file_type=file_type, n_ctx=n_ctx)
        return Recorder(model, inv, dims, opts, free, host)

    return at


def candidate(ngls: Sequence[_Ngl], bufts: Sequence[int]) -> str:
    out = []
    for n, buft in zip(ngls, bufts, strict=True):
        text = f"{n.n_layer}/{n.n_part}" if n.n_part else str(n.n_layer)
        if n.n_part and n.overflow != Fraction.MOE:
            text += f" {n.overflow.name}" + ("" if buft == CPU else f">CUDA{buft}")
        out.append(text)
    return " | ".join(out)


def fit(
    model: Model,
    inv: Inventory,
    free: Sequence[int],
    n_ctx: int | None = 4096,
    **kwargs: Any,
) -> tuple[FitResult, list[str]]:
    """fit_params with the --fit-target default on every GPU, and the candidates it measured."""
    probes: list[str] = []
    at = sizer_at(model, inv, free, probes=probes)
    margins = [MARGIN] * max(len(free), 1)
    return fit_params(at, n_ctx, margins, model.n_ctx_train, **kwargs), probes


def totals_mib(layout: Layout) -> list[float]:
    return [u.total / MIB for u in layout.devices]


def moe_ot(first: int, last: int) -> str:
    """fit.cpp's LAYER_FRACTION_MOE overrides for layers first..last, as llama-fit-params prints."""
    return ",".join(
        rf"blk\.{il}\.ffn_(up|down|gate_up|gate)_(ch|)exps=CPU" for il in range(first, last + 1)
    )


# --- dense models: step 3 alone ---------------------------------------------------------------


def test_a_dense_model_on_one_gpu_gets_the_layers_false_position_finds() -> None:
    """6000 MiB free: target 6000 - 1024 = 4976 MiB.
    Step 1: all 9 layers (8 + output): 8500 + 8 (KV) + 33 = 8541 > 4976: changes needed.
    Step 2: -c is set: the context stays.
    Step 3, device 0 (the last): low = 0 layers: 693 (13 + a host layer's copy, 680);
    high = 9 layers: 8541 > 4976, delta 9.
      9 x (4976 - 693) / (8541 - 693) = 4.9 -> 4: layers 5-7 + output: 3500 + 3 + 693 = 4196: low
      5 x (4976 - 4196) / (8541 - 4196) = 0.9 -> 1: 5 layers: 5197 > 4976: high; delta 1: stop.
    """
    model, inv = make_model()
    result, probes = fit(model, inv, gpus(6000))
    assert probes == ["0 = 693", "9 = 8541", "4 = 4196", "5 = 5197"]
    assert result.layout.args() == "-c 4096 -ngl 4"
    assert totals_mib(result.layout) == [4196]
    assert result.layout.layer_device == (CPU,) * 5 + (0,) * 4
    host = result.layout.host
    assert (host.model, host.context, host.layers) == (5500 * MIB, 5 * MIB, 5)


def test_a_dense_model_on_two_gpus_fills_the_last_gpu_first() -> None:
    """Free 4000 and 3000 MiB: targets 2976 and 1976.
    Step 1, split by free memory (4:3): GPU0 layers 0-5 = 6000 + 6 + 13 = 6019 > 2976.
    Step 3, device 1: low = nothing (0 on GPU1); high = all 9: 8541 > 1976, delta 9.
      9 x 1976 / 8541 = 2.1 -> 2: layer 7 + output = 1500 + 1 + 33 = 1534 <= 1976: low
      7 x (1976 - 1534) / (8541 - 1534) = 0.4 -> 1: 3 layers = 2535 > 1976: high; stop at 2.
    Device 0: 7 layers unassigned. Low: GPU0 = 693 (the copy of a host layer); high = 7 | 2:
    7000 + 7 + 13 = 7020 > 2976, delta 7.
      7 x (2976 - 693) / (7020 - 693) = 2.5 -> 2: 2000 + 2 + 693 = 2695 <= 2976: low
      5 x (2976 - 2695) / (7020 - 2695) = 0.3 -> 1: 3 layers = 3696 > 2976: high; stop at 2.
    -ts is each device's layer count (set_ngl_tensor_split_tbo).
    """
    model, inv = make_model()
    full = sizer_at(model, inv, gpus(4000, 3000))(4096).layout(-1, [], [])
    assert totals_mib(full) == [6019, 2535]
    result, probes = fit(model, inv, gpus(4000, 3000))
    assert probes == [
        "0 | 0 = 693 | 0",
        "0 | 9 = 13 | 8541",
        "0 | 2 = 693 | 1534",
        "0 | 3 = 693 | 2535",
        "7 | 2 = 7020 | 1534",
        "2 | 2 = 2695 | 1534",
        "3 | 2 = 3696 | 1534",
    ]
    assert result.layout.args() == "-c 4096 -ngl 4 -ts 2,2"
    assert totals_mib(result.layout) == [2695, 1534]
    assert result.layout.layer_device == (CPU,) * 5 + (0, 0, 1, 1)


def test_a_dense_model_on_three_gpus() -> None:
    """Three GPUs with 3000 MiB free: targets 1976 each. Step 1 (split 1:1:1): GPU0 layers 0-2,
    3016 MiB > 1976.
    Device 2: high 9 = 8541; 9 x 1976 / 8541 = 2.1 -> 2: 1534: low; 7 x 442 / 7007 -> 1: 3 = 2535:
      high. Device 2 keeps layer 7 + output.
    Device 1: 7 unassigned, high 7 = 7020; low is 0 MiB (GPU1 holds nothing);
      7 x 1976 / 7020 = 1.97 -> 1: layer 6 = 1000 + 1 + 13 = 1014: low;
      6 x (1976 - 1014) / (7020 - 1014) = 0.96 -> 1: 2 layers = 2015: high.
    Device 0: 6 unassigned, high 6 = 6019; low 693;
      6 x (1976 - 693) / (6019 - 693) = 1.4 -> 1: layer 5 = 1000 + 1 + 693 = 1694: low;
      5 x (1976 - 1694) / (6019 - 1694) = 0.3 -> 1: 2 layers = 2695: high.
    """
    model, inv = make_model()
    result, probes = fit(model, inv, gpus(3000, 3000, 3000))
    assert probes == [
        "0 | 0 | 0 = 693 | 0 | 0",
        "0 | 0 | 9 = 13 | 0 | 8541",
        "0 | 0 | 2 = 693 | 0 | 1534",
        "0 | 0 | 3 = 693 | 0 | 2535",
        "0 | 7 | 2 = 13 | 7020 | 1534",
        "0 | 1 | 2 = 693 | 1014 | 1534",
        "0 | 2 | 2 = 693 | 2015 | 1534",
        "6 | 1 | 2 = 6019 | 1014 | 1534",
        "1 | 1 | 2 = 1694 | 1014 | 1534",
        "2 | 1 | 2 = 2695 | 1014 | 1534",
    ]
    assert result.layout.args() == "-c 4096 -ngl 4 -ts 1,1,2"
    assert totals_mib(result.layout) == [1694, 1014, 1534]


def test_a_dense_model_on_four_gpus_skips_the_small_ones_and_trims_the_trailing_zero() -> None:
    """Free 5000, 2000, 1800 and 1000 MiB: targets 3976, 976, 776 and -24.
    Device 3: high 9 = 8541; 9 x (-24) / 8541 < 0 -> 1: the output alone, 533 > -24: high; 0 layers.
    Device 2: 9 unassigned; 9 x 776 / 8541 = 0.8 -> 1: output = 533 <= 776: low;
      8 x (776 - 533) / (8541 - 533) -> 1: layer 7 + output = 1534: high. 1 layer (the output).
    Device 1: 8 unassigned, high 8 = 8021; 8 x 976 / 8021 -> 1: one layer = 1014 > 976: high; 0.
    Device 0: 8 unassigned, high 8 = 8021; low 693; 8 x (3976 - 693) / (8021 - 693) = 3.6 -> 3:
      3000 + 3 + 693 = 3696: low; 5 x 280 / 4325 -> 1: 4697: high. 3 layers.
    llama-fit-params drops trailing zeros of -ts, not the zero in the middle.
    """
    model, inv = make_model()
    result, probes = fit(model, inv, gpus(5000, 2000, 1800, 1000))
    assert probes == [
        "0 | 0 | 0 | 0 = 693 | 0 | 0 | 0",
        "0 | 0 | 0 | 9 = 13 | 0 | 0 | 8541",
        "0 | 0 | 0 | 1 = 693 | 0 | 0 | 533",
        "0 | 0 | 9 | 0 = 13 | 0 | 8541 | 0",
        "0 | 0 | 1 | 0 = 693 | 0 | 533 | 0",
        "0 | 0 | 2 | 0 = 693 | 0 | 1534 | 0",
        "0 | 8 | 1 | 0 = 13 | 8021 | 533 | 0",
        "0 | 1 | 1 | 0 = 693 | 1014 | 533 | 0",
        "8 | 0 | 1 | 0 = 8021 | 0 | 533 | 0",
        "3 | 0 | 1 | 0 = 3696 | 0 | 533 | 0",
        "4 | 0 | 1 | 0 = 4697 | 0 | 533 | 0",
    ]
    assert result.layout.args() == "-c 4096 -ngl 4 -ts 3,0,1"
    assert totals_mib(result.layout) == [3696, 0, 533, 0]
    assert result.layout.tensor_split == (3, 0, 1, 0)


# --- MoE models: steps 3 and 4 ----------------------------------------------------------------


def test_a_moe_model_on_one_gpu_overflows_only_ffn_down_of_one_more_layer() -> None:
    """5000 MiB free: target 3976. Full: 8 x 941 + 500 + 8 + 33 = 8069.
    Every expert in system memory (pattern_moe_all): 8 x 41 + 500 + 8 + 613 = 1449: surplus 2527.
    Step 3, device 0 (last): low 0 layers = 653 (13 + a host layer's copy, 640);
    high 9/8 = 2349 <= 3976: taken. fit.cpp writes the n_full layers of a device first
    (set_ngl_tensor_split_tbo), so the one whole layer is layer 0, and the override of the output
    layer (blk.8) matches nothing: 941 + 7 x 41 + 500 + 8 + (13 + 600) = 2349.
    Step 4, device 0: high = every layer whole, 9 = 8069 > 3976, delta 9 - 1 = 8 full layers.
      8 x (3976 - 2349) / (8069 - 2349) = 2.3 -> 2: 9/6 (layers 0-2 whole) = 4149: high
      2 x (3976 - 2349) / (4149 - 2349) = 1.8 -> 1: 9/7 (layers 0-1 whole) = 3249: low; stop.
    Part of one more layer (layer 2): UP keeps attention + up (+299) = 3548 < 3976: kept;
    GATE keeps the gate too (+301, the router stays now) = 3849 < 3976: kept.
    """
    model, inv = make_moe()
    result, probes = fit(model, inv, gpus(5000))
    assert probes == [
        "0 = 653",
        "9/8 = 2349",
        "9 = 8069",
        "9/6 = 4149",
        "9/7 = 3249",
        "9/7 UP = 3548",
        "9/7 GATE = 3849",
    ]
    assert result.layout.args() == (
        r'-c 4096 -ngl 9 -ot "blk\.2\.ffn_down.*=CPU,' + moe_ot(3, 8) + '"'
    )
    assert totals_mib(result.layout) == [3849]
    use = result.layout.devices[0]
    assert (use.model, use.context, use.compute) == (3228 * MIB, 8 * MIB, 613 * MIB)


@pytest.mark.parametrize(
    ("free", "last_probe", "layer_2", "used"),
    [
        # UP fits (3548 < 3676), GATE does not (3849): ffn_gate, ffn_down and the router overflow.
        (4700, "9/7 GATE = 3849", r"blk\.2\.ffn_(gate|gate_up|down).*=CPU", 3548),
        # UP does not fit (3548 >= 3376); ATTN moves every FFN tensor and the router: 3248.
        (4400, "9/7 ATTN = 3248", r"blk\.2\.ffn_(gate|up|gate_up|down).*=CPU", 3248),
    ],
)
def test_the_extra_partial_layer_is_up_or_attention_when_gate_does_not_fit(
    free: int, last_probe: str, layer_2: str, used: int
) -> None:
    """Targets 3676 and 3376. As above up to step 4, where the first step is
    8 x (target - 2349) / 5720 = 1.9 or 1.4 -> 1: 9/7 = 3249: low; then 7 x (target - 3249) / 4820
    -> 1: 9/6 = 4149: high; stop at 9/7. Then UP on layer 2 (3548), then GATE or ATTN."""
    model, inv = make_moe()
    result, probes = fit(model, inv, gpus(free))
    assert probes == [
        "0 = 653",
        "9/8 = 2349",
        "9 = 8069",
        "9/7 = 3249",
        "9/6 = 4149",
        "9/7 UP = 3548",
        last_probe,
    ]
    assert result.layout.args() == f'-c 4096 -ngl 9 -ot "{layer_2},{moe_ot(3, 8)}"'
    assert totals_mib(result.layout) == [used]


def test_fit_cpp_keeps_the_first_layer_of_a_dense_only_candidate_whole() -> None:
    """3000 MiB free: target 1976; every expert on the host would take 1449 (surplus 527), but
    step 3's candidates each keep their first layer whole (941 MiB): 9/8 = 2349 > 1976, delta 9.
      9 x (1976 - 653) / (2349 - 653) = 7.02 -> 7, n_part 6: layer 2 whole, 3-7 dense-only,
        output: 941 + 205 + 500 + 6 + 653 = 2305: high
      7 x 1323 / 1652 -> 5: 5/4 = 2221; 5 x 1323 / 1568 -> 4: 4/3 = 2179; 4 x 1323 / 1526 -> 3:
        3/2 = 2137; 3 x 1323 / 1484 -> 2: 2/1 = 2095 (all high);
      2 x 1323 / 1442 -> 1: n_part 0: the output alone, 500 + 653 = 1153: low; stop.
    Step 4: the high candidate moves n_layer - 1 = 0 layers (1 = 1153, kept); no layer is left
    for a partial one. Had the whole layer been the output layer, as fit.cpp's comment intends
    ("the first layer is the output layer which must always be full"), 1449 MiB would fit.
    """
    model, inv = make_moe()
    result, probes = fit(model, inv, gpus(3000))
    assert probes == [
        "0 = 653",
        "9/8 = 2349",
        "7/6 = 2305",
        "5/4 = 2221",
        "4/3 = 2179",
        "3/2 = 2137",
        "2/1 = 2095",
        "1 = 1153",
        "1 = 1153",
    ]
    assert result.layout.args() == "-c 4096 -ngl 1"
    assert totals_mib(result.layout) == [1153]


def test_a_moe_model_whose_dense_weights_do_not_fit_stops_after_step_3() -> None:
    """1500 MiB free: target 476 < 1449 (every expert on the host): no surplus, so fit.cpp returns
    after step 3. There the empty GPU already takes 653 > 476: 9 x (476 - 653) / (2349 - 653) is
    negative (C++: -0.94 truncates to 0) -> 1: the output alone, 1153: high; 0 layers. The op
    offload buffer is left over the target: llama.cpp's fit does not help."""
    model, inv = make_moe()
    result, probes = fit(model, inv, gpus(1500))
    assert probes == ["0 = 653", "9/8 = 2349", "1 = 1153"]
    assert result.layout.args() == "-c 4096 -ngl 0"
    assert totals_mib(result.layout) == [653]
    assert result.notes == (
        "even the dense weights alone do not fit: whole layers stay on the CPU",
    )


def test_a_moe_model_on_two_gpus_overflows_to_the_next_gpu() -> None:
    """Free 3000 and 4000 MiB: targets 1976 and 2976. Step 1 (split 3:4): GPU0 layers 0-3,
    3781 > 1976. Every expert on the host: 781 and 701 MiB: surplus.
    Step 3, device 1: high 9/8 = 1769 <= 2976: taken (GPU0 then holds 613: a dense-only layer's
    expert copy). Device 0: nothing unassigned.
    Step 4, id_dense_start = 1. Device 0: high = 8 | 1 (every layer whole on GPU0, the output on
    GPU1) = 7549 > 1976, delta 8.
      8 x (1976 - 613) / (7549 - 613) = 1.6 -> 1: convert one: 1 | 8/7 = 1555: low
      7 x (1976 - 1555) / (7549 - 1555) -> 1: 2 | 7/6 = 2497: high; stop.
    Part of one more layer on GPU0 (layer 1), overflowing to CUDA1: UP = 1896 | 2286, both under
    their targets: kept; GATE = 2197 >= 1976: not kept.
    Device 1: high = 2/1 UP>CUDA1 | 7 = 6786 > 2976, delta 7 - 1 = 6.
      6 x (2976 - 2286) / (6786 - 2286) = 0.9 -> 1: 7/5 (layers 2-3 whole) = 3186: high; stop.
    Part of one more layer on GPU1 (layer 3), to the CPU: UP = 2585, GATE = 2886 < 2976: kept.
    """
    model, inv = make_moe()
    result, probes = fit(model, inv, gpus(3000, 4000))
    assert probes == [
        "0 | 0 = 653 | 0",
        "0 | 9/8 = 613 | 1769",
        "8 | 1 = 7549 | 533",
        "1 | 8/7 = 1555 | 1727",
        "2 | 7/6 = 2497 | 1685",
        "2/1 UP>CUDA1 | 7/6 = 1896 | 2286",
        "2/1 GATE>CUDA1 | 7/6 = 2197 | 1985",
        "2/1 UP>CUDA1 | 7 = 1296 | 6786",
        "2/1 UP>CUDA1 | 7/5 = 1896 | 3186",
        "2/1 UP>CUDA1 | 7/6 UP = 1896 | 2585",
        "2/1 UP>CUDA1 | 7/6 GATE = 1896 | 2886",
    ]
    assert result.layout.args() == (
        r'-c 4096 -ngl 9 -ts 2,7 -ot "blk\.1\.ffn_(gate|gate_up|down).*=CUDA1,'
        r"blk\.3\.ffn_down.*=CPU," + moe_ot(4, 8) + '"'
    )
    assert totals_mib(result.layout) == [1896, 2886]
    # GPU0: layer 0 whole and layer 1 but its gate, down and router (941 + 340); GPU1 receives
    # those 601 MiB, layer 2 whole, layer 3 but ffn_down (641), layers 4-7 dense and the output.
    assert [u.model / MIB for u in result.layout.devices] == [1281, 601 + 941 + 641 + 164 + 500]


# --- step 2: the context, when -c is not given -------------------------------------------------


def make_long_context_model() -> tuple[Model, Inventory]:
    """The dense model trained at 65536 tokens with 4 KiB of KV per token per layer: 256 MiB per
    layer at 65536, 16 MiB at 4096."""
    return make_model(kv_width=1024, n_ctx_train=65536)


def test_one_gpu_reduces_the_context_by_interpolation_and_stops_there() -> None:
    """10024 MiB free: target 9000. At the trained 65536: 8500 + 2048 + 33 = 10581 (too much);
    at the minimum 4096: 8500 + 128 + 33 = 8661.
    n_ctx = 4096 + (65536 - 4096) x (9000 - 8661) / (10581 - 8661) = 4096 + 10848 = 14944,
    rounded down to a multiple of 256: 14848. One device: fit.cpp returns here, with -ngl still at
    its default (-1, printed as such)."""
    model, inv = make_long_context_model()
    result, probes = fit(model, inv, gpus(10024), n_ctx=None)
    assert probes == []
    assert result.layout.args() == "-c 14848 -ngl -1"
    assert result.ctx_reduced_from == 65536
    assert result.notes == ("context reduced from 65536 to 14848",)
    assert totals_mib(result.layout) == [8500 + 464 + 33]


def test_one_gpu_goes_down_to_4096_then_fills_layers() -> None:
    """6000 MiB free: target 4976 < 8661 (at 4096): n_ctx becomes the minimum, 4096, and step 3
    fills layers at that context: 9 x (4976 - 693) / (8661 - 693) = 4.8 -> 4 layers:
    3500 + 48 + 693 = 4241: low; then 5 layers = 5257: high."""
    model, inv = make_long_context_model()
    result, probes = fit(model, inv, gpus(6000), n_ctx=None)
    assert probes == ["0 = 693", "9 = 8661", "4 = 4241", "5 = 5257"]
    assert result.layout.args() == "-c 4096 -ngl 4"
    assert result.notes == ("context reduced from 65536 to 4096",)


def test_the_interpolated_context_never_goes_below_fit_ctx() -> None:
    """With --fit-ctx 1000 (KV padded to 1024 cells: 8565 MiB in all) and 0.5 MiB to spare above
    that: 1000 + 64536 x 0.5 / (10581 - 8565) = 1016, rounded down to 768, raised to 1000."""
    model, inv = make_long_context_model()
    result, _ = fit(model, inv, gpus(8565.5 + 1024), n_ctx=None, n_ctx_min=1000)
    assert result.layout.args() == "-c 1000 -ngl -1"


def test_two_gpus_reduce_the_context_conservatively_then_fill() -> None:
    """12500 MiB free on two GPUs (6250 each). At 65536, split 1:1 (GPU0 layers 0-4):
    6293 + 4301 = 10594 MiB, 142 MiB short of the margins.
    sum_used_target = 12500 - 2048 - (2 + 1) x model_per_layer / 2, model_per_layer = 8500 / 8:
    8858.25; at 4096: 5093 + 3581 = 8674.
    n_ctx = 4096 + 61440 x 184.25 / (10594 - 8674) = 9992 -> 9984. More than one device: step 3 at
    9984 (39 MiB of KV per layer), targets 5226:
      device 1: high 9 = 8845; 9 x 5226 / 8845 = 5.3 -> 5: 4500 + 156 + 33 = 4689: low;
        4 x 537 / 4156 -> 1: 6 = 5728: high.
      device 0: 4 unassigned: 4 | 5 = 4000 + 156 + 13 = 4169 <= 5226: taken whole.
    """
    model, inv = make_long_context_model()
    full = sizer_at(model, inv, gpus(6250, 6250))(65536).layout(-1, [], [])
    assert totals_mib(full) == [6293, 4301]
    result, probes = fit(model, inv, gpus(6250, 6250), n_ctx=None)
    assert probes == ["0 | 0 = 693 | 0", "0 | 9 = 13 | 8845", "0 | 5 = 693 | 4689",
                      "0 | 6 = 693 | 5728", "4 | 5 = 4169 | 4689"]  # fmt: skip
    assert result.layout.args() == "-c 9984 -ngl 9 -ts 4,5"
    assert totals_mib(result.layout) == [4169, 4689]


def test_no_changes_needed_keeps_the_trained_context_and_the_default_ngl() -> None:
    """llama-fit-params then prints the context fit.cpp resolved (the trained one when -c is unset)
    and the untouched -ngl default, -1; no -ts (tensor_split is all zeros)."""
    model, inv = make_long_context_model()
    result, probes = fit(model, inv, gpus(12000), n_ctx=None)
    assert (result.layout.args(), result.changed, probes) == ("-c 65536 -ngl -1", False, [])
    result, _ = fit(model, inv, gpus(7000, 7000))
    assert result.layout.args() == "-c 4096 -ngl -1"
    assert totals_mib(result.layout) == [5000 + 80 + 13, 3500 + 48 + 33]


def cpu_only_fit(host_mib: float, n_ctx: int | None = None) -> FitResult:
    """The long-context model on a machine without GPUs and `host_mib` of memory."""
    model, inv = make_long_context_model()
    return fit_params(sizer_at(model, inv, [], host=int(host_mib * MIB)), n_ctx, [MARGIN], 65536)


def test_a_cpu_only_machine_fits_the_context_to_system_memory() -> None:
    """nd = 0: fit.cpp compares the host's use with its total memory and can only reduce the
    context: at 65536 the host holds 9000 + 2048 + 33 MiB (plus the 64 KiB logits buffer);
    with 11000 MiB: 4096 + 61440 x (9976 - 9161.06) / 1920 = 30174 -> 29952."""
    roomy = cpu_only_fit(65536)
    assert (roomy.layout.n_ctx, roomy.layout.ngl, roomy.changed) == (65536, -1, False)
    assert roomy.layout.devices == ()
    assert roomy.layout.host.total == (9000 + 2048 + 33) * MIB + 16384 * 4
    reduced = cpu_only_fit(11000)
    assert (reduced.layout.n_ctx, reduced.ctx_reduced_from) == (29952, 65536)
    with pytest.raises(FitError):
        cpu_only_fit(9000)  # 9161 MiB even at 4096
    with pytest.raises(FitError):
        cpu_only_fit(11000, n_ctx=65536)  # -c set by the user: nothing fit.cpp may change


def test_a_cpu_only_fit_prints_ngl_as_llama_fit_params_does() -> None:
    assert cpu_only_fit(11000).layout.args() == "-c 29952 -ngl -1"


def test_a_cpu_only_fit_does_not_count_the_logits_buffer() -> None:
    """12105 MiB of host memory leave exactly the 1024 MiB margin at 65536 (11081 MiB): no
    changes in llama.cpp; counting the 64 KiB logits buffer makes it 1023.94 MiB."""
    result = cpu_only_fit(12105)
    assert (result.layout.n_ctx, result.changed) == (65536, False)


def test_a_negative_false_position_step_wraps_to_delta_minus_one() -> None:
    """800 MiB free: target -224 while the empty GPU takes 693. 9 x (-224 - 693) / (8541 - 693)
    = -1.05: C++ truncates to -1, uint32_t wraps, min(.., delta - 1) = 8: it probes 8 layers
    (7500 + 7 + 693 = 8200), then 8 x (-917) / 7507 = -0.98 -> 0 -> 1: the output alone (500 + 693).
    Only the probes
    differ (memory grows with layers, so both end at 0 layers)."""
    model, inv = make_model()
    result, probes = fit(model, inv, gpus(800))
    assert probes == ["0 = 693", "9 = 8541", "8 = 8200", "1 = 1193"]
    assert result.layout.args() == "-c 4096 -ngl 0"


# --- layer assignment (llama_model::load_tensors) ------------------------------------------------


def f32(x: float) -> float:
    return float(struct.unpack("f", struct.pack("f", x))[0])


def test_layers_are_split_at_float32_points_as_llama_cpp_computes_them() -> None:
    """llama-model.cpp sums the split in float and gives layer il to the first device whose split
    point is above float(il - i_gpu_start) / act_gpu_layers (std::upper_bound). Free memory of
    2000 MiB + 1 byte and 4000 MiB is an exact 1:2 split in float32 (2097152001 rounds to
    2097152000): the first point is float(1/3) = float(3/9), so layer 3 goes to GPU1. In double
    precision GPU0's share would be a hair above 1/3 and keep it."""
    model, inv = make_model()
    sizer = sizer_at(model, inv, [2000 * MIB + 1, 4000 * MIB])(4096)
    assert f32(2000 * MIB + 1) == 2000 * MIB and (2000 * MIB + 1) / (6000 * MIB) > 3 / 9
    assert sizer.assign(9, []) == [0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert sizer.assign(9, [1.0, 2.0]) == [0, 0, 0, 1, 1, 1, 1, 1, 1]


def test_ngl_counts_the_output_layer_and_offloads_from_the_back() -> None:
    """i_gpu_start = max(n_layer + 1 - ngl, 0), act_gpu_layers = min(ngl, n_layer + 1): -ngl 1 is
    the output layer alone, -ngl 8 of an 8-layer model leaves layer 0 on the CPU."""
    model, inv = make_model()
    sizer = sizer_at(model, inv, gpus(9000))(4096)
    assert sizer.assign(0, []) == [CPU] * 9
    assert sizer.assign(1, []) == [CPU] * 8 + [0]
    assert sizer.assign(8, []) == [CPU] + [0] * 8
    assert sizer.assign(100, []) == [0] * 9


# --- the real Qwen3-30B-A3B of the README ------------------------------------------------------


def catalog_config(provider: str, hf_id: str) -> dict[str, Any]:
    models = parse_provider_file(DATA_DIR / "providers" / f"{provider}.toml").models
    config: dict[str, Any] = next(m.fields["config"] for m in models if m.fields["hf_id"] == hf_id)
    return config


QWEN3_CONFIG = catalog_config("qwen", "Qwen/Qwen3-30B-A3B")
QWEN3_30B_A3B = config_key(QWEN3_CONFIG)


def qwen_sizer_at(probes: list[str] | None = None) -> SizerAt:
    """Qwen3-30B-A3B in F16 on the README's RTX 4090 (24077 MiB free)."""
    model = plan_model(QWEN3_30B_A3B, "F16")
    inv = inventory(QWEN3_CONFIG)
    return sizer_at(model, inv, gpus(24077), dims=shape(QWEN3_30B_A3B), probes=probes)


def test_qwen3_30b_a3b_f16_on_a_4090_as_the_current_fit_cpp_places_it() -> None:
    """tools/fit-params/README.md (24077 MiB free, margin 1024: target 23053):
    Step 1: at the trained 40960: 57666.3 (weights) + 3840 (KV) + 304.75 = 61811 MiB (the README's
      build printed 61807).
    Step 2: at 4096 it still takes 58355 > 23053: the context goes to the minimum, 4096, and the
      fit goes on (the README: "context size reduced from 40960 to 4096").
    Every expert on the host: 3598 MiB, a surplus of 19455 (the README: 16164).
    Step 3: 49/48 (layer 0 whole, 47 dense-only layers of 37 MiB, the output) = 4750.3: taken.
    Step 4: 49 = 58355 > 23053, delta 48: 48 x (23053 - 4750.3) / (58355 - 4750.3) = 16.4 -> 16:
      17 whole layers = 23182.3: high; 16 x 18302.7 / 18432 = 15.9 -> 15: 16 whole = 22030.3: low.
    Layer 16: UP (+383 MiB: attention, router, up) = 22413.3, GATE (+385) = 22798.3: kept.

    The README's build 6895 printed `-ngl 48` with the experts of layers 14-47 on the CPU: its
    -ngl counted repeating layers only (i_gpu_start = n_layer - ngl), and 48 left the output
    layer on the host. Current llama-model.cpp uses i_gpu_start = n_layer + 1 - ngl and fit.cpp
    always gives the output layer to the last device: -ngl 49 is every layer, and its
    blk.48 override (the output layer, as a "partial" layer) matches no tensor. With the output
    matrix on the GPU, GPU0's compute buffer holds the copy of a dense-only layer's experts
    (76 + 768 = 844 MiB) instead of the logits with a copy of the output matrix (898), and the
    fit keeps 16 whole layers and most of a 17th where the README's older fit stopped at 14.
    """
    probes: list[str] = []
    result = fit_params(qwen_sizer_at(probes), None, [MARGIN], 40960)
    assert probes == [
        "0 = 898.258",
        "49/48 = 4750.3",
        "49 = 58355.1",
        "49/32 = 23182.3",
        "49/33 = 22030.3",
        "49/33 UP = 22413.3",
        "49/33 GATE = 22798.3",
    ]
    assert result.layout.args() == (
        r'-c 4096 -ngl 49 -ot "blk\.16\.ffn_down.*=CPU,' + moe_ot(17, 48) + '"'
    )
    use = result.layout.devices[0]
    assert (use.model, use.context, use.compute) == (22618103808, 384 * MIB, 884996096)
    assert use.total // MIB == 22798 and (24077 * MIB - use.total) // MIB == 1278
    assert qwen_sizer_at()(4096).assign(48, [])[:2] == [CPU, 0]  # -ngl 48 today: layer 0 on the CPU


def test_qwen3_30b_a3b_memory_matches_the_readme_breakdown_where_comparable() -> None:
    """The README's breakdown of its placement (all 48 layers on CUDA0, experts of layers 14-47
    and the output layer on the host):
      CUDA0 model 17904: 14 whole layers (1189.02 MiB) + 34 dense parts (37.02 MiB) = 17904.8
      CUDA0 context 384: 48 layers x 4096 cells x 4 KV heads x 128 x 2 (K, V) x 2 bytes
      CUDA0 compute 898: the output layer on the host, so GPU0 computes the logits (304.75 MiB:
        512 x 151936 x 4 bytes + two hidden states) with a copy of the output matrix (593.5 MiB)
      Host compute 12: two hidden states (2 x 512 x 2048 x 4 = 8 MiB) + the F16 mask (4 MiB)
    """
    layer = plan_model(QWEN3_30B_A3B, "F16").layers[0]
    assert layer.expert_bytes == 3 * 128 * 768 * 2048 * 2  # up, gate, down stacks in F16
    dense = layer.bytes - layer.moves[Fraction.MOE - 1]
    assert dense == 38814720  # q 16 + k 2 + v 2 + o 16 + router 1 MiB + 17 KiB of norms
    assert (14 * layer.bytes + 34 * dense) // MIB == 17904
    sizer = qwen_sizer_at()(4096)
    assert sum(sizer.layer_kv) == 384 * MIB
    assert sizer.host_compute == 12 * MIB
    assert sizer.compute_output == 512 * 151936 * 4 + 2 * 512 * 2048 * 4  # 304.75 MiB
    assert sizer.model.output_bytes == 151936 * 2048 * 2 + 2048 * 4  # output + output_norm
    nothing_offloaded = sizer.layout(0, [], [])
    assert nothing_offloaded.devices[0].compute // MIB == 898


# --- invariants ---------------------------------------------------------------------------------


def models(experts: st.SearchStrategy[int]) -> st.SearchStrategy[tuple[Model, Inventory]]:
    return st.builds(
        make_model,
        n_layers=st.integers(1, 10),
        experts=experts,
        ffn_mib=st.integers(2, 400),
        attn_mib=st.integers(2, 60),
        out_mib=st.integers(2, 600),
    )


MODELS = models(st.sampled_from([0, 8, 64]))


@st.composite
def candidates(draw: st.DrawFn) -> tuple[Sizer, list[_Ngl], list[int]]:
    """A model, GPUs, and layers per device as fit.cpp builds them: partial layers last on each
    device (never the last device's every layer), overflowing to the CPU or the next GPU."""
    model, inv = draw(MODELS)
    nd = draw(st.integers(1, 4))
    free = draw(st.lists(st.integers(500, 20000), min_size=nd, max_size=nd))
    left = len(model.layers) + 1
    ngls = []
    for d in range(nd):
        n_layer = draw(st.integers(0, left))
        left -= n_layer
        most = max(n_layer - 1, 0) if d == nd - 1 else n_layer
        ngls.append(_Ngl(n_layer, draw(st.integers(0, most)), draw(st.sampled_from(Fraction))))
    bufts = [draw(st.sampled_from([CPU, d + 1])) for d in range(nd - 1)] + [CPU]
    return sizer_at(model, inv, gpus(*free))(4096), ngls, bufts


@settings(max_examples=100, deadline=None)
@given(candidates())
def test_totals_are_what_the_layout_of_the_same_candidate_holds(
    case: tuple[Sizer, list[_Ngl], list[int]],
) -> None:
    sizer, ngls, bufts = case
    ngl, split, overrides = _overrides(sizer, ngls, bufts)
    layout = sizer.layout(ngl, split, overrides)
    assert sizer.totals(ngls, bufts) == [u.total for u in layout.devices]


@settings(max_examples=60, deadline=None)
@given(MODELS, st.lists(st.integers(500, 12000), min_size=1, max_size=3))
def test_a_fit_keeps_every_device_within_its_target(
    made: tuple[Model, Inventory], free_mib: list[int]
) -> None:
    """Unless even an empty device is over it (GPU0's op-offload buffer), as in the MoE case above.
    (The routers here are 1 MiB, so overflowing a layer's attention only never stages more for
    GPU0 than its experts: fit.cpp does not re-check GPU0 after an extra partial layer.)"""
    model, inv = made
    free = gpus(*free_mib)
    targets = [f - MARGIN for f in free]
    empty = sizer_at(model, inv, free)(4096).totals([_Ngl() for _ in free], [CPU] * len(free))
    assume(all(e <= t for e, t in zip(empty, targets, strict=True)))
    result, _ = fit(model, inv, free)
    for use, target in zip(result.layout.devices, targets, strict=True):
        assert use.total <= target


@settings(max_examples=60, deadline=None)
@given(
    models(st.just(0)),
    st.integers(500, 12000),
    st.integers(0, 4000),
)
def test_more_free_memory_never_puts_fewer_layers_of_a_dense_model_on_the_gpu(
    made: tuple[Model, Inventory], free_mib: int, more_mib: int
) -> None:
    model, inv = made

    def layers_on_gpu(mib: int) -> int:
        layout = fit(model, inv, gpus(mib))[0].layout
        return len(model.layers) + 1 if layout.ngl < 0 else layout.ngl

    assert layers_on_gpu(free_mib) <= layers_on_gpu(free_mib + more_mib)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 12), st.integers(1, 10))
def test_n_cpu_moe_keeps_the_experts_of_the_first_n_layers_in_system_memory(
    n: int, n_layers: int
) -> None:
    """--n-cpu-moe N (common/arg.cpp): one LLM_FFN_EXPS_REGEX override for each of layers 0..N-1."""
    model, inv = make_moe(n_layers=n_layers)
    overrides = n_cpu_moe_overrides(n, n_layers)
    assert overrides == [Override(il, Fraction.MOE, CPU) for il in range(min(n, n_layers))]
    layout = sizer_at(model, inv, gpus(24000))(4096).layout(-1, [], overrides)
    assert layout.host.model == model.input_bytes + min(n, n_layers) * 900 * MIB
    for o in overrides:
        pattern = re.compile(o.text().removesuffix("=CPU"))
        assert pattern.search(f"blk.{o.layer}.ffn_gate_up_exps.weight")
        assert not pattern.search(f"blk.{o.layer}.ffn_gate_inp.weight")
        assert not pattern.search(f"blk.1{o.layer}.ffn_up_exps.weight")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=0, max_size=8))
def test_args_print_the_tensor_split_without_its_trailing_zeros(split: list[int]) -> None:
    """fit-params.cpp: `while (nd > 1 && tensor_split[nd - 1] == 0.0f) nd--;` then -ts only when
    more than one value is left."""
    model, inv = make_model()
    base = sizer_at(model, inv, gpus(9000))(4096).layout(4, [], [])
    kept = list(split)
    while len(kept) > 1 and kept[-1] == 0:
        kept.pop()
    expected = "-c 4096 -ngl 4" + (" -ts " + ",".join(map(str, kept)) if len(kept) > 1 else "")
    assert dataclasses.replace(base, tensor_split=tuple(split)).args() == expected


def test_args_print_overrides_as_llama_fit_params_does() -> None:
    layout = dataclasses.replace(
        sizer_at(*make_moe(), gpus(9000, 9000))(4096).layout(9, [4.0, 5.0], []),
        overrides=(Override(3, Fraction.UP, 1), Override(4, Fraction.MOE, CPU)),
    )
    assert layout.args() == (
        r'-c 4096 -ngl 9 -ts 4,5 -ot "blk\.3\.ffn_(gate|gate_up|down).*=CUDA1,'
        r'blk\.4\.ffn_(up|down|gate_up|gate)_(ch|)exps=CPU"'
    )
    assert layout.args("ROCm") == layout.args().replace("CUDA1", "ROCm1")


def test_experts_on_cpu_counts_repeating_layers_only() -> None:
    model, inv = make_moe()
    result, _ = fit(model, inv, gpus(5000))
    assert result.layout.experts_on_cpu == 6  # layers 2 (ffn_down) to 7; blk.8 matches nothing


def test_model_bytes_splits_a_real_moe_layer_by_fit_cpp_patterns() -> None:
    """Qwen3-30B-A3B in F16: each expert stack is 128 x 768 x 2048 x 2 bytes = 384 MiB; the
    router (ffn_gate_inp, F32, 1 MiB) matches the ATTN and UP patterns, not GATE or MOE."""
    layer = plan_model(QWEN3_30B_A3B, "F16").layers[0]
    stack, router = 384 * MIB, 1 * MIB
    assert layer.moves == (3 * stack + router, 2 * stack + router, stack, 3 * stack)
    assert layer.moves_experts == (3 * stack, 2 * stack, stack, 3 * stack)
    weights = quantize(inventory(QWEN3_CONFIG), "F16")
    blk0 = {t.tensor.name: t.bytes for t in weights.tensors if t.tensor.name.startswith("blk.0.")}
    assert layer.bytes == sum(blk0.values())
