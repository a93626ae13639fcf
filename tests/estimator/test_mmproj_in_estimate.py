"""The multimodal encoder (mmproj) in the memory total, the plan and the API."""

from __future__ import annotations

import pytest
from django.test import Client

from estimator.devices import from_figures
from estimator.estimate import estimate
from estimator.machine import FIT_MARGIN, machine_for
from estimator.memory import MemoryOptions, config_key, estimate_memory
from estimator.plan import make_plan
from tests.estimator.test_placement import catalog_config

GEMMA_4B = catalog_config("google", "google/gemma-3-4b-it")
LLAVA = catalog_config("llava", "llava-hf/llava-1.5-7b-hf")
# mmproj-model-f16.gguf of gemma-3-4b-it: tensor bytes as convert_hf_to_gguf writes them, and
# clip.cpp's compute buffer for an 896 px image (tests/estimator/test_mmproj.py)
GEMMA_MMPROJ_F16 = 851_226_048
GEMMA_MMPROJ_Q8 = 591_352_128
GEMMA_MMPROJ_COMPUTE = 127_139_840


def test_the_encoder_adds_its_file_and_compute_buffer_to_the_total() -> None:
    plain = estimate_memory(GEMMA_4B, MemoryOptions())
    with_images = estimate_memory(GEMMA_4B, MemoryOptions(mmproj="f16"))
    assert (with_images.mmproj_bytes, with_images.mmproj_compute_bytes) == (
        GEMMA_MMPROJ_F16,
        GEMMA_MMPROJ_COMPUTE,
    )
    assert with_images.total_bytes - plain.total_bytes == GEMMA_MMPROJ_F16 + GEMMA_MMPROJ_COMPUTE
    q8 = estimate_memory(GEMMA_4B, MemoryOptions(mmproj="q8_0"))
    assert q8.mmproj_bytes == GEMMA_MMPROJ_Q8


def test_the_report_states_the_encoder_and_the_tokens_an_image_takes() -> None:
    report = estimate(GEMMA_4B, MemoryOptions(mmproj="f16")).as_dict()
    assert report["mmproj_bytes"] == GEMMA_MMPROJ_F16
    assert report["image_tokens"] == 258  # 256 embeddings + <start_of_image>, <end_of_image>
    assert report["options"]["mmproj"] == "f16"


def test_a_file_type_the_converter_cannot_write_falls_back_to_f16_with_a_note() -> None:
    est = estimate_memory(LLAVA, MemoryOptions(mmproj="q8_0"))
    assert est.mmproj_bytes == 624_412_672  # the legacy CLIP converter writes F16 only
    assert any("no q8_0 mmproj" in n for n in est.notes)


def test_a_text_model_has_no_encoder_and_says_so() -> None:
    llama = catalog_config("meta", "meta-llama/Llama-3.1-8B-Instruct")
    est = estimate_memory(llama, MemoryOptions(mmproj="f16"))
    assert est.mmproj_bytes == 0 and est.mmproj_compute_bytes == 0
    assert any("no image/audio encoder" in n for n in est.notes)


def test_the_plan_keeps_the_encoder_on_the_first_gpu_within_the_fit_margin() -> None:
    """llama-server adds the encoder's memory to --fit's target for the GPU it loads on."""
    gpu = from_figures(8, 272.0, None, "nvidia")
    machine = machine_for(gpu)
    key = config_key(GEMMA_4B)
    opts = MemoryOptions(file_type="F16", n_ctx=32768)
    plain = make_plan(key, opts, machine)
    with_images = make_plan(key, MemoryOptions(file_type="F16", n_ctx=32768, mmproj="f16"), machine)
    encoder = GEMMA_MMPROJ_F16 + GEMMA_MMPROJ_COMPUTE
    assert with_images.mmproj_bytes == encoder and plain.mmproj_bytes == 0
    free = machine.gpu_free()
    for p, extra in ((plain, 0), (with_images, encoder)):
        assert p.fits
        assert p.layout.devices[0].total + extra <= free - FIT_MARGIN
    # room for the encoder comes out of the model's layers
    assert sum(u.layers for u in with_images.layout.devices) < sum(
        u.layers for u in plain.layout.devices
    )


@pytest.mark.django_db
def test_the_api_answers_with_the_encoder(client: Client) -> None:
    r = client.get(
        "/api/v1/estimate", {"model": "gemma-3-4b-it", "mmproj": "f16", "gpu": "rtx-4090"}
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["mmproj_bytes"] == GEMMA_MMPROJ_F16
    assert body["plan"]["mmproj_bytes"] == GEMMA_MMPROJ_F16 + GEMMA_MMPROJ_COMPUTE
