"""The mmproj file, its compute buffer and image tokens, for every multimodal model in the catalog.

The reference numbers come from llama.cpp itself (llama-cpp-python 0.3.36's vendored source), run on
zero-weight checkpoints in the real shapes, built from these very catalog configs:
- tensor bytes: ``convert_hf_to_gguf.py --mmproj --outtype f16|q8_0|bf16`` (Gemma 3, Mistral Small
  3.1, Voxtral) and ``tools/mtmd/legacy-models/convert_image_encoder_to_gguf.py --llava-projector
  --clip-model-is-vision`` (LLaVA 1.5 and 1.6, transformers 4.57 as its requirements pin), read
  back tensor by tensor with gguf-py; clip.cpp logs the same sums as "model size" (e.g. 811.79 MiB).
- compute bytes: clip.cpp's CPU compute buffer (flash attention on), as the high-water mark of the
  graph's tensors while mtmd encodes the largest input (896 px for Gemma 3 and Mistral Small, 336 px
  tiles for LLaVA, 30 s of audio for Voxtral); it equals the "compute buffer size" clip.cpp logs
  after warmup wherever warmup uses the largest input.
- image tokens: the chunks ``mtmd_tokenize`` returns for such an image.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from estimator.mmproj import (
    image_tokens,
    mmproj_bytes,
    mmproj_compute_bytes,
    mmproj_tensors,
)

PROVIDERS = Path(__file__).resolve().parents[2] / "catalog" / "data" / "providers"


def _catalog() -> dict[str, dict[str, Any]]:
    models: dict[str, dict[str, Any]] = {}
    for path in sorted(PROVIDERS.glob("*.toml")):
        with path.open("rb") as f:
            for model in tomllib.load(f).get("models", []):
                models[model["hf_id"]] = model
    return models


CATALOG = _catalog()


def config(hf_id: str) -> dict[str, Any]:
    return dict(CATALOG[hf_id]["config"])


# hf_id: (f16, q8_0, bf16 tensor bytes, tensors in the file, compute bytes measured, image tokens)
LLAMA_CPP = {
    "google/gemma-3-4b-it": (851_226_048, 591_352_128, 851_226_048, 439, 127_139_840, 258),
    "google/gemma-3-12b-it": (854_175_168, 594_301_248, 854_175_168, 439, 127_139_840, 258),
    "google/gemma-3-27b-it": (857_714_112, 597_840_192, 857_714_112, 439, 127_139_840, 258),
    "mistralai/Mistral-Small-3.1-24B-Instruct-2503": (
        878_039_040,
        480_653_312,
        887_631_872,
        223,
        270_368_768,
        1056,
    ),
    "mistralai/Voxtral-Mini-3B-2507": (
        1_329_102_848,
        715_685_888,
        1_329_102_848,
        489,
        53_760_000,
        None,
    ),
    "llava-hf/llava-1.5-7b-hf": (624_412_672, None, None, 377, 22_593_056, 576),
    "llava-hf/llava-v1.6-mistral-7b-hf": (624_429_056, None, None, 378, 22_593_056, 2880),
    # Qwen3.5 and Qwen3-VL: one of each tower layout (no deepstack, three deepstack mergers);
    # their compute buffer is not measured yet.
    "Qwen/Qwen3.5-0.8B": (204_977_152, 115_913_728, 207_336_448, 154, None, 4098),
    "Qwen/Qwen3-VL-4B-Instruct": (836_161_536, 453_955_584, 839_307_264, 316, None, 4098),
}
NO_MMPROJ = {"microsoft/Phi-3.5-vision-instruct", "microsoft/Phi-4-multimodal-instruct"}


# Architectures whose encoder llama.cpp loads but whose mmproj we do not size yet: their pages
# show the encoder as unknown rather than a guess.
NOT_SIZED_YET = {
    "gemma3n",
    "gemma4",
    "llama4",
    "kimi_k25",
    "glm4v_moe",
    "glm4v",
    "lfm2_vl",
    "mistral3",  # Ministral 3 / Devstral 2 towers that are not the Pixtral layout sized above
}


def test_every_multimodal_catalog_model_has_its_mmproj_decided() -> None:
    """Sized (and the sizing checked against the converter for one model of each layout), known
    to have no llama.cpp mmproj, or listed by architecture as not sized yet."""
    for hf_id, m in CATALOG.items():
        if not (m.get("encoders") or {"vision_config", "audio_config"} & set(m.get("config", {}))):
            continue
        if mmproj_tensors(config(hf_id), "f16") is not None or hf_id in NO_MMPROJ:
            continue
        assert m["config"].get("model_type") in NOT_SIZED_YET, hf_id


def test_every_measured_model_is_in_the_catalog() -> None:
    assert set(LLAMA_CPP) | NO_MMPROJ <= set(CATALOG)


@pytest.mark.parametrize("hf_id", sorted(LLAMA_CPP))
@pytest.mark.parametrize("index, file_type", [(0, "f16"), (1, "q8_0"), (2, "bf16")])
def test_mmproj_bytes_equal_what_llama_cpp_converters_write(
    hf_id: str, index: int, file_type: str
) -> None:
    assert mmproj_bytes(config(hf_id), file_type) == LLAMA_CPP[hf_id][index]


@pytest.mark.parametrize("hf_id", sorted(LLAMA_CPP))
def test_mmproj_has_as_many_tensors_as_the_converted_file(hf_id: str) -> None:
    tensors = mmproj_tensors(config(hf_id), "f16")
    assert tensors is not None
    assert len(tensors) == LLAMA_CPP[hf_id][3]
    assert len({t.name for t in tensors}) == len(tensors)


def _bytes_by_type(hf_id: str, file_type: str) -> dict[str, int]:
    tensors = mmproj_tensors(config(hf_id), file_type)
    assert tensors is not None
    totals: dict[str, int] = {}
    for t in tensors:
        totals[t.type] = totals.get(t.type, 0) + t.bytes
    return totals


def test_gemma_3_q8_0_keeps_ffn_down_in_f16_because_4304_is_not_whole_32_blocks() -> None:
    assert _bytes_by_type("google/gemma-3-4b-it", "q8_0") == {
        "F32": 23_186_880,  # .embeddings. (patch conv, position table), norms, biases
        "F16": 273_641_472,  # 27 ffn_down (4304-long rows) + the forced-F16 input projection
        "Q8_0": 294_523_776,
    }
    tensors = {t.name: t for t in mmproj_tensors(config("google/gemma-3-4b-it"), "q8_0") or ()}
    assert tensors["v.blk.0.ffn_down.weight"].type == "F16"
    assert tensors["v.blk.0.ffn_up.weight"].type == "Q8_0"
    assert tensors["v.patch_embd.weight"].type == "F32"
    assert tensors["mm.input_projection.weight"].shape == (2560, 1152)


def test_gemma_3_bf16_keeps_the_input_projection_in_f16() -> None:
    assert _bytes_by_type("google/gemma-3-27b-it", "bf16") == {
        "F32": 23_186_880,
        "F16": 12_386_304,  # 5376 x 1152 x 2
        "BF16": 822_140_928,
    }


def test_pixtral_patch_conv_and_merger_are_f16_only_in_an_f16_file() -> None:
    hf_id = "mistralai/Mistral-Small-3.1-24B-Instruct-2503"
    assert _bytes_by_type(hf_id, "f16") == {"F16": 877_813_760, "F32": 225_280}
    assert _bytes_by_type(hf_id, "q8_0") == {"Q8_0": 461_242_368, "F32": 19_410_944}
    tensors = {t.name: t for t in mmproj_tensors(config(hf_id), "q8_0") or ()}
    assert tensors["mm.patch_merger.weight"].bytes == 4096 * 1024 * 4
    assert tensors["v.token_embd.img_break"].bytes == 5120 * 4


def test_voxtral_convs_stay_f16_in_every_file_type() -> None:
    assert _bytes_by_type("mistralai/Voxtral-Mini-3B-2507", "q8_0") == {
        "F32": 9_666_560,  # 1500 x 1280 position table, norms, biases
        "F16": 10_813_440,  # conv1 3 x 128 x 1280 + conv2 3 x 1280 x 1280
        "Q8_0": 695_205_888,
    }


def test_llava_drops_the_last_clip_layer_and_the_legacy_converter_writes_only_f16() -> None:
    tensors = mmproj_tensors(config("llava-hf/llava-1.5-7b-hf"), "f16") or ()
    layers = {t.name.split(".")[2] for t in tensors if t.name.startswith("v.blk.")}
    assert layers == {str(i) for i in range(23)}
    assert mmproj_bytes(config("llava-hf/llava-1.5-7b-hf"), "q8_0") is None


def test_llava_next_adds_only_the_image_newline_row_to_llava_1_5() -> None:
    v15 = mmproj_tensors(config("llava-hf/llava-1.5-7b-hf"), "f16") or ()
    v16 = mmproj_tensors(config("llava-hf/llava-v1.6-mistral-7b-hf"), "f16") or ()
    added = set(v16) - set(v15)
    assert [(t.name, t.type, t.bytes) for t in added] == [("model.image_newline", "F32", 4096 * 4)]


@pytest.mark.parametrize("hf_id", sorted(NO_MMPROJ))
def test_models_llama_cpp_has_no_mmproj_for_get_none(hf_id: str) -> None:
    raw = config(hf_id)
    assert mmproj_bytes(raw) is None
    assert mmproj_compute_bytes(raw) is None
    assert image_tokens(raw) is None


def test_a_text_only_model_has_no_mmproj() -> None:
    assert mmproj_bytes(config("mistralai/Mistral-7B-v0.1")) is None
    assert mmproj_compute_bytes(config("mistralai/Mistral-7B-v0.1")) is None


def test_an_unknown_file_type_is_refused() -> None:
    with pytest.raises(ValueError, match="q4_k"):
        mmproj_bytes(config("google/gemma-3-4b-it"), "q4_k")


@pytest.mark.parametrize(
    "hf_id, tolerance",
    [
        ("google/gemma-3-4b-it", 0),
        ("google/gemma-3-12b-it", 0),
        ("google/gemma-3-27b-it", 0),
        ("mistralai/Voxtral-Mini-3B-2507", 0),
        ("llava-hf/llava-1.5-7b-hf", 544),
        ("llava-hf/llava-v1.6-mistral-7b-hf", 544),
        ("mistralai/Mistral-Small-3.1-24B-Instruct-2503", 688_128),  # 0.25 %
    ],
)
def test_compute_bytes_are_within_the_measured_clip_buffer(hf_id: str, tolerance: int) -> None:
    estimate = mmproj_compute_bytes(config(hf_id))
    assert estimate is not None
    measured = LLAMA_CPP[hf_id][4]
    assert measured - tolerance <= estimate <= measured


def test_mistral_small_compute_is_for_its_largest_image_not_the_448_px_warmup() -> None:
    # clip.cpp warms up with 256 merged patches (64.62 MiB); a 1,024-patch image needs 4x that.
    compute = mmproj_compute_bytes(config("mistralai/Mistral-Small-3.1-24B-Instruct-2503"))
    assert compute == 896 * 896 * 3 * 4 + 4096 * 4 * (1024 * 7 // 2 + 3 * 4096)


@pytest.mark.parametrize("hf_id", sorted(LLAMA_CPP))
def test_image_tokens_are_what_mtmd_puts_in_the_context(hf_id: str) -> None:
    assert image_tokens(config(hf_id)) == LLAMA_CPP[hf_id][5]


def test_gemma_3_image_is_its_256_soft_tokens_between_two_markers() -> None:
    raw = config("google/gemma-3-4b-it")
    assert raw["mm_tokens_per_image"] == 256
    assert image_tokens(raw) == 256 + 2
