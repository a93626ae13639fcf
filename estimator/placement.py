"""Where llama.cpp puts every tensor: GPU(s), system RAM, and the fit it picks itself.

`fit_params` reproduces llama.cpp's `llama_params_fit` (common/fit.cpp, build of
llama-cpp-python 0.3.36) rule by rule, with our memory model standing in for the dry-run load it
measures each candidate with:
1. With every layer on the GPUs (split by free memory), does each device keep its margin
   (1024 MiB)? Then nothing changes.
2. Otherwise, when the context was not set (`n_ctx` None: the model's trained context), reduce it
   by linear interpolation between the trained context and the minimum (4096), rounded down to
   a multiple of 256; with one device that is the end if it fits.
3. Fill layers back to front, device by device from the last, by the method of false position;
   for a MoE model these are "dense-only" layers (every expert tensor in system memory). The
   output layer counts as one layer and always belongs to the last device, whole.
4. For a MoE model whose dense weights all fit, convert dense-only layers into full layers front
   to back, then try to fit part of one more layer (attention + up projection, + gate, or
   attention alone), overflowing to the next device or to system memory.
The result is what `llama-fit-params` prints: `-c N -ngl N [-ts a,b] [-ot "pattern=buffer,..."]`.

`Sizer.layout` evaluates a placement the user forces (`-ngl`, `n_cpu_moe_overrides` for
`--n-cpu-moe`); with an unset context, `fit_params(..., fill=False)` resolves the context first,
as fit.cpp does before it gives up on a user's -ngl / -ot.

Memory per device follows llama.cpp's layer assignment (llama_model::load_tensors): the input
embedding always stays on the CPU; with `ngl` layers offloaded, repeating layers from
`n_layer + 1 - ngl` on and the output layer go to the GPUs, split by `-ts` (by free memory
when unset) in float32 arithmetic exactly as llama.cpp computes the split points; tensor
overrides then move matching tensors elsewhere; a layer's KV cache stays with the layer.
Compute buffers (approximate, as in memory.py): the device with the output layer holds the whole
graph's peak, other GPUs the peak without the logits, the host two hidden-state buffers (the
whole peak when the output or, on a CPU-only machine, everything runs there). Batches of 32
tokens or more run on the first GPU even for weights held in system RAM (ggml's op offload,
GGML_OP_OFFLOAD_MIN_BATCH): the first GPU's compute buffer also holds the copies of one layer's
host weights; as the README trace shows (898 MiB for two F16 expert tensors of 384 MiB each plus
activations), the largest of a layer's tensors is not held together with the others.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import IntEnum
from functools import cached_property, lru_cache

from estimator.ggml import TYPES
from estimator.inventory import Inventory
from estimator.kv import KvCache, kv_cache, v_row_width
from estimator.memory import MemoryOptions, Shape, compute_parts
from estimator.quant import Weights

MIB = 1 << 20
N_CTX_MIN = 4096  # --fit-ctx default (common/common.h fit_params_min_ctx)
OP_OFFLOAD_MIN_BATCH = 32  # ggml-cuda: GGML_OP_OFFLOAD_MIN_BATCH default
CPU = -1  # device index of system memory


class Fraction(IntEnum):
    """Which part of a layer stays on its device (common_layer_fraction_t)."""

    ATTN = 1  # attention only: every ffn_(gate|up|gate_up|down) tensor overflows
    UP = 2  # attention + up projection
    GATE = 3  # attention + up + gate: only ffn_down overflows
    MOE = 4  # everything but the routed experts


# The overflow patterns of fit.cpp, applied to a layer's tensor names (std::regex_search).
_OVERFLOW = {
    Fraction.ATTN: re.compile(r"\.ffn_(gate|up|gate_up|down)"),
    Fraction.UP: re.compile(r"\.ffn_(gate|gate_up|down)"),
    Fraction.GATE: re.compile(r"\.ffn_down"),
    Fraction.MOE: re.compile(r"\.ffn_(up|down|gate_up|gate)_(ch|)exps"),
}
_PATTERN_TEXT = {
    Fraction.ATTN: r"blk\.{il}\.ffn_(gate|up|gate_up|down).*",
    Fraction.UP: r"blk\.{il}\.ffn_(gate|gate_up|down).*",
    Fraction.GATE: r"blk\.{il}\.ffn_down.*",
    Fraction.MOE: r"blk\.{il}\.ffn_(up|down|gate_up|gate)_(ch|)exps",
}


def _f32(x: float) -> float:
    return float(struct.unpack("f", struct.pack("f", x))[0])


@dataclass(frozen=True)
class Layer:
    """One repeating layer's weight bytes, and what each overflow fraction moves off it."""

    bytes: int
    expert_bytes: int  # routed experts (MoE tensors)
    moves: tuple[int, int, int, int]  # bytes moved by ATTN, UP, GATE, MOE
    moves_experts: tuple[int, int, int, int]  # of which routed experts
    staged: tuple[int, int, int, int, int]  # op-offload copy if moved: ATTN..MOE, whole layer


@dataclass(frozen=True)
class Model:
    """What placement needs of a model at one quant: per-layer bytes and the rest."""

    layers: tuple[Layer, ...]
    input_bytes: int  # token embedding (and other input tensors): always system memory
    output_bytes: int  # output norm and head (a tied embedding is duplicated there)
    n_experts: int
    n_experts_used: int
    n_ctx_train: int

    @cached_property
    def prefix_bytes(self) -> list[int]:
        """Sums of the layers' bytes: prefix_bytes[j] - prefix_bytes[i] is layers i..j-1."""
        return _prefix([layer.bytes for layer in self.layers])

    @cached_property
    def prefix_moe(self) -> list[int]:
        """Sums of the bytes the MoE fraction moves off each layer (its routed experts)."""
        return _prefix([layer.moves[Fraction.MOE - 1] for layer in self.layers])


def _staged(sizes: list[int]) -> int:
    """Op-offload copies of one layer alive together: all but its largest tensor."""
    return sum(sizes) - max(sizes, default=0)


@lru_cache(maxsize=1 << 16)
def _moved_by(name: str) -> tuple[bool, ...]:
    """For each Fraction, whether its overflow pattern takes this tensor (once per name)."""
    return tuple(bool(_OVERFLOW[fraction].search(name)) for fraction in Fraction)


def model_bytes(inv: Inventory, weights: Weights, n_ctx_train: int) -> Model:
    per_layer: list[list[tuple[str, int, bool]]] = [[] for _ in range(inv.n_layers)]
    input_bytes = output_bytes = 0
    tied = not any(t.tensor.name == "output.weight" for t in weights.tensors)
    for t in weights.tensors:
        name = t.tensor.name
        if name.startswith("blk."):
            il = int(name.split(".", 2)[1])
            if il < inv.n_layers:
                per_layer[il].append((name, t.bytes, t.tensor.experts > 1))
                continue
            input_bytes += t.bytes  # MTP / next-token layers are not offloaded here
        elif name.startswith("output"):
            output_bytes += t.bytes
        else:
            input_bytes += t.bytes
            if name == "token_embd.weight" and tied:
                output_bytes += t.bytes  # llama.cpp duplicates the tied embedding as output
    layers = []
    for tensors in per_layer:
        moves, moves_experts, staged = [], [], []
        for i, _fraction in enumerate(Fraction):
            hit = [(b, e) for name, b, e in tensors if _moved_by(name)[i]]
            moves.append(sum(b for b, _ in hit))
            moves_experts.append(sum(b for b, e in hit if e))
            staged.append(_staged([b for b, _ in hit if b > 1 * MIB]))
        staged.append(_staged([b for _, b, _ in tensors if b > 1 * MIB]))
        layers.append(
            Layer(
                bytes=sum(b for _, b, _ in tensors),
                expert_bytes=sum(b for _, b, e in tensors if e),
                moves=(moves[0], moves[1], moves[2], moves[3]),
                moves_experts=(
                    moves_experts[0],
                    moves_experts[1],
                    moves_experts[2],
                    moves_experts[3],
                ),
                staged=(staged[0], staged[1], staged[2], staged[3], staged[4]),
            )
        )
    return Model(
        tuple(layers), input_bytes, output_bytes, inv.n_experts, inv.n_experts_used, n_ctx_train
    )


@dataclass(frozen=True)
class Override:
    """`-ot pattern=buffer`: the tensors of layer `layer` matched by `fraction` go to `device`."""

    layer: int
    fraction: Fraction
    device: int  # CPU (-1) or a GPU index

    def text(self, gpu_name: str = "CUDA") -> str:
        target = "CPU" if self.device == CPU else f"{gpu_name}{self.device}"
        return _PATTERN_TEXT[self.fraction].format(il=self.layer) + "=" + target


@dataclass(frozen=True)
class Use:
    """Bytes llama.cpp allocates on one device (or in system memory), like its memory breakdown."""

    model: int = 0
    context: int = 0
    compute: int = 0
    read: float = 0.0  # weight bytes one decoded token reads here (MoE: the routed share)
    layers: int = 0  # repeating layers computed here

    @property
    def total(self) -> int:
        return self.model + self.context + self.compute


@dataclass(frozen=True)
class Layout:
    """A placement: llama.cpp's -c, -ngl, -ts and tensor overrides, and what each device holds."""

    n_ctx: int
    ngl: int
    tensor_split: tuple[int, ...]  # empty: split by free memory
    overrides: tuple[Override, ...]
    devices: tuple[Use, ...]
    host: Use
    layer_device: tuple[int, ...]  # device of each repeating layer and (last) the output layer
    kv: KvCache

    def args(self, gpu_name: str = "CUDA") -> str:
        """The arguments as `llama-fit-params` prints them (-ngl -1: every layer; an override of
        blk.<n_layer>, which --fit writes for the output layer's slot, matches no tensor)."""
        out = f"-c {self.n_ctx} -ngl {self.ngl}"
        split = list(self.tensor_split)
        while len(split) > 1 and split[-1] == 0:
            split.pop()
        if len(split) > 1:
            out += " -ts " + ",".join(str(n) for n in split)
        if self.overrides:
            out += ' -ot "' + ",".join(o.text(gpu_name) for o in self.overrides) + '"'
        return out

    @property
    def experts_on_cpu(self) -> int:
        """Repeating layers whose routed experts (all or part) are in system memory."""
        n = len(self.layer_device) - 1
        return sum(1 for o in self.overrides if o.device == CPU and o.layer < n)


class Sizer:
    """Memory of any placement of one model on one machine's devices at one context."""

    def __init__(
        self,
        model: Model,
        inv: Inventory,
        dims: Shape,
        opts: MemoryOptions,
        free: Sequence[int],
        host_total: int,
        unified_host: bool = False,
    ) -> None:
        self.model, self.inv, self.dims, self.opts = model, inv, dims, opts
        self.free = list(free)
        self.nd = len(self.free)
        self.host_total = host_total
        self.unified_host = unified_host  # no op offload: the GPU reads system memory itself
        self.n_layer = len(model.layers)
        self.kv = kv_cache(inv, opts.kv())
        self.layer_kv = _layer_kv(inv, self.kv, opts)
        self.compute_output, self.compute_layers = compute_parts(dims, inv, self.kv, opts)
        ub = min(opts.n_ubatch, max(self.kv.n_ctx, 1))
        # Input embeddings, a hidden-state buffer and the F16 attention mask stay on the host
        # (12 MiB in the README trace of Qwen3-30B-A3B at -c 4096).
        mask = (self.kv.cells_full or self.kv.cells_swa) * ub * 2
        self.host_compute = 2 * ub * 4 * dims.hidden + mask
        self.output_buffer = dims.vocab * 4 * opts.n_seq  # logits, in host memory
        self.op_offload = ub >= OP_OFFLOAD_MIN_BATCH and not unified_host
        # Prefix sums over layers: bytes, KV and what the MoE fraction moves.
        self._bytes = model.prefix_bytes
        self._kv = _prefix(self.layer_kv)
        self._moe = model.prefix_moe

    def assign(self, ngl: int, split: Sequence[float]) -> list[int]:
        """Device of each repeating layer and of the output layer (llama_model::load_tensors)."""
        n_all = self.n_layer
        if self.nd == 0:
            return [CPU] * (n_all + 1)
        start = max(n_all + 1 - ngl, 0)
        act = min(ngl, n_all + 1)
        if self.nd == 1:  # no split points to compute
            return [CPU if il < start or il - start >= act else 0 for il in range(n_all + 1)]
        weights = list(split) if any(split) else [float(f) for f in self.free]
        cumulative, total = [], 0.0
        for w in weights:
            total = _f32(total + _f32(w))
            cumulative.append(total)
        points = [_f32(c / total) for c in cumulative] if total else [1.0] * self.nd
        out = []
        for il in range(n_all + 1):
            if il < start or il - start >= act:
                out.append(CPU)
                continue
            x = _f32((il - start) / act)
            out.append(next((i for i, p in enumerate(points) if p > x), self.nd - 1))
        return out

    def ranges(self, ngl: int, split: Sequence[float]) -> tuple[int, list[tuple[int, int]]]:
        """`assign` as ranges: the first offloaded layer and each device's [first, end) layers
        (the output layer is index n_layer)."""
        if self.nd == 1:
            first = max(self.n_layer + 1 - ngl, 0)
            return first, [(first, self.n_layer + 1) if ngl > 0 else (0, 0)]
        where = self.assign(ngl, split)
        start = self.n_layer + 1
        out = [(0, 0)] * self.nd
        for il, dev in enumerate(where):
            if dev == CPU:
                continue
            start = min(start, il)
            lo, hi = out[dev]
            out[dev] = (il, il + 1) if lo == hi else (lo, il + 1)
        return start, out

    def totals(self, ngls: Sequence[_Ngl], bufts: Sequence[int]) -> list[int]:
        """Bytes on each device for a candidate of the fit (fit.cpp's get_memory_for_layers),
        from prefix sums: what `layout` gives for the same placement, without building it."""
        return self.measure(ngls, bufts)

    def measure(self, ngls: Sequence[_Ngl], bufts: Sequence[int]) -> list[int]:
        """`totals` for the fit's own measurements outside its search (steps 1 and 2, the
        dense-only surplus: common_get_device_memory_data in fit.cpp)."""
        n_all, nd = self.n_layer, self.nd
        ngl = sum(n.n_layer for n in ngls)
        split = [float(n.n_layer) for n in ngls] if nd > 1 else []
        start, ranges = self.ranges(ngl, split)
        model = [0] * nd
        context = [0] * nd
        has_layers = [False] * nd
        staged = max((layer.staged[4] for layer in self.model.layers[:start]), default=0)
        out_dev = CPU
        il0 = n_all + 1 - ngl
        for d, (lo, hi) in enumerate(ranges):
            top = min(hi, n_all)
            if hi > n_all:
                out_dev = d
                model[d] += self.model.output_bytes
            if top > lo:
                has_layers[d] = True
                model[d] += self._bytes[top] - self._bytes[lo]
                context[d] += self._kv[top] - self._kv[lo]
            n = ngls[d]
            il0 += n.n_full
            if n.n_part and il0 < n_all:  # an override of blk.<n_layer> matches nothing
                first = self.model.layers[il0]
                k = n.overflow - 1
                model[d] -= first.moves[k]
                if bufts[d] != CPU:
                    model[bufts[d]] += first.moves[k]
                else:
                    staged = max(staged, first.staged[k])
                a, b = il0 + 1, min(il0 + n.n_part, n_all)
                if b > a:
                    model[d] -= self._moe[b] - self._moe[a]
                    staged = max(staged, max(x.staged[3] for x in self.model.layers[a:b]))
            il0 += n.n_part
        out_stage, layer_stage = self.compute_output, self.compute_layers
        compute = [0] * nd
        for d in range(nd):
            if has_layers[d] or d == out_dev:
                compute[d] = max(out_stage, layer_stage) if d == out_dev else layer_stage
        if nd and self.op_offload:
            first_gpu = layer_stage + staged
            if out_dev == CPU:
                first_gpu = max(first_gpu, out_stage + self.model.output_bytes)
            compute[0] = max(compute[0], first_gpu)
        return [model[d] + context[d] + compute[d] for d in range(nd)]

    def layout(self, ngl: int, split: Sequence[float], overrides: Sequence[Override]) -> Layout:
        where = self.assign(self.n_layer + 1 if ngl < 0 else ngl, split)
        moved = {o.layer: o for o in overrides}
        n = self.nd
        model = [0] * (n + 1)  # index CPU (-1) is the last slot: system memory
        context = [0] * (n + 1)
        read = [0.0] * (n + 1)
        layers = [0] * (n + 1)
        staged_host = 0
        share = self.model.n_experts_used / self.model.n_experts if self.model.n_experts else 1.0
        for il, layer in enumerate(self.model.layers):
            dev = where[il]
            context[dev] += self.layer_kv[il]
            layers[dev] += 1
            kept, kept_experts = layer.bytes, layer.expert_bytes
            o = moved.get(il)
            if o is not None and o.device != dev:
                k = o.fraction - 1
                moved_bytes, moved_experts = layer.moves[k], layer.moves_experts[k]
                kept -= moved_bytes
                kept_experts -= moved_experts
                model[o.device] += moved_bytes
                read[o.device] += moved_bytes - moved_experts + moved_experts * share
                if o.device == CPU:
                    staged_host = max(staged_host, layer.staged[k])
            model[dev] += kept
            read[dev] += kept - kept_experts + kept_experts * share
            if dev == CPU and n:
                staged_host = max(staged_host, layer.staged[4])
        out_dev = where[self.n_layer]
        model[out_dev] += self.model.output_bytes
        read[out_dev] += self.model.output_bytes
        model[CPU] += self.model.input_bytes
        compute = [0] * (n + 1)
        out_stage, layer_stage = self.compute_output, self.compute_layers
        for d in range(n):
            if layers[d] or d == out_dev:
                compute[d] = max(out_stage, layer_stage) if d == out_dev else layer_stage
        if n == 0:
            compute[CPU] = max(out_stage, layer_stage)
        elif self.op_offload:
            # Batches run on the first GPU, with copies of the host weights they use: the
            # logits with the output matrix when it stays on the host, a layer with its weights.
            compute[CPU] = self.host_compute
            first = layer_stage + staged_host
            if out_dev == CPU:
                first = max(first, out_stage + self.model.output_bytes)
            compute[0] = max(compute[0], first)
        else:
            compute[CPU] = self.host_compute
            if out_dev == CPU:
                compute[CPU] = max(out_stage, layer_stage)
        compute[CPU] += self.output_buffer
        uses = [Use(model[d], context[d], compute[d], read[d], layers[d]) for d in range(n)]
        host = Use(model[CPU], context[CPU], compute[CPU], read[CPU], layers[CPU])
        return Layout(
            n_ctx=self.opts.n_ctx,
            ngl=ngl,
            tensor_split=tuple(int(s) for s in split) if n > 1 and any(split) else (),
            overrides=tuple(overrides),
            devices=tuple(uses),
            host=host,
            layer_device=tuple(where),
            kv=self.kv,
        )


def _prefix(values: Sequence[int]) -> list[int]:
    out = [0]
    for v in values:
        out.append(out[-1] + v)
    return out


def _layer_kv(inv: Inventory, kv: KvCache, opts: MemoryOptions) -> list[int]:
    """KV cache (or recurrent state) bytes of each layer, as kv.kv_cache sums them."""
    k_type, v_type = TYPES[opts.type_k.upper()], TYPES[opts.type_v.upper()]
    v_rows = v_row_width(inv, opts.flash_attn)
    out = []
    for layer in inv.cache:
        if layer.kind == "recurrent":
            out.append((layer.r_size + layer.s_size) * 4 * max(1, opts.n_seq))
            continue
        if layer.kind == "none":
            out.append(0)
            continue
        per_cell = k_type.row_bytes(layer.k_width) if layer.k_width else 0
        if layer.v_width:
            per_cell += v_type.row_bytes(v_rows or layer.v_width)
        cells = kv.cells_swa if layer.kind == "swa" else kv.cells_full
        out.append(per_cell * cells * kv.streams)
    out += [0] * (inv.n_layers - len(out))
    return out[: inv.n_layers]


# --- llama_params_fit -----------------------------------------------------------------------


@dataclass
class _Ngl:
    n_layer: int = 0
    n_part: int = 0
    overflow: Fraction = Fraction.MOE

    @property
    def n_full(self) -> int:
        return self.n_layer - self.n_part


@dataclass(frozen=True)
class FitResult:
    layout: Layout
    changed: bool  # False: the defaults already leave every margin
    ctx_reduced_from: int | None  # the trained context, when the fit reduced it
    notes: tuple[str, ...]


class FitError(ValueError):
    """llama_params_fit gives up (it then loads with the defaults, which fail to allocate)."""


SizerAt = Callable[[int], Sizer]  # a Sizer for a given n_ctx


def fit_params(
    sizer_at: SizerAt,
    n_ctx: int | None,
    margins: Sequence[int],
    n_ctx_train: int,
    n_ctx_min: int = N_CTX_MIN,
    n_streams: int = 1,
    fill: bool = True,
) -> FitResult:
    """llama_params_fit: the -c, -ngl, -ts and -ot llama.cpp picks (see the module docstring)."""
    n_ctx_auto = not n_ctx
    n_ctx_max = n_ctx_train * n_streams
    n_ctx_min_total = n_ctx_min * n_streams
    sizer = sizer_at(n_ctx or n_ctx_max)
    nd, n_all = sizer.nd, sizer.n_layer
    hp_ngl = n_all
    notes: list[str] = []
    # One GPU: every layer on it is _Ngl(n_layer + 1), summed without building the layout.
    everything = [_Ngl(n_all + 1)]
    full = sizer.layout(-1, [], []) if nd != 1 else None
    if nd == 0:
        assert full is not None
        # A CPU-only machine: only the context can change, against the total system memory.
        # llama_get_memory_breakdown has no output buffer: model + context + compute only.
        used = full.host.total - sizer.output_buffer
        if sizer.host_total - used >= margins[0]:
            return FitResult(full, False, None, ("no changes needed",))
        if n_ctx_auto and n_ctx_max > n_ctx_min_total:
            small = sizer_at(n_ctx_min_total)
            used_min = small.layout(-1, [], []).host.total - small.output_buffer
            target = sizer.host_total - margins[0]
            if target > used_min:
                ctx = _interpolate(n_ctx_max, n_ctx_min_total, n_streams, target, used_min, used)
                notes.append(f"context reduced from {n_ctx_max} to {ctx}")
                return FitResult(sizer_at(ctx).layout(-1, [], []), True, n_ctx_max, tuple(notes))
        raise FitError("the model does not fit in system memory, even with the minimum context")
    projected_used = (
        sizer.measure(everything, [CPU]) if full is None else [u.total for u in full.devices]
    )
    projected_free = [f - u for f, u in zip(sizer.free, projected_used, strict=True)]
    if all(pf >= m for pf, m in zip(projected_free, margins, strict=True)):
        layout = full or sizer.layout(-1, [], [])
        return FitResult(layout, False, None, ("no changes needed",))

    # step 2: reduce the context
    ctx_from = None
    global_surplus = sum(projected_free) - sum(margins)
    if global_surplus < 0 and n_ctx_auto and n_ctx_max > n_ctx_min_total:
        sum_used_target = sum(sizer.free) - sum(margins)
        if nd > 1:
            assert full is not None
            model_per_layer = sum(u.model for u in full.devices) // hp_ngl
            divisor = 2 if sizer.model.n_experts == 0 else 6
            sum_used_target -= (nd + 1) * model_per_layer // divisor
        small = sizer_at(n_ctx_min_total)
        used_min = sum(
            small.measure(everything, [CPU])
            if nd == 1
            else [u.total for u in small.layout(-1, [], []).devices]
        )
        used_max = sum(projected_used)
        ctx = n_ctx_min_total
        if sum_used_target > used_min:
            ctx = _interpolate(
                n_ctx_max, n_ctx_min_total, n_streams, sum_used_target, used_min, used_max
            )
            ctx_from = n_ctx_max
            sizer = sizer_at(ctx)
            notes.append(f"context reduced from {n_ctx_max} to {ctx}")
            if nd <= 1:
                return FitResult(sizer.layout(-1, [], []), True, ctx_from, tuple(notes))
        else:
            ctx_from = n_ctx_max
            sizer = small
            notes.append(f"context reduced from {n_ctx_max} to {ctx}")
    if not fill:
        # The user set -ngl / -ot: fit.cpp stops here, keeping the context it resolved.
        return FitResult(sizer.layout(-1, [], []), ctx_from is not None, ctx_from, tuple(notes))
    targets = [f - m for f, m in zip(sizer.free, margins, strict=True)]
    return _fill(sizer, targets, hp_ngl, ctx_from, notes)


def _step(delta: int, room: int, span: int) -> int:
    """fit.cpp's false-position step: `uint32_t step = int64_t(delta) * room / span`, clamped
    to [1, delta - 1]. C++ division truncates toward zero, and a negative quotient wraps to a
    huge unsigned value, which the clamp turns into delta - 1."""
    quotient = abs(delta * room) // abs(span)
    if (delta * room < 0) != (span < 0) and quotient:
        return delta - 1
    return min(max(quotient, 1), delta - 1)


def _interpolate(
    n_max: int, n_min: int, n_streams: int, target: int, used_min: int, used_max: int
) -> int:
    """Linear interpolation between the minimum and the trained context, rounded down to 256 per
    stream (for the CUDA backend)."""
    ctx = n_min + (n_max - n_min) * (target - used_min) // (used_max - used_min)
    align = 256 * n_streams
    return max(ctx - ctx % align, n_min)


def _overrides(
    sizer: Sizer, ngls: Sequence[_Ngl], bufts: Sequence[int]
) -> tuple[int, list[float], list[Override]]:
    nd, hp_ngl = sizer.nd, sizer.n_layer
    ngl = sum(n.n_layer for n in ngls)
    split = [float(n.n_layer) for n in ngls] if nd > 1 else []
    il0 = hp_ngl + 1 - ngl
    out = []
    for d, n in enumerate(ngls):
        il0 += n.n_full
        for il in range(il0, il0 + n.n_part):
            if il == il0:
                out.append(Override(il, n.overflow, bufts[d]))
            else:
                out.append(Override(il, Fraction.MOE, CPU))
        il0 += n.n_part
    return ngl, split, out


def _final(sizer: Sizer, ngls: Sequence[_Ngl], bufts: Sequence[int]) -> Layout:
    ngl, split, overrides = _overrides(sizer, ngls, bufts)
    return sizer.layout(ngl, split, overrides)


def _copy(ngls: Sequence[_Ngl]) -> list[_Ngl]:
    return [replace(n) for n in ngls]


def _fill(
    sizer: Sizer, targets: list[int], hp_ngl: int, ctx_from: int | None, notes: list[str]
) -> FitResult:
    nd = sizer.nd
    moe = sizer.model.n_experts > 0
    surplus_cpu_moe = 0
    if moe:
        if nd == 1:  # every layer's experts in system memory, as one partial run
            dense_used = sizer.measure([_Ngl(hp_ngl + 1, hp_ngl + 1, Fraction.MOE)], [CPU])
        else:
            all_moe = [Override(il, Fraction.MOE, CPU) for il in range(sizer.n_layer)]
            dense_used = [u.total for u in sizer.layout(hp_ngl + 1, [], all_moe).devices]
        for d in range(nd):
            surplus_cpu_moe += targets[d] - dense_used[d]
    bufts = [CPU] * nd
    ngls = [_Ngl() for _ in range(nd)]
    mem = sizer.totals(ngls, bufts)

    # step 3: dense (MoE: dense-only) layers back to front
    for d in range(nd - 1, -1, -1):
        n_unassigned = hp_ngl + 1 - sum(ngls[j].n_layer for j in range(d + 1, nd))
        high = _copy(ngls)
        high[d].n_layer = n_unassigned
        if moe:
            high[d].n_part = high[d].n_layer if d < nd - 1 else high[d].n_layer - 1
        if high[d].n_layer > 0:
            mem_high = sizer.totals(high, bufts)
            if mem_high[d] > targets[d]:
                delta = high[d].n_layer - ngls[d].n_layer
                while delta > 1:
                    step = _step(delta, targets[d] - mem[d], mem_high[d] - mem[d])
                    test = _copy(ngls)
                    test[d].n_layer += step
                    if moe:
                        test[d].n_part += step - 1 if d == nd - 1 and test[d].n_part == 0 else step
                    mem_test = sizer.totals(test, bufts)
                    if mem_test[d] <= targets[d]:
                        ngls, mem = test, mem_test
                    else:
                        high, mem_high = test, mem_test
                    delta = high[d].n_layer - ngls[d].n_layer
            else:
                ngls, mem = high, mem_high
    if not moe or surplus_cpu_moe <= 0:
        if moe:
            notes.append("even the dense weights alone do not fit: whole layers stay on the CPU")
        return FitResult(_final(sizer, ngls, bufts), True, ctx_from, tuple(notes))

    # step 4: convert dense-only layers to full layers, front to back
    dense_start = nd
    for d in range(nd - 1, -1, -1):
        if ngls[d].n_layer > 0:
            dense_start = d
            continue
        break
    d = 0
    while d <= dense_start and dense_start < nd:
        high = _copy(ngls)
        for j in range(dense_start, nd):
            move = high[j].n_layer if j < nd - 1 else high[j].n_layer - 1
            high[d].n_layer += move
            high[j].n_layer -= move
            high[j].n_part = 0
        dense_start_high = nd - 1
        mem_high = sizer.totals(high, bufts)
        if mem_high[d] > targets[d]:
            delta = high[d].n_full - ngls[d].n_full
            while delta > 1:
                step = _step(delta, targets[d] - mem[d], mem_high[d] - mem[d])
                test = _copy(ngls)
                start_test = dense_start
                converted = 0
                while start_test < nd:
                    n_convert = min(step - converted, test[start_test].n_part)
                    test[start_test].n_layer -= n_convert
                    test[start_test].n_part -= n_convert
                    test[d].n_layer += n_convert
                    converted += n_convert
                    if test[start_test].n_part > 0:
                        break
                    start_test += 1
                mem_test = sizer.totals(test, bufts)
                if mem_test[d] <= targets[d]:
                    ngls, mem, dense_start = test, mem_test, start_test
                else:
                    high, mem_high, dense_start_high = test, mem_test, start_test
                delta = high[d].n_full - ngls[d].n_full
        else:
            ngls, mem, dense_start = high, mem_high, dense_start_high

        # try to fit at least part of one more layer
        if dense_start < nd and ngls[dense_start].n_layer > (0 if d < nd - 1 else 1):
            test = _copy(ngls)
            start_test = dense_start
            test[start_test].n_layer -= 1
            test[start_test].n_part -= 1
            test[d].n_layer += 1
            test[d].n_part += 1
            if test[start_test].n_part == 0:
                start_test += 1
            test[d].overflow = Fraction.UP
            bufts_test = list(bufts)
            if d < nd - 1:
                bufts_test[d] = d + 1

            def ok(m: list[int], dev: int = d) -> bool:
                return m[dev] < targets[dev] and (dev + 1 == nd or m[dev + 1] < targets[dev + 1])

            mem_test = sizer.totals(test, bufts_test)
            if ok(mem_test):
                ngls, bufts, mem, dense_start = test, bufts_test, mem_test, start_test
                test = _copy(test)
                test[d].overflow = Fraction.GATE
                mem_test = sizer.totals(test, bufts_test)
                if ok(mem_test):
                    ngls, bufts, mem, dense_start = test, bufts_test, mem_test, start_test
            else:
                test[d].overflow = Fraction.ATTN
                mem_test = sizer.totals(test, bufts_test)
                if ok(mem_test):
                    ngls, bufts, mem, dense_start = test, bufts_test, mem_test, start_test
        d += 1
    return FitResult(_final(sizer, ngls, bufts), True, ctx_from, tuple(notes))


def n_cpu_moe_overrides(n: int, n_layer: int) -> list[Override]:
    """--n-cpu-moe N: the routed experts of the first N layers stay in system memory."""
    return [Override(il, Fraction.MOE, CPU) for il in range(min(n, n_layer))]
