"""The multimodal projector file llama.cpp loads beside a model (``--mmproj mmproj-*.gguf``).

Three numbers per model, from its config.json (the catalog's ``[models.config]`` table):

- ``mmproj_bytes``: the tensor data of the mmproj GGUF, exact. Tensor by tensor as llama.cpp's
  converters write it (llama-cpp-python 0.3.36's vendored llama.cpp): ``convert_hf_to_gguf.py
  --mmproj`` (``conversion/base.py`` ``MmprojModel``, ``gemma.py``, ``llava.py``, ``ultravox.py``)
  and, for LLaVA 1.5/1.6, which that converter refuses, the documented legacy route
  (``tools/mtmd/legacy-models/convert_image_encoder_to_gguf.py``, f16 only).
- ``mmproj_compute_bytes``: the compute buffer ``tools/mtmd/clip.cpp`` ends up with, approximate.
- ``image_tokens``: the LM context one image takes in ``tools/mtmd/mtmd.cpp``.

Every number was checked against the real converters and ``clip.cpp`` (CPU backend) on
zero-weight checkpoints in the real shapes; ``tests/estimator/test_mmproj.py`` holds them. A model
whose encoder llama.cpp cannot convert or load (Phi-3.5-vision, Phi-4-multimodal) gets None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from estimator.config import Config, ConfigError, text_config
from estimator.ggml import TYPES

# The converter's --outtype for an mmproj -> the ggml type of its matrices.
FILE_TYPES: Mapping[str, str] = {"f16": "F16", "bf16": "BF16", "q8_0": "Q8_0"}

# Configs whose vision tower convert_hf_to_gguf writes as PROJECTOR_TYPE_QWEN3VL
# (conversion/qwen3vl.py Qwen3VLVisionModel): Qwen3-VL, and Qwen3.5 / 3.6, natively multimodal.
QWEN3VL_TYPES = ("qwen3_vl", "qwen3_vl_moe", "qwen3_5", "qwen3_5_moe")
# clip.cpp's Qwen-VL limit: at most 4,096 merged patches (image tokens) per image
# (set_limit_image_tokens(8, 4096)); larger images are scaled down to fit.
QWEN3VL_MAX_TOKENS = 4096

# clip.cpp's PROJECTOR_TYPE_PIXTRAL limit: at most 1,024 merged patches per image
# (set_limit_image_tokens(8, 1024)); larger images are scaled down to fit.
PIXTRAL_MAX_PATCHES = 1024

# How the converter types a tensor, in the order it decides (prepare_tensors):
_MATRIX = "matrix"  # the file type; Q8_0 falls back to F16 when a row is not whole 32-blocks
_F32 = "f32"  # 1-D tensors, norms, biases, position embeddings, forced-F32 embeddings
_F16 = "f16"  # forced F16 in every file type (Gemma 3's input projection, Whisper's convs)
_PATCH = "patch"  # MmprojModel.tensor_force_quant: F16 in an f16 file, F32 otherwise


@dataclass(frozen=True)
class MmprojTensor:
    name: str
    shape: tuple[int, ...]  # ggml order: the row length first
    type: str  # ggml type name, as in estimator.ggml.TYPES
    bytes: int


@dataclass(frozen=True)
class _Spec:
    name: str
    shape: tuple[int, ...]
    kind: str


def mmproj_tensors(raw_config: Mapping[str, Any], type: str) -> tuple[MmprojTensor, ...] | None:
    """Every tensor of the mmproj GGUF for file type ``type`` ("f16", "bf16", "q8_0"), or None
    when llama.cpp has no mmproj for this model or its converter cannot write that type."""
    if type not in FILE_TYPES:
        raise ValueError(f"mmproj file type must be one of {sorted(FILE_TYPES)}, got {type!r}")
    kind = _family(raw_config)
    if kind is None:
        return None
    if kind == "llava":
        if type != "f16":
            return None  # the legacy converter writes f16 (or f32) only
        specs = _llava(raw_config)
    else:
        builders = {"gemma3": _gemma3, "mistral3": _mistral3, "voxtral": _voxtral}
        specs = {**builders, "qwen3vl": _qwen3vl}[kind](raw_config)
    return tuple(_typed(s, FILE_TYPES[type]) for s in specs)


def mmproj_bytes(raw_config: Mapping[str, Any], type: str = "f16") -> int | None:
    """Tensor data bytes of the mmproj GGUF, or None (see mmproj_tensors). clip.cpp loads all of
    it but LLaVA-NeXT's 16 KiB image_newline; the file adds metadata and 32-byte padding."""
    tensors = mmproj_tensors(raw_config, type)
    return None if tensors is None else sum(t.bytes for t in tensors)


def mmproj_compute_bytes(raw_config: Mapping[str, Any]) -> int | None:
    """The encoder's compute buffer after its largest input, with flash attention (clip.cpp's
    default where the backend supports it), or None when llama.cpp has no mmproj for the model.

    An approximation: the buffer is ggml-alloc's high-water mark over the encoder graph and has
    no closed form. Each family's formula is the layout measured at its peak, in F32 activations
    of ``n_pos`` positions (``hidden`` = n_embd wide, ``ffn`` = n_ff wide):

    - ViT and Whisper layers with a GELU MLP (Gemma 3's SigLIP, Voxtral): the FFN of a layer,
      3 x hidden + ffn (measured: exact for Gemma 3 at 896 px and Voxtral at 30 s of audio).
    - LLaVA's CLIP: the larger of its FFN (the image + 4 x hidden + ffn) and its MLP projector
      (the image + 1 x hidden + 2 x n_patches x n_embd_text, the class token dropped), which is
      the peak (measured: both 544 bytes short).
    - Qwen3-VL / Qwen3.5 (not measured yet): the GELU MLP layout (3 x hidden + ffn) over the
      largest image llama.cpp accepts, 4,096 merged = 16,384 patches, plus the image.
    - Pixtral (Mistral Small 3.1): the SwiGLU FFN, the image + 3.5 x hidden + 3 x ffn, for the
      largest image llama.cpp accepts (measured: 0.25 % short at 896 px, 0.24 % at 448 px).
      llama.cpp warms up with a 448 px image; the buffer grows on the first larger image.

    Without flash attention each layer also holds n_head x n_pos x n_pos F32 scores.
    """
    kind = _family(raw_config)
    if kind is None:
        return None
    f32 = TYPES["F32"].block_bytes
    if kind == "voxtral":
        a = Config(raw_config["audio_config"])
        n_pos = a.get_int("max_source_positions")  # one 30 s window after the stride-2 conv
        return n_pos * f32 * (3 * a.get_int("hidden_size") + a.get_int("intermediate_size"))
    v = Config(raw_config["vision_config"])
    h, ff, patch = v.get_int("hidden_size"), v.get_int("intermediate_size"), v.get_int("patch_size")
    channels = v.get_int("num_channels", default=3)
    if kind == "qwen3vl":
        merge = v.get_int("spatial_merge_size", default=2)
        n_pos = QWEN3VL_MAX_TOKENS * merge * merge
        side = math.isqrt(n_pos) * patch
        image = side * side * v.get_int("in_channels", default=3) * f32
        return image + n_pos * f32 * (3 * h + ff)
    if kind == "mistral3":
        merge = Config(raw_config).get_int("spatial_merge_size", default=1)
        n_pos = PIXTRAL_MAX_PATCHES * merge * merge
        side = math.isqrt(n_pos) * patch
        image = side * side * channels * f32
        return image + n_pos * f32 * (7 * h // 2 + 3 * ff)
    n_patches = (v.get_int("image_size") // patch) ** 2
    if kind == "gemma3":
        return n_patches * f32 * (3 * h + ff)
    n_pos = n_patches + 1  # the class token
    image = v.get_int("image_size") ** 2 * channels * f32
    ffn_stage = image + n_pos * f32 * (4 * h + ff)
    projector = image + n_pos * f32 * h + 2 * n_patches * f32 * _text_hidden(raw_config)
    return max(ffn_stage, projector)


def image_tokens(raw_config: Mapping[str, Any]) -> int | None:
    """LM context positions one image takes in llama.cpp (embeddings plus the marker tokens
    mtmd adds around them), or None when llama.cpp cannot take images for this model.

    - Gemma 3: ``mm_tokens_per_image`` (256: 64 x 64 patches pooled 4 x 4) between
      <start_of_image> and <end_of_image>: 258.
    - LLaVA 1.5: 24 x 24 patches of the 336 px image: 576.
    - LLaVA-NeXT (1.6): one 576-token tile per cell of the best-fitting ``image_grid_pinpoints``
      grid plus the overview; the largest grid (672 x 672: 2 x 2) gives 5 x 576 = 2,880, which is
      what any image at least 672 px square costs.
    - Mistral Small 3.1 (Pixtral): a square image of at least 896 px, which llama.cpp scales to
      its 1,024-patch cap: 32 x 32 merged patches, an [IMG_BREAK] after each row but the last and
      [IMG_END]: 1,056. A non-square image costs up to one more token per extra row; Mistral's own
      processor (1540 px, 55 x 55) would give 3,080.
    - Qwen3-VL / Qwen3.5: one token per 2 x 2 merged 16 px patches, up to llama.cpp's cap of
      4,096 (an image of 2,048 px square or more), between <|vision_start|> and <|vision_end|>:
      4,098. A 1,024 px square image takes 1,024 + 2.
    """
    kind = _family(raw_config)
    if kind is None or kind == "voxtral":
        return None
    c = Config(raw_config)
    if kind == "gemma3":
        return c.get_int("mm_tokens_per_image", default=256) + 2
    if kind == "qwen3vl":
        return QWEN3VL_MAX_TOKENS + 2
    v = Config(raw_config["vision_config"])
    if kind == "mistral3":
        side = math.isqrt(PIXTRAL_MAX_PATCHES)
        return side * side + (side - 1) + 1
    tile = v.get_int("image_size")
    per_tile = (tile // v.get_int("patch_size")) ** 2
    pinpoints = _pinpoints(raw_config)
    if c.get_str("model_type") != "llava_next" or not pinpoints:
        return per_tile
    cells = max((w // tile) * (h // tile) for w, h in pinpoints)
    return (cells + 1) * per_tile


def _pinpoints(raw: Mapping[str, Any]) -> list[tuple[int, int]]:
    """LLaVA-NeXT's candidate resolutions, [[width, height], ...]."""
    value = raw.get("image_grid_pinpoints") or []
    pairs = []
    for item in value:
        ok = isinstance(item, Sequence) and len(item) == 2
        if not ok or not all(
            isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in item
        ):
            raise ConfigError(f"image_grid_pinpoints must be [width, height] pairs, got {item!r}")
        pairs.append((item[0], item[1]))
    return pairs


def _family(raw: Mapping[str, Any]) -> str | None:
    """Which converter rule set applies, or None where llama.cpp has no mmproj for the model."""
    model_type = raw.get("model_type")
    vision = raw.get("vision_config")
    vision_type = vision.get("model_type") if isinstance(vision, Mapping) else None
    if model_type == "gemma3" and vision_type == "siglip_vision_model":
        return "gemma3"
    if model_type in ("llava", "llava_next") and vision_type == "clip_vision_model":
        return "llava"
    if model_type == "mistral3" and vision_type == "pixtral":
        return "mistral3"
    if model_type == "voxtral" and isinstance(raw.get("audio_config"), Mapping):
        return "voxtral"
    if model_type in QWEN3VL_TYPES and vision_type is not None:
        return "qwen3vl"
    return None


def _text_hidden(raw: Mapping[str, Any]) -> int:
    return Config(text_config(raw)).get_int("hidden_size")


def _typed(spec: _Spec, matrix_type: str) -> MmprojTensor:
    if spec.kind == _F32:
        type_name = "F32"
    elif spec.kind == _F16:
        type_name = "F16"
    elif spec.kind == _PATCH:
        type_name = "F16" if matrix_type == "F16" else "F32"
    elif matrix_type == "Q8_0" and spec.shape[0] % TYPES["Q8_0"].block:
        type_name = "F16"  # gguf-py refuses a partial block; the converter retries in F16
    else:
        type_name = matrix_type
    rows = math.prod(spec.shape[1:])
    return MmprojTensor(
        spec.name, spec.shape, type_name, rows * TYPES[type_name].row_bytes(spec.shape[0])
    )


def _vit_layer(
    prefix: str, h: int, ff: int, *, biases: bool, gated: bool, fc: tuple[str, str] = ("up", "down")
) -> list[_Spec]:
    """One encoder layer: attention, two norms and the MLP (gated: gate, up, down). ``fc`` names
    the MLP's widening and narrowing matrices (the legacy LLaVA converter swaps them)."""
    up, down = (f"{prefix}.ffn_{n}" for n in fc)
    specs = [_Spec(f"{prefix}.attn_{p}.weight", (h, h), _MATRIX) for p in ("q", "k", "v", "out")]
    specs += [_Spec(f"{up}.weight", (h, ff), _MATRIX), _Spec(f"{down}.weight", (ff, h), _MATRIX)]
    if gated:
        specs += [_Spec(f"{prefix}.ffn_gate.weight", (h, ff), _MATRIX)]
    norms = ("ln1", "ln2")
    specs += [_Spec(f"{prefix}.{n}.weight", (h,), _F32) for n in norms]
    if biases:
        specs += [_Spec(f"{prefix}.{n}.bias", (h,), _F32) for n in norms]
        specs += [_Spec(f"{prefix}.attn_{p}.bias", (h,), _F32) for p in ("q", "k", "v", "out")]
        specs += [_Spec(f"{up}.bias", (ff,), _F32), _Spec(f"{down}.bias", (h,), _F32)]
    return specs


def _gemma3(raw: Mapping[str, Any]) -> list[_Spec]:
    """Gemma3VisionModel: SigLIP with every ``.embeddings.`` tensor forced to F32, all layers,
    the post-LayerNorm, and the projector (its input projection forced to F16)."""
    v = Config(raw["vision_config"])
    h, ff, patch = v.get_int("hidden_size"), v.get_int("intermediate_size"), v.get_int("patch_size")
    channels = v.get_int("num_channels", default=3)
    n_patches = (v.get_int("image_size") // patch) ** 2
    specs = [
        _Spec("v.patch_embd.weight", (patch, patch, channels, h), _F32),
        _Spec("v.patch_embd.bias", (h,), _F32),
        _Spec("v.position_embd.weight", (h, n_patches), _F32),
        _Spec("v.post_ln.weight", (h,), _F32),
        _Spec("v.post_ln.bias", (h,), _F32),
        _Spec("mm.input_projection.weight", (_text_hidden(raw), h), _F16),
        _Spec("mm.soft_emb_norm.weight", (h,), _F32),
    ]
    for i in range(v.get_int("num_hidden_layers")):
        specs += _vit_layer(f"v.blk.{i}", h, ff, biases=True, gated=False)
    return specs


def _mistral3(raw: Mapping[str, Any]) -> list[_Spec]:
    """LlavaVisionModel for a Pixtral tower: bias-free patch conv and layers (SwiGLU), RMSNorms,
    the spatial patch merger, the two-layer projector and the [IMG_BREAK] embedding.

    The 0.3.36 converter drops that embedding from Hugging Face checkpoints (it filters every
    ``language_model.`` tensor first; llama.cpp issue #24235) and clip.cpp then refuses the file:
    it is counted, as in the published files that load."""
    c = Config(raw)
    v = Config(raw["vision_config"])
    h, ff, patch = v.get_int("hidden_size"), v.get_int("intermediate_size"), v.get_int("patch_size")
    channels = v.get_int("num_channels", default=3)
    n_text = _text_hidden(raw)
    specs = [
        _Spec("v.patch_embd.weight", (patch, patch, channels, h), _PATCH),
        _Spec("v.pre_ln.weight", (h,), _F32),
        _Spec("v.token_embd.img_break", (n_text,), _F32),
        _Spec("mm.1.weight", (h, n_text), _MATRIX),
        _Spec("mm.2.weight", (n_text, n_text), _MATRIX),
    ]
    if c.get_bool("multimodal_projector_bias", default=True):
        specs += [_Spec("mm.1.bias", (n_text,), _F32), _Spec("mm.2.bias", (n_text,), _F32)]
    merge = c.get_int("spatial_merge_size", default=1)
    if merge > 1:
        specs += [
            _Spec("mm.input_norm.weight", (h,), _F32),
            _Spec("mm.patch_merger.weight", (h * merge * merge, h), _PATCH),
        ]
    for i in range(v.get_int("num_hidden_layers")):
        specs += _vit_layer(f"v.blk.{i}", h, ff, biases=False, gated=True)
    return specs


def _qwen3vl(raw: Mapping[str, Any]) -> list[_Spec]:
    """Qwen3VLVisionModel: the 3-D patch convolution split into two 2-D halves, learned position
    embeddings (F32), LayerNorm ViT layers with a fused QKV and a GELU MLP, the merger (post
    norm, two linears over 2 x 2 merged patches) and one more merger per deepstack layer."""
    v = Config(raw["vision_config"])
    h, ff, patch = v.get_int("hidden_size"), v.get_int("intermediate_size"), v.get_int("patch_size")
    channels = v.get_int("in_channels", default=3)
    merge = v.get_int("spatial_merge_size", default=2)
    merged, out = h * merge * merge, v.get_int("out_hidden_size")
    specs = [
        _Spec("v.patch_embd.weight", (patch, patch, channels, h), _PATCH),
        _Spec("v.patch_embd.weight.1", (patch, patch, channels, h), _PATCH),
        _Spec("v.patch_embd.bias", (h,), _F32),
        _Spec("v.position_embd.weight", (h, v.get_int("num_position_embeddings")), _F32),
        _Spec("v.post_ln.weight", (h,), _F32),
        _Spec("v.post_ln.bias", (h,), _F32),
    ]
    for prefix in ["mm"] + [
        f"v.deepstack.{i}" for i in v.int_list("deepstack_visual_indexes") or []
    ]:
        first, second = ("mm.0", "mm.2") if prefix == "mm" else (f"{prefix}.fc1", f"{prefix}.fc2")
        specs += [
            _Spec(f"{first}.weight", (merged, merged), _MATRIX),
            _Spec(f"{first}.bias", (merged,), _F32),
            _Spec(f"{second}.weight", (merged, out), _MATRIX),
            _Spec(f"{second}.bias", (out,), _F32),
        ]
        if prefix != "mm":
            specs += [_Spec(f"{prefix}.norm.weight", (merged,), _F32)]
            specs += [_Spec(f"{prefix}.norm.bias", (merged,), _F32)]
    for i in range(v.get_int("depth")):
        p = f"v.blk.{i}"
        specs += [
            _Spec(f"{p}.attn_qkv.weight", (h, 3 * h), _MATRIX),
            _Spec(f"{p}.attn_qkv.bias", (3 * h,), _F32),
            _Spec(f"{p}.attn_out.weight", (h, h), _MATRIX),
            _Spec(f"{p}.attn_out.bias", (h,), _F32),
            _Spec(f"{p}.ffn_up.weight", (h, ff), _MATRIX),
            _Spec(f"{p}.ffn_up.bias", (ff,), _F32),
            _Spec(f"{p}.ffn_down.weight", (ff, h), _MATRIX),
            _Spec(f"{p}.ffn_down.bias", (h,), _F32),
        ]
        specs += [
            _Spec(f"{p}.{n}.{w}", (h,), _F32) for n in ("ln1", "ln2") for w in ("weight", "bias")
        ]
    return specs


def _voxtral(raw: Mapping[str, Any]) -> list[_Spec]:
    """VoxtralWhisperEncoderModel: Whisper's two convs (weights forced to F16, biases F32), its
    position table, layers whose K projection has no bias, and the bias-free projector that
    takes frames stacked 4 at a time (intermediate_size wide)."""
    a = Config(raw["audio_config"])
    h, ff = a.get_int("hidden_size"), a.get_int("intermediate_size")
    n_text = _text_hidden(raw)
    specs = [
        _Spec("a.conv1d.1.weight", (3, a.get_int("num_mel_bins"), h), _F16),
        _Spec("a.conv1d.1.bias", (1, h), _F32),
        _Spec("a.conv1d.2.weight", (3, h, h), _F16),
        _Spec("a.conv1d.2.bias", (1, h), _F32),
        _Spec("a.position_embd.weight", (h, a.get_int("max_source_positions")), _F32),
        _Spec("a.post_ln.weight", (h,), _F32),
        _Spec("a.post_ln.bias", (h,), _F32),
        _Spec("mm.a.mlp.1.weight", (ff, n_text), _MATRIX),
        _Spec("mm.a.mlp.2.weight", (n_text, n_text), _MATRIX),
    ]
    for i in range(a.get_int("num_hidden_layers")):
        layer = _vit_layer(f"a.blk.{i}", h, ff, biases=True, gated=False)
        specs += [s for s in layer if not s.name.endswith(".attn_k.bias")]
    return specs


def _llava(raw: Mapping[str, Any]) -> list[_Spec]:
    """convert_image_encoder_to_gguf.py --llava-projector: the CLIP tower without its last layer
    (or up to ``vision_feature_layer``) and post-LayerNorm, 4-D and 2-D weights in F16, the
    rest in F32; the MLP projector; LLaVA-NeXT's image_newline (written, not loaded)."""
    c = Config(raw)
    v = Config(raw["vision_config"])
    h, ff, patch = v.get_int("hidden_size"), v.get_int("intermediate_size"), v.get_int("patch_size")
    channels = v.get_int("num_channels", default=3)
    n_text = _text_hidden(raw)
    n_layers = v.get_int("num_hidden_layers")
    layers = _feature_layers(raw)
    kept = (
        n_layers - 1 if layers is None else max(x if x >= 0 else n_layers + x + 1 for x in layers)
    )
    n_pos = (v.get_int("image_size") // patch) ** 2 + 1
    specs = [
        _Spec("v.class_embd", (h,), _F32),
        _Spec("v.patch_embd.weight", (patch, patch, channels, h), _F16),
        _Spec("v.position_embd.weight", (h, n_pos), _MATRIX),
        _Spec("v.pre_ln.weight", (h,), _F32),
        _Spec("v.pre_ln.bias", (h,), _F32),
        _Spec("mm.0.weight", (h, n_text), _MATRIX),
        _Spec("mm.0.bias", (n_text,), _F32),
        _Spec("mm.2.weight", (n_text, n_text), _MATRIX),
        _Spec("mm.2.bias", (n_text,), _F32),
    ]
    if c.get_str("model_type") == "llava_next":
        specs += [_Spec("model.image_newline", (n_text,), _F32)]
    for i in range(kept):
        specs += _vit_layer(f"v.blk.{i}", h, ff, biases=True, gated=False, fc=("down", "up"))
    return specs


def _feature_layers(raw: Mapping[str, Any]) -> list[int] | None:
    """LLaVA's ``vision_feature_layer``: one index or a list, negative ones counted from the end."""
    value = raw.get("vision_feature_layer")
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    return Config(raw).int_list("vision_feature_layer") or None
